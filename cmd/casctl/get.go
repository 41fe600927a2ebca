package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/s3"
	"github.com/casstore/casstore/internal/progress"
)

func getCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "write a blob's verified content to stdout or a file",
		ArgsUsage: "DIGEST | --txn T --name NAME",
		Description: "Every byte is checked against the digest. With -o the content goes to a temporary\n" +
			"file that is renamed into place only when it verified; on stdout a corrupt blob ends\n" +
			"the output early with exit code 4.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing output file"},
			&cli.StringFlag{Name: "txn", Usage: "the attachment's transaction"},
			&cli.StringFlag{Name: "name", Usage: "the attachment's name (with --txn)"},
		},
		Action: func(c *cli.Context) error { return runGet(c, e) },
	}
}

func runGet(c *cli.Context, e *env) error {
	var d cas.Digest
	byAttachment := c.IsSet("txn") || c.IsSet("name")
	switch {
	case byAttachment && (!c.IsSet("txn") || !c.IsSet("name") || c.NArg() > 0):
		return usageError{errors.New("get: give a DIGEST, or both --txn and --name")}
	case !byAttachment:
		if c.NArg() != 1 {
			return usageError{errors.New("get: give one DIGEST, or --txn and --name")}
		}
		var err error
		if d, err = cas.Parse(c.Args().First()); err != nil {
			return err
		}
	}
	out := c.String("output")
	if out != "" && !c.Bool("force") {
		if _, err := os.Lstat(out); err == nil {
			return outputExists(out)
		}
	}
	store, cfg, err := openStore(c, e)
	if err != nil {
		return err
	}
	if byAttachment {
		ix, err := openIndex(c.Context, cfg, store.Backend())
		if err != nil {
			return err
		}
		defer ix.Close()
		att, err := ix.Find(c.Context, c.String("txn"), c.String("name"))
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		d = att.Digest
	}
	if out == "" {
		_, err := store.WriteTo(c.Context, d, e.stdout)
		return explainHidden(err)
	}
	return explainHidden(getToFile(c, e, store, d, out))
}

// explainHidden tells a blob hidden by a delete marker (its data retained)
// from a missing one, and says how to restore it.
func explainHidden(err error) error {
	if !errors.Is(err, cas.ErrHidden) {
		return err
	}
	how := " (the key's newest version)"
	var he *s3.HiddenError
	if errors.As(err, &he) {
		marker := he.MarkerID
		if marker == "" {
			marker = "<marker>"
		}
		how = fmt.Sprintf(" (e.g. mc rm --version-id %s ALIAS/%s/%s)", marker, he.Bucket, he.Key)
	}
	return fmt.Errorf("%w\n  hidden by a delete marker, data still retained; restore it by removing the delete marker%s", err, how)
}

// getToFile writes the verified blob to a temporary file beside out and
// renames it into place only when the whole content verified.
func getToFile(c *cli.Context, e *env, store *cas.Store, d cas.Digest, out string) error {
	r, err := store.Open(c.Context, d)
	if err != nil {
		return err
	}
	defer r.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), ".casctl-get-*")
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	bar := progress.New(e.stderr, "get", 1, r.Size())
	_, err = io.Copy(tmp, io.TeeReader(r, bar.Writer()))
	bar.Finish()
	if err == nil {
		// CreateTemp made it 0600; the output gets what a plain create would.
		err = tmp.Chmod(0o666 &^ os.FileMode(currentUmask()))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, cas.ErrCorrupt) {
			return fmt.Errorf("%w; nothing written to %s", err, out)
		}
		return fmt.Errorf("get %s: %w", d.Short(), err)
	}
	return moveInto(tmp.Name(), out, c.Bool("force"))
}

// outputExists is the usage error for an output file that is there.
func outputExists(out string) error {
	return usageError{fmt.Errorf("get: %s exists; use --force to replace it", out)}
}

// moveInto puts the finished file tmp at out. Without force it never
// replaces a file, not even one created while the blob was read: a hard
// link fails if out exists. Where the file system has no hard links, out
// is checked just before the rename instead.
func moveInto(tmp, out string, force bool) error {
	if force {
		if err := os.Rename(tmp, out); err != nil {
			return fmt.Errorf("get: %w", err)
		}
		return nil
	}
	err := os.Link(tmp, out)
	switch {
	case err == nil:
		return os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		return outputExists(out)
	}
	if _, lerr := os.Lstat(out); lerr == nil {
		return outputExists(out)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("get: %w", err)
	}
	return nil
}

// currentUmask reads the process's umask (setting it back at once).
func currentUmask() int {
	old := unix.Umask(0)
	unix.Umask(old)
	return old
}
