package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/internal/progress"
)

// Free space below which the store is in trouble.
const (
	minFree  = 64 << 20
	warnFree = 1 << 30
)

func (d *doc) disk(ctx context.Context, b *disk.Backend) {
	r := d.r
	st, err := b.Diagnose(ctx)
	switch {
	case err != nil:
		r.add(CheckDirectory, Failed, errText(err), "")
		return
	case !st.Exists:
		r.add(CheckDirectory, Failed, st.Root+" does not exist", "create it with casctl init (the first put creates it too), or fix the store setting")
		return
	}
	r.add(CheckDirectory, OK, fmt.Sprintf("%s: %d blobs, %s", st.Root, st.Blobs, progress.Bytes(st.BlobBytes)), "")

	switch {
	case !st.Writable:
		r.add(CheckPermissions, Failed, fmt.Sprintf("cannot create files in %s (mode %s): %s", st.Root, st.Mode.Perm(), st.WriteError),
			"give the user that runs casctl write access to the directory (chown/chmod)")
	case st.Mode.Perm()&0o002 != 0:
		r.add(CheckPermissions, Warning, fmt.Sprintf("%s is world-writable (mode %s)", st.Root, st.Mode.Perm()), "chmod o-w "+st.Root)
	default:
		r.add(CheckPermissions, OK, fmt.Sprintf("writable (mode %s)", st.Mode.Perm()), "")
	}

	free := fmt.Sprintf("%s free of %s", progress.Bytes(int64(st.FreeBytes)), progress.Bytes(int64(st.TotalBytes)))
	switch {
	case st.TotalBytes == 0:
		r.add(CheckFreeSpace, Warning, "could not read the file system's size", "")
	case st.FreeBytes < minFree:
		r.add(CheckFreeSpace, Failed, free, "free space on "+st.Root+"'s file system: puts will fail")
	case st.FreeBytes < warnFree || st.FreeBytes < st.TotalBytes/20:
		r.add(CheckFreeSpace, Warning, free, "free space soon: a full disk makes puts fail")
	default:
		r.add(CheckFreeSpace, OK, free, "")
	}

	if st.Writable {
		d.probe(ctx, b)
	}

	now := d.opts.Now()
	var stale, fresh []string
	for _, f := range st.Temp {
		if now.Sub(f.ModTime) > StaleTemp {
			stale = append(stale, fmt.Sprintf("%s (%d bytes, %s)", f.Name, f.Size, f.ModTime.Format("2006-01-02 15:04")))
		} else {
			fresh = append(fresh, f.Name)
		}
	}
	switch {
	case len(stale) > 0:
		r.add(CheckTempFiles, Warning, fmt.Sprintf("%d half-written temporary files left by an interrupted put: %s", len(stale), listSome(stale)),
			"they are not blobs and nothing refers to them: remove them when no casctl runs (find "+st.Root+" -name '"+disk.TempPrefix+"*' -mmin +10 -delete)")
	case len(fresh) > 0:
		r.add(CheckTempFiles, OK, fmt.Sprintf("%d temporary files of puts in progress", len(fresh)), "")
	default:
		r.add(CheckTempFiles, OK, "no half-written temporary files", "")
	}

	if len(st.Stray) == 0 {
		r.add(CheckStrayFiles, OK, "every file is a blob in the store's layout", "")
	} else {
		names := make([]string, len(st.Stray))
		for i, f := range st.Stray {
			names[i] = f.Name
		}
		r.add(CheckStrayFiles, Warning, fmt.Sprintf("%d files that are not blobs: %s", len(st.Stray), listSome(names)),
			"casstore never writes them; move them out of the store directory")
	}
}

// listSome lists the first few items.
func listSome(items []string) string {
	const n = 5
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(", and %d more", len(items)-n)
}
