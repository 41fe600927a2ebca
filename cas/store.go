package cas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// Store puts, reads and stats blobs on a Backend, hashing what goes in and
// verifying what comes out. With an Index attached it also records which
// transactions a blob belongs to, always after the blob is stored, so the
// index never points at a blob that is not there. A Store is safe for
// concurrent use.
type Store struct {
	backend Backend
	index   Index
	tempDir string
}

// Option configures a Store.
type Option func(*Store)

// WithIndex attaches a transaction index: Put consults it before any
// network round trip and Attach records rows in it.
func WithIndex(ix Index) Option { return func(s *Store) { s.index = ix } }

// WithTempDir sets where streamed input is spooled while it is hashed
// (default os.TempDir()).
func WithTempDir(dir string) Option { return func(s *Store) { s.tempDir = dir } }

// New returns a Store over b.
func New(b Backend, opts ...Option) *Store {
	s := &Store{backend: b}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Backend returns the store's backend, for optional abilities found by type
// assertion (direct links, say).
func (s *Store) Backend() Backend { return s.backend }

// Index returns the attached index, or nil.
func (s *Store) Index() Index { return s.index }

// PutResult says what a put did.
type PutResult struct {
	Digest Digest `json:"digest"`
	Size   int64  `json:"size"`
	// New is true when this put stored the blob; false when it was already
	// there and nothing was uploaded.
	New bool `json:"new"`
}

// PutFile stores the content of the file at path.
func (s *Store) PutFile(ctx context.Context, path string, opts PutOptions) (PutResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return PutResult{}, fmt.Errorf("put: %w", err)
	}
	defer f.Close()
	return s.Put(ctx, f, opts)
}

// Put stores everything r yields. A regular *os.File is hashed in place and
// uploaded from the file; any other reader is spooled to a temporary file
// while it is hashed, so memory stays flat whatever the size. Putting bytes
// that are already stored uploads nothing and returns New false.
func (s *Store) Put(ctx context.Context, r io.Reader, opts PutOptions) (PutResult, error) {
	src, cleanup, err := s.hash(ctx, r, opts.Progress)
	if err != nil {
		return PutResult{}, fmt.Errorf("put: %w", err)
	}
	defer cleanup()
	return s.PutSource(ctx, src, opts)
}

// PutSource stores an already hashed source. The index, when attached, is
// asked first: a blob it knows is not uploaded again.
func (s *Store) PutSource(ctx context.Context, src Source, opts PutOptions) (PutResult, error) {
	res := PutResult{Digest: src.Digest, Size: src.Size}
	if s.index != nil && !opts.CheckStore {
		if size, ok, err := s.index.LookupBlob(ctx, src.Digest); err == nil && ok && size == src.Size {
			return res, nil
		}
	}
	if opts.Progress != nil {
		src.R = countingReaderAt{src.R, opts.Progress}
	}
	stored, err := s.backend.Put(ctx, src, opts)
	if err != nil {
		return PutResult{}, fmt.Errorf("put %s: %w", src.Digest.Short(), err)
	}
	res.New = stored
	return res, nil
}

// Hash computes the digest of r (and the part digests the backend wants)
// and returns a Source ready for PutSource. cleanup releases the spool file,
// if one was made; call it when done with the Source.
func (s *Store) Hash(ctx context.Context, r io.Reader) (src Source, cleanup func(), err error) {
	return s.hash(ctx, r, nil)
}

func (s *Store) partSize(size int64) int64 {
	if p, ok := s.backend.(Parter); ok {
		return p.PartSize(size)
	}
	return 0
}

func (s *Store) hash(ctx context.Context, r io.Reader, progress func(int64)) (Source, func(), error) {
	noop := func() {}
	if f, ok := r.(*os.File); ok {
		src, ok, err := s.hashInPlace(ctx, f, progress)
		if err != nil {
			return Source{}, noop, err
		}
		if ok {
			return src, noop, nil
		}
	}
	if progress != nil {
		r = countingReader{r, progress}
	}
	return s.spool(ctx, r)
}

// hashInPlace hashes a regular file from its current offset to its end and
// returns a Source reading the file itself. ok is false, with f back at its
// offset, when f is not a regular file or its content is not its stated
// size: the caller spools it instead.
func (s *Store) hashInPlace(ctx context.Context, f *os.File, progress func(int64)) (src Source, ok bool, err error) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return Source{}, false, nil
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return Source{}, false, err
	}
	size := fi.Size() - pos
	part := s.partSize(size)
	var in io.Reader = io.NewSectionReader(f, pos, size)
	if progress != nil {
		in = countingReader{in, progress}
	}
	res, err := hashStream(ctx, in, part, nil)
	if err != nil {
		return Source{}, false, err
	}
	var probe [1]byte
	if n, _ := f.ReadAt(probe[:], pos+size); res.size == size && n == 0 {
		return Source{R: io.NewSectionReader(f, pos, size), Size: size, Digest: res.digest, PartSize: part, Parts: res.parts}, true, nil
	}
	// The file's stated size is not its content's (a /proc or sysfs file),
	// or it changed while read: spool what it holds.
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		return Source{}, false, err
	}
	return Source{}, false, nil
}

// spool copies r into a temporary file while hashing it. The part digests
// need the final size to pick a part size, so a spooled blob is hashed in
// parts by a second pass only when the backend uploads it in parts.
func (s *Store) spool(ctx context.Context, r io.Reader) (Source, func(), error) {
	f, err := os.CreateTemp(s.tempDir, "casstore-spool-*")
	if err != nil {
		return Source{}, func() {}, fmt.Errorf("spool: %w", err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	res, err := hashStream(ctx, r, 0, f)
	if err != nil {
		cleanup()
		return Source{}, func() {}, err
	}
	src := Source{R: f, Size: res.size, Digest: res.digest}
	if part := s.partSize(res.size); part > 0 {
		// The spool file is ours alone, so it cannot change under us; the
		// part pass reads it back from the page cache.
		pres, err := hashStream(ctx, io.NewSectionReader(f, 0, res.size), part, nil)
		if err != nil {
			cleanup()
			return Source{}, func() {}, err
		}
		if pres.digest != res.digest {
			cleanup()
			return Source{}, func() {}, fmt.Errorf("spool file changed: %w", ErrCorrupt)
		}
		src.PartSize, src.Parts = part, pres.parts
	}
	return src, cleanup, nil
}

// Open returns a verifying reader over the blob: see Reader.
func (s *Store) Open(ctx context.Context, d Digest) (*Reader, error) {
	rc, info, err := s.backend.Open(ctx, d, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", d.Short(), err)
	}
	r := NewReader(rc, d, info.Size)
	r.ctx = ctx
	return r, nil
}

// Stat returns the blob's metadata; ErrNotFound if it is not stored.
func (s *Store) Stat(ctx context.Context, d Digest) (Info, error) {
	info, err := s.backend.Stat(ctx, d)
	if err != nil {
		return Info{}, fmt.Errorf("stat %s: %w", d.Short(), err)
	}
	return info, nil
}

// WriteTo copies the verified blob to w and returns the bytes written. On
// ErrCorrupt, w has received an incomplete copy and must be discarded.
func (s *Store) WriteTo(ctx context.Context, d Digest, w io.Writer) (int64, error) {
	r, err := s.Open(ctx, d)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	buf := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(buf)
	n, err := io.CopyBuffer(writerOnly{w}, r, *buf)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("get %s: %w", d.Short(), err)
	}
	return n, err
}

// writerOnly hides a destination's ReadFrom so io.CopyBuffer uses our
// larger buffer.
type writerOnly struct{ io.Writer }

// countingReader reports bytes read to a progress function.
type countingReader struct {
	r  io.Reader
	fn func(int64)
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.fn(int64(n))
	return n, err
}

// countingReaderAt reports bytes read to a progress function.
type countingReaderAt struct {
	r  io.ReaderAt
	fn func(int64)
}

func (c countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.fn(int64(n))
	return n, err
}
