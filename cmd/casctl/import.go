package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/importer"
	"github.com/casstore/casstore/internal/progress"
)

func importCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "import an existing collection of files: a directory tree or a manifest",
		ArgsUsage: "DIR | --manifest FILE",
		Description: "From a tree, every file under DIR becomes an attachment named after the file, of the\n" +
			"transaction its path gives: the first directory level under DIR (--depth 2: the first two,\n" +
			"joined with /). From a manifest (CSV or JSON Lines: txn, path, optional name and content\n" +
			"type), each line is one attachment. Content is stored once, however many files hold it.\n\n" +
			"An interrupted import is resumed by running it again: stored blobs are not uploaded again\n" +
			"and no row is recorded twice. Files recorded before with the same size and modification\n" +
			"time are not read again. Files that cannot be read, or change while read, are reported\n" +
			"and the rest goes on; the exit code is then 5.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "depth", Value: 1, Usage: "directory levels under DIR that name the transaction"},
			&cli.StringFlag{Name: "manifest", Usage: "import the files a manifest lists (`FILE`, - for stdin) instead of a tree"},
			&cli.StringFlag{Name: "format", Usage: "manifest format: csv or jsonl (default: from the file name; csv)"},
			&cli.StringFlag{Name: "base", Usage: "directory relative manifest paths start from (default: the manifest's)"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: importer.DefaultJobs(), Usage: "files read and stored at once"},
			&cli.BoolFlag{Name: "dry-run", Usage: "read and write nothing: list what would be imported"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error { return runImport(c, e) },
	}
}

func runImport(c *cli.Context, e *env) error {
	src, err := importSource(c, e)
	if err != nil {
		return err
	}
	if c.Int("jobs") < 1 {
		return usageError{fmt.Errorf("import: --jobs %d: want 1 or more", c.Int("jobs"))}
	}
	store, ix, _, err := openStoreWithIndex(c, e)
	if err != nil {
		return err
	}
	defer ix.Close()

	dry := c.Bool("dry-run")
	bar := progress.New(e.stderr, "import", 0, 0)
	opts := importer.Options{Jobs: c.Int("jobs"), DryRun: dry, Bar: bar, OnFile: func(o importer.Outcome) {
		switch {
		case o.Action == importer.Failed:
			fmt.Fprintf(e.stderr, "casctl: import: %s\n", importProblem(o.Item.Path, o.Item.Where, o.Err.Error()))
		case dry && !c.Bool("json"):
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\n", o.Action, cas.SafeName(o.Item.Txn), cas.SafeName(o.Item.Name), cas.SafeName(o.Item.Path))
		}
	}}
	sum, runErr := importer.Run(c.Context, store, ix, src, opts)
	bar.Finish()
	if c.Bool("json") {
		if err := printJSON(e.stdout, sum); err != nil {
			return err
		}
	} else {
		printImportSummary(e.stdout, sum)
	}
	if runErr != nil {
		return fmt.Errorf("import: %w", runErr)
	}
	if sum.Failed > 0 {
		return problemsError{fmt.Errorf("import: %d of %d files failed (listed above); run it again once they are fixed: what is imported stays", sum.Failed, sum.Files)}
	}
	return nil
}

// importSource builds the tree or manifest source from the arguments.
func importSource(c *cli.Context, e *env) (importer.Source, error) {
	manifest := c.String("manifest")
	if manifest == "" {
		if c.NArg() != 1 {
			return nil, usageError{fmt.Errorf("import: give one directory, or --manifest FILE; see casctl import --help")}
		}
		if fi, err := os.Stat(c.Args().First()); err != nil || !fi.IsDir() {
			return nil, usageError{fmt.Errorf("import: %s is not a directory", c.Args().First())}
		}
		src, err := importer.Tree(c.Args().First(), c.Int("depth"))
		if err != nil {
			return nil, usageError{err}
		}
		return src, nil
	}
	if c.NArg() != 0 {
		return nil, usageError{fmt.Errorf("import: --manifest takes no directory argument")}
	}
	var r io.Reader = e.stdin
	base := "."
	if manifest != "-" {
		f, err := os.Open(manifest)
		if err != nil {
			return nil, usageError{fmt.Errorf("import: %w", err)}
		}
		defer f.Close()
		r, base = f, filepath.Dir(manifest)
	}
	if c.IsSet("base") {
		base = c.String("base")
	}
	format := importer.FormatOf(manifest)
	if c.IsSet("format") {
		format = importer.Format(c.String("format"))
	}
	items, err := importer.ParseManifest(r, format, base)
	if err != nil {
		return nil, usageError{fmt.Errorf("import: %s: %w", manifest, err)}
	}
	return importer.Items(items), nil
}

func importProblem(path, where, msg string) string {
	if where != "" {
		return fmt.Sprintf("%s (%s): %s", cas.SafeName(path), where, msg)
	}
	return cas.SafeName(path) + ": " + msg
}

func printImportSummary(w io.Writer, s importer.Summary) {
	verb := "imported"
	if s.DryRun {
		verb = "dry run"
	}
	fmt.Fprintf(w, "%s: %d files, %s; read %s in %s (%s/s)\n", verb, s.Files, progress.Bytes(s.Bytes),
		progress.Bytes(s.BytesRead), time.Duration(s.Seconds*float64(time.Second)).Round(time.Millisecond), progress.Bytes(int64(s.BytesPerSecond)))
	if s.DryRun {
		fmt.Fprintf(w, "  would import %d, already imported %d, failed %d\n", s.WouldImport, s.AlreadyImported, s.Failed)
		return
	}
	fmt.Fprintf(w, "  new blobs %d, duplicates skipped %d, already imported %d, failed %d\n", s.NewBlobs, s.Duplicates, s.AlreadyImported, s.Failed)
}
