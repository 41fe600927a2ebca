package disk

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/casstore/casstore/cas"
)

// TempPrefix starts the name of every temporary file the backend writes.
const TempPrefix = ".casstore-tmp-"

// Backend stores blobs in a directory tree.
type Backend struct {
	root string
}

var _ cas.Backend = (*Backend)(nil)

// New returns a backend rooted at dir (made absolute). The directory is
// created on the first Put.
func New(dir string) (*Backend, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	return &Backend{root: abs}, nil
}

// Root returns the store's directory.
func (b *Backend) Root() string { return b.root }

// Location implements cas.Backend: "file://" and the absolute directory.
func (b *Backend) Location() string { return "file://" + filepath.ToSlash(b.root) }

// String describes the backend for messages.
func (b *Backend) String() string { return b.Location() }

// Path returns the file that holds (or would hold) the blob d. It is the one
// place that knows the layout.
func (b *Backend) Path(d cas.Digest) string {
	h := d.String()
	return filepath.Join(b.root, h[:3], h[3:6], h[6:])
}

// parseName returns the digest that a path relative to the root names, if
// it follows the layout.
func parseName(rel string) (cas.Digest, bool) {
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if len(parts) != 3 || len(parts[0]) != 3 || len(parts[1]) != 3 {
		return cas.Digest{}, false
	}
	d, err := cas.Parse(parts[0] + parts[1] + parts[2])
	return d, err == nil
}

// Put implements cas.Backend. The bytes are hashed again as they are
// copied, so a source that changed since it was hashed is refused
// (ErrCorrupt) and nothing is stored.
func (b *Backend) Put(ctx context.Context, src cas.Source, opts cas.PutOptions) (bool, error) {
	final := b.Path(src.Digest)
	if stored, err := b.existing(final, src); err == nil || !errors.Is(err, cas.ErrNotFound) {
		return stored, err
	}
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("disk: put %s: %w", src.Digest.Short(), mapErr(err))
	}
	tmp, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return false, fmt.Errorf("disk: put %s: %w", src.Digest.Short(), mapErr(err))
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after the link, only the temporary name goes

	if err := writeVerified(ctx, tmp, src); err != nil {
		tmp.Close()
		return false, fmt.Errorf("disk: put %s: %w", src.Digest.Short(), err)
	}
	if err := tmp.Chmod(0o444); err != nil {
		tmp.Close()
		return false, fmt.Errorf("disk: put %s: %w", src.Digest.Short(), mapErr(err))
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("disk: put %s: %w", src.Digest.Short(), mapErr(err))
	}
	if err := os.Link(tmpName, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another writer won the race: its copy stands.
			return b.existing(final, src)
		}
		return false, fmt.Errorf("disk: put %s: %w", src.Digest.Short(), mapErr(err))
	}
	if err := syncDir(dir); err != nil {
		return false, fmt.Errorf("disk: put %s: sync directory: %w", src.Digest.Short(), err)
	}
	return true, nil
}

// existing checks a blob file already in place: same size means stored
// (false, nil); another size is ErrConflict; no file is ErrNotFound.
func (b *Backend) existing(path string, src cas.Source) (bool, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return false, fmt.Errorf("disk: %w", mapErr(err))
	}
	if !fi.Mode().IsRegular() || fi.Size() != src.Size {
		return false, fmt.Errorf("disk: put %s: %s holds %d bytes, not %d; left untouched: %w",
			src.Digest.Short(), path, fi.Size(), src.Size, cas.ErrConflict)
	}
	if fi.Mode().Perm()&0o222 != 0 {
		// Not one of ours (ours are read-only, synced before they are
		// linked): Request Tracker writes in place, and a crash can leave
		// a full-length file of zeros. Trust it only once it hashes right.
		if got, err := hashFile(path); err != nil || got != src.Digest {
			return false, fmt.Errorf("disk: put %s: %s (written by another tool) does not hold the blob; left untouched: %w",
				src.Digest.Short(), path, cas.ErrConflict)
		}
	}
	return false, nil
}

// hashFile returns the SHA-256 of the file at path.
func hashFile(path string) (cas.Digest, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return cas.Digest{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return cas.Digest{}, err
	}
	return cas.Digest(h.Sum(nil)), nil
}

// writeVerified copies src into f while hashing it, then syncs f.
func writeVerified(ctx context.Context, f *os.File, src cas.Source) error {
	h := sha256.New()
	r := io.NewSectionReader(src.R, 0, src.Size)
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := r.Read(buf)
		if m > 0 {
			h.Write(buf[:m])
			if _, werr := f.Write(buf[:m]); werr != nil {
				return mapErr(werr)
			}
			n += int64(m)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if got := cas.Digest(h.Sum(nil)); n != src.Size || got != src.Digest {
		return fmt.Errorf("source changed since it was hashed (%d bytes hashing to %s): %w", n, got.Short(), cas.ErrCorrupt)
	}
	return mapErr(f.Sync())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open implements cas.Backend.
func (b *Backend) Open(ctx context.Context, d cas.Digest, offset, length int64) (io.ReadCloser, cas.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, cas.Info{}, err
	}
	// A blob is a file, never a link to one: a planted symlink is refused.
	f, err := os.OpenFile(b.Path(d), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, cas.Info{}, errSymlink("open", d)
	}
	if err != nil {
		return nil, cas.Info{}, fmt.Errorf("disk: open %s: %w", d.Short(), mapErr(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, cas.Info{}, fmt.Errorf("disk: open %s: %w", d.Short(), mapErr(err))
	}
	info := cas.Info{Size: fi.Size(), ModTime: fi.ModTime()}
	if offset == 0 && length < 0 {
		return f, info, nil
	}
	if length < 0 {
		length = fi.Size() - offset
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, offset, length), f}, info, nil
}

// Stat implements cas.Backend.
func (b *Backend) Stat(ctx context.Context, d cas.Digest) (cas.Info, error) {
	if err := ctx.Err(); err != nil {
		return cas.Info{}, err
	}
	fi, err := os.Lstat(b.Path(d))
	if err != nil {
		return cas.Info{}, fmt.Errorf("disk: stat %s: %w", d.Short(), mapErr(err))
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return cas.Info{}, errSymlink("stat", d) // as Open sees it
	}
	return cas.Info{Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// errSymlink reports a symbolic link where blob d's file should be: its
// target is not a blob this store wrote, so it is never read as one.
func errSymlink(op string, d cas.Digest) error {
	return fmt.Errorf("disk: %s %s: a symbolic link, not a blob file (remove it and put the blob again): %w", op, d.Short(), cas.ErrCorrupt)
}

// Walk implements cas.Backend. Directories are not reported; every file
// is, with Valid false for names that do not follow the layout (temporary
// files left by a crash among them).
func (b *Backend) Walk(ctx context.Context, fn func(cas.Entry) error) error {
	return b.walk(ctx, func(e cas.Entry, _ fs.FileInfo) error { return fn(e) })
}

// walk is Walk that also hands fn the file's FileInfo, nil when the file
// vanished before it could be read (a put's temporary file).
func (b *Backend) walk(ctx context.Context, fn func(cas.Entry, fs.FileInfo) error) error {
	if _, err := os.Stat(b.root); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("disk: walk: %s: %w", b.root, cas.ErrNoBucket)
		}
		return fmt.Errorf("disk: walk: %w", mapErr(err))
	}
	return filepath.WalkDir(b.root, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("disk: walk: %w", mapErr(err))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if de.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(b.root, path)
		if err != nil {
			return err
		}
		e := cas.Entry{Name: filepath.ToSlash(rel)}
		fi, err := de.Info()
		if err == nil {
			e.Size = fi.Size()
		} else {
			fi = nil
		}
		e.Digest, e.Valid = parseName(rel)
		e.Valid = e.Valid && de.Type().IsRegular()
		e.Leftover = strings.HasPrefix(de.Name(), TempPrefix)
		return fn(e, fi)
	})
}

// mapErr maps file system errors onto the cas sentinels, keeping the
// original error (with its path) in the chain.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", cas.ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w: %w", cas.ErrAccessDenied, err)
	}
	return err
}
