package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/internal/progress"
)

func putCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "put",
		Usage:     "store files (or stdin, as -) and print their digests",
		ArgsUsage: "FILE... | -",
		Description: "Each file is hashed with SHA-256 and stored once under its digest; putting bytes that\n" +
			"are already stored uploads nothing. With --txn the files are also recorded as\n" +
			"attachments of that transaction in the index.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "txn", Usage: "record the files as attachments of transaction `T`"},
			&cli.StringFlag{Name: "name", Usage: "attachment name (default: the file's base name; one file only)"},
			&cli.StringFlag{Name: "type", Usage: "content type (default: sniffed from the bytes)"},
			&cli.BoolFlag{Name: "check-store", Usage: "ask the store even when the index knows the blob (restores a blob verify reported missing)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error { return runPut(c, e) },
	}
}

// putOutcome is one line of put's report.
type putOutcome struct {
	File        string          `json:"file"`
	Digest      cas.Digest      `json:"digest,omitzero"`
	Size        int64           `json:"size"`
	New         bool            `json:"new"`
	ContentType string          `json:"content_type,omitempty"`
	Attachment  *cas.Attachment `json:"attachment,omitempty"`
	Error       string          `json:"error,omitempty"`
}

func runPut(c *cli.Context, e *env) error {
	if err := needArgs(c, 1, "FILE or -"); err != nil {
		return err
	}
	files := c.Args().Slice()
	if c.IsSet("name") && len(files) > 1 {
		return usageError{fmt.Errorf("put: --name names one attachment; got %d files", len(files))}
	}
	store, cfg, err := openStore(c, e)
	if err != nil {
		return err
	}
	txn := c.String("txn")
	if c.IsSet("txn") {
		if txn == "" {
			return usageError{fmt.Errorf("put: %w", cas.ErrEmptyTxn)}
		}
		var ix *index.Index
		if store, ix, err = attachIndex(c.Context, cfg, store); err != nil {
			return err
		}
		defer ix.Close()
	}

	var total int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
	}
	// Bytes count twice: the hashing pass, then the upload (skipped, and
	// the bar ends early, when the blob is already stored).
	bar := progress.New(e.stderr, "put", int64(len(files)), 2*total)
	var outcomes []putOutcome
	failed := 0
	for _, f := range files {
		o, err := putOne(c, e, store, f, txn, bar)
		bar.AddItem()
		if err != nil {
			if c.Context.Err() != nil {
				bar.Finish()
				return err
			}
			failed++
			o.Error = err.Error()
			if len(files) == 1 {
				bar.Finish()
				return err
			}
			fmt.Fprintf(e.stderr, "casctl: %s\n", errorMessage(err))
		}
		outcomes = append(outcomes, o)
	}
	bar.Finish()
	if c.Bool("json") {
		if err := printJSON(e.stdout, outcomes); err != nil {
			return err
		}
	} else {
		for _, o := range outcomes {
			if o.Error != "" {
				continue
			}
			state := "stored"
			if o.New {
				state = "new"
			}
			fmt.Fprintf(e.stdout, "%s  %-6s  %s  %s\n", o.Digest, state, progress.Bytes(o.Size), cas.SafeName(o.File))
		}
	}
	if failed > 0 {
		return problemsError{fmt.Errorf("put: %d of %d files failed", failed, len(files))}
	}
	return nil
}

// putOne stores one file (or stdin for "-") and records the attachment
// when txn is set.
func putOne(c *cli.Context, e *env, store *cas.Store, file, txn string, bar *progress.Bar) (putOutcome, error) {
	o := putOutcome{File: file}
	var r io.Reader
	name := filepath.Base(file)
	if file == "-" {
		r, name = e.stdin, "stdin"
	} else {
		f, err := os.Open(file)
		if err != nil {
			return o, fmt.Errorf("put: %w", err)
		}
		defer f.Close()
		r = f
	}
	if c.IsSet("name") {
		name = c.String("name")
	}
	ctype := c.String("type")
	if ctype == "" {
		var err error
		if r, ctype, err = sniff(r); err != nil {
			return o, fmt.Errorf("put %s: %w", file, err)
		}
	}
	o.ContentType = ctype
	opts := cas.PutOptions{ContentType: ctype, Progress: bar.AddBytes, CheckStore: c.Bool("check-store")}
	if txn == "" {
		res, err := store.Put(c.Context, r, opts)
		if err != nil {
			return o, err
		}
		o.Digest, o.Size, o.New = res.Digest, res.Size, res.New
		return o, nil
	}
	att, res, err := store.Attach(c.Context, r, cas.Attachment{Txn: txn, Name: name, ContentType: ctype}, opts)
	if err != nil {
		return o, err
	}
	o.Digest, o.Size, o.New, o.Attachment = res.Digest, res.Size, res.New, &att
	return o, nil
}
