package importer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Item is one file to import: its path and the attachment it becomes.
type Item struct {
	Txn         string // transaction id
	Path        string // absolute path of the file
	Name        string // attachment name
	ContentType string // "" to sniff from the content
	Where       string // where the item came from, for messages ("manifest line 3"); "" for a tree
	// Err, when set, is why the item cannot be imported (a file above the
	// transaction depth, say); it is reported as a problem.
	Err error
}

// Source yields the items of an import, in order, to yield; an error from
// yield stops it and is returned.
type Source func(ctx context.Context, yield func(Item) error) error

// Items is a Source over a list.
func Items(items []Item) Source {
	return func(ctx context.Context, yield func(Item) error) error {
		for _, it := range items {
			if err := yield(it); err != nil {
				return err
			}
		}
		return nil
	}
}

// ErrAboveDepth: a file of a tree sits above the directory level that
// names transactions, so it has no transaction.
var ErrAboveDepth = errors.New("the file is above the transaction depth: no transaction id in its path")

// Tree yields every file under dir, which must exist. A file's transaction
// is its first depth directory levels under dir, joined with "/" (depth 1:
// dir/T/.../file belongs to T); its name is its base name. Files closer to
// dir than that are yielded with Err ErrAboveDepth. Directories that cannot
// be read are yielded with their error. Symbolic links to directories are
// not followed; other entries that are not regular files are yielded and
// refused by Run.
func Tree(dir string, depth int) (Source, error) {
	if depth < 1 {
		return nil, fmt.Errorf("import: depth %d: want 1 or more", depth)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return func(ctx context.Context, yield func(Item) error) error {
		return filepath.WalkDir(abs, func(path string, de fs.DirEntry, err error) error {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if err != nil {
				if path == abs {
					return fmt.Errorf("import: %w", err)
				}
				// An unreadable directory: report it, go on with the rest.
				if yerr := yield(Item{Path: path, Err: err}); yerr != nil {
					return yerr
				}
				if de != nil && de.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if de.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(abs, path)
			if err != nil {
				return err
			}
			parts := strings.Split(filepath.ToSlash(rel), "/")
			it := Item{Path: path, Name: parts[len(parts)-1]}
			if len(parts)-1 < depth {
				it.Err = ErrAboveDepth
			} else {
				it.Txn = strings.Join(parts[:depth], "/")
			}
			return yield(it)
		})
	}, nil
}
