package disk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/casstore/casstore/cas"
)

// State is what Diagnose found in the store's directory, for casctl
// doctor.
type State struct {
	Root       string
	Exists     bool
	Mode       fs.FileMode // of the root directory
	Writable   bool        // a file can be created in the root
	WriteError string      // why not, when not
	FreeBytes  uint64      // available to this user
	TotalBytes uint64
	Blobs      int64 // files that follow the layout
	BlobBytes  int64
	Temp       []File // half-written temporary files (TempPrefix), left by a crash or in progress
	Stray      []File // other files that are not blobs
}

// File is a file found in the store that is not a blob.
type File struct {
	Name    string // relative to the root
	Size    int64
	ModTime time.Time
}

// maxListed caps the temporary and stray files listed; the counts go on.
const maxListed = 100

// Diagnose inspects the store directory: existence, whether it is
// writable (by creating and removing a temporary file), free space, and
// every file under it. It never changes a blob.
func (b *Backend) Diagnose(ctx context.Context) (State, error) {
	st := State{Root: b.root}
	fi, err := os.Stat(b.root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("disk: diagnose: %w", mapErr(err))
	case !fi.IsDir():
		return st, fmt.Errorf("disk: diagnose: %s is not a directory", b.root)
	}
	st.Exists, st.Mode = true, fi.Mode()

	if f, err := os.CreateTemp(b.root, TempPrefix+"doctor-*"); err != nil {
		st.WriteError = err.Error()
	} else {
		st.Writable = true
		f.Close()
		os.Remove(f.Name())
	}
	var fsst syscall.Statfs_t
	if err := syscall.Statfs(b.root, &fsst); err == nil {
		st.FreeBytes = fsst.Bavail * uint64(fsst.Bsize)
		st.TotalBytes = fsst.Blocks * uint64(fsst.Bsize)
	}

	var ntemp, nstray int
	err = b.walk(ctx, func(e cas.Entry, info fs.FileInfo) error {
		if info == nil {
			return nil // gone meanwhile (a put's temporary file)
		}
		f := File{Name: e.Name, Size: e.Size, ModTime: info.ModTime()}
		switch {
		case e.Valid:
			st.Blobs++
			st.BlobBytes += e.Size
		case e.Leftover:
			if ntemp++; ntemp <= maxListed {
				st.Temp = append(st.Temp, f)
			}
		default:
			if nstray++; nstray <= maxListed {
				st.Stray = append(st.Stray, f)
			}
		}
		return nil
	})
	return st, err
}
