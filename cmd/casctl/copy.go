package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/config"
	"github.com/casstore/casstore/internal/progress"
	"github.com/casstore/casstore/transfer"
)

func copyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy blobs to another store, verified on the way",
		ArgsUsage: "[DIGEST]",
		Description: "Copies every blob of the configured store (or those of --txn T, or one DIGEST) to the\n" +
			"store --to names: file:///dir or s3://bucket/prefix, reached with the same endpoint and\n" +
			"credentials settings. Each blob is read through a verifying reader and hashed again; one\n" +
			"that does not match its digest is reported and not copied. Blobs the destination holds\n" +
			"already are skipped, so an interrupted copy is resumed by running it again. The source\n" +
			"is never changed. Then `casctl switch --to STORE` moves the index.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "destination store `URL`", Required: true},
			&cli.StringFlag{Name: "txn", Usage: "copy only the blobs of transaction `T`'s attachments"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: transfer.DefaultJobs(), Usage: "blobs copied at once"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error { return runCopy(c, e) },
	}
}

func runCopy(c *cli.Context, e *env) error {
	if c.NArg() > 1 || (c.NArg() == 1 && c.IsSet("txn")) {
		return usageError{fmt.Errorf("copy: give one digest, or --txn T, or neither (every blob)")}
	}
	if c.Int("jobs") < 1 {
		return usageError{fmt.Errorf("copy: --jobs %d: want 1 or more", c.Int("jobs"))}
	}
	var digests []cas.Digest
	if c.NArg() == 1 {
		var err error
		if digests, err = parseDigests(c.Args().Slice()); err != nil {
			return err
		}
	}
	from, cfg, err := openStore(c, e)
	if err != nil {
		return err
	}
	dst, err := destination(c, e, c.String("to"), from.Backend())
	if err != nil {
		return err
	}
	to := cas.New(dst, cas.WithTempDir(cfg.Get(config.TempDir)))

	src := transfer.All(from.Backend())
	switch {
	case digests != nil:
		src = transfer.Digests(digests...)
	case c.IsSet("txn"):
		if c.String("txn") == "" {
			return usageError{fmt.Errorf("copy: %w", cas.ErrEmptyTxn)}
		}
		ix, err := openIndex(c.Context, cfg, from.Backend())
		if err != nil {
			return err
		}
		defer ix.Close()
		src = transfer.Txn(ix, c.String("txn"))
	}
	bar := progress.New(e.stderr, "copy", 0, 0)
	sum, runErr := transfer.Copy(c.Context, from, to, src, transfer.Options{Jobs: c.Int("jobs"), Bar: bar})
	bar.Finish()
	if digests != nil && len(sum.Problems) == 1 && runErr == nil {
		// One blob asked for: its own error and exit code.
		return fmt.Errorf("copy: %w", sum.Problems[0].Err())
	}
	for _, p := range sum.Problems {
		fmt.Fprintf(e.stderr, "casctl: copy: %s: %s\n", p.Digest, p.Error)
	}
	if c.Bool("json") {
		if err := printJSON(e.stdout, sum); err != nil {
			return err
		}
	} else {
		printCopySummary(e.stdout, sum, dst.Location())
	}
	if runErr != nil {
		return fmt.Errorf("copy: %w", runErr)
	}
	if sum.Failed > 0 {
		return problemsError{fmt.Errorf("copy: %d of %d blobs not copied (listed above)", sum.Failed, sum.Blobs)}
	}
	return nil
}

// destination opens the store at URL to with the rest of the configuration
// (endpoint, credentials, ...) and refuses the source store itself.
func destination(c *cli.Context, e *env, to string, source cas.Backend) (cas.Backend, error) {
	if _, err := config.ParseStoreURL(to); err != nil {
		return nil, usageError{fmt.Errorf("--to: %w", err)}
	}
	cfg, err := loadConfig(c, e)
	if err != nil {
		return nil, err
	}
	cfg.Set(config.Store, to)
	b, err := openBackend(c.Context, cfg)
	if err != nil {
		return nil, err
	}
	if b.Location() == source.Location() {
		return nil, usageError{fmt.Errorf("--to %s is the configured store itself", b.Location())}
	}
	return b, nil
}

func printCopySummary(w io.Writer, s transfer.Summary, to string) {
	fmt.Fprintf(w, "copy to %s: %d blobs; read and verified %s in %s (%s/s)\n", to, s.Blobs, progress.Bytes(s.Bytes),
		time.Duration(s.Seconds*float64(time.Second)).Round(time.Millisecond), progress.Bytes(int64(s.BytesPerSecond)))
	fmt.Fprintf(w, "  copied %d, already there %d, failed %d\n", s.Copied, s.Present, s.Failed)
}
