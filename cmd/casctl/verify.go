package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/s3"
	"github.com/casstore/casstore/config"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/internal/duration"
	"github.com/casstore/casstore/internal/progress"
)

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check that every blob is present and intact",
		ArgsUsage: "[DIGEST...]",
		Description: "Reads every blob the index knows back from the store and hashes it (deep), or with\n" +
			"--quick only asks the store for its size and stored SHA-256 checksum. --scan walks the\n" +
			"store instead, and needs no index. Outcomes are appended to the index's verification\n" +
			"log; --since skips blobs verified OK more recently. Nothing is ever changed in the store.\n" +
			"Exit status: 0 all good, 5 problems found, 6 store or index unreachable, 130 interrupted.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quick", Usage: "metadata only: exists, size, stored checksum where kept"},
			&cli.BoolFlag{Name: "scan", Usage: "walk the store rather than the index (works without an index)"},
			&cli.BoolFlag{Name: "orphans", Usage: "also list blobs that no index row references"},
			&cli.StringFlag{Name: "txn", Usage: "check only the blobs of transaction `T`"},
			&cli.StringFlag{Name: "since", Usage: "skip blobs verified OK within `DURATION` (36h, 7d)"},
			&cli.IntFlag{Name: "jobs", Usage: "blobs checked at once (default: S3 4 deep, 16 quick; disk 2 deep, 4 quick)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error { return runVerify(c, e) },
	}
}

func runVerify(c *cli.Context, e *env) error {
	opts := cas.VerifyOptions{Quick: c.Bool("quick"), Scan: c.Bool("scan"), Orphans: c.Bool("orphans"), Jobs: c.Int("jobs")}
	var err error
	if opts.Digests, err = parseDigests(c.Args().Slice()); err != nil {
		return err
	}
	txn := c.String("txn")
	switch {
	case c.IsSet("txn") && txn == "":
		return usageError{fmt.Errorf("verify: %w", cas.ErrEmptyTxn)}
	case opts.Scan && (len(opts.Digests) > 0 || txn != ""):
		return usageError{errors.New("verify: --scan checks the whole store; drop the digests or --txn")}
	case opts.Orphans && (len(opts.Digests) > 0 || txn != ""):
		return usageError{errors.New("verify: --orphans looks at the whole store; drop the digests or --txn")}
	case c.IsSet("jobs") && (opts.Jobs < 1 || opts.Jobs > 256):
		return usageError{fmt.Errorf("verify: --jobs %d: want 1 to 256", opts.Jobs)}
	}
	if c.IsSet("since") {
		if opts.Since, err = duration.Parse(c.String("since")); err != nil {
			return usageError{fmt.Errorf("verify: --since: %w", err)}
		}
	}

	store, cfg, err := openStore(c, e)
	if err != nil {
		return err
	}
	ix, err := openVerifyIndex(c, cfg, store.Backend(), opts.Scan)
	if err != nil {
		return err
	}
	var vix cas.VerifyIndex
	if ix != nil {
		defer ix.Close()
		vix, opts.Record = ix, true
	} else if opts.Orphans || opts.Since > 0 {
		return usageError{errors.New("verify: --orphans and --since need an index, and there is none")}
	}
	if txn != "" {
		atts, err := ix.Attachments(c.Context, txn)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		seen := map[cas.Digest]bool{}
		for _, a := range atts {
			if !seen[a.Digest] {
				seen[a.Digest] = true
				opts.Digests = append(opts.Digests, a.Digest)
			}
		}
	}
	if opts.Jobs == 0 {
		opts.Jobs = defaultJobs(store.Backend(), opts.Quick)
	}
	bar := progress.New(e.stderr, "verify", 0, 0)
	if bar != nil {
		opts.Progress = bar
	}
	rep, err := store.Verify(c.Context, vix, opts)
	bar.Finish()
	if rep == nil {
		return err
	}
	if c.Bool("json") {
		if perr := printJSON(e.stdout, rep); perr != nil && err == nil {
			err = perr
		}
	} else {
		printVerifyReport(e.stdout, rep)
	}
	if err != nil {
		return err
	}
	if n := rep.ProblemCount(); n > 0 {
		return problemsError{fmt.Errorf("verify: %d of %d blobs have problems", n, rep.Checked)}
	}
	return nil
}

// openVerifyIndex opens the configured index, bound to the store. With
// --scan a missing index is no error: the store is checked as it is (an RT
// directory, a bucket another tool wrote), and nothing is created.
func openVerifyIndex(c *cli.Context, cfg *config.Config, backend cas.Backend, scan bool) (*index.Index, error) {
	loc, err := cfg.IndexPath()
	if err != nil {
		return nil, usageError{err}
	}
	// Probe read-only first, so that verify never creates an index.
	ro, err := index.Open(c.Context, loc, backend.Location(), index.ReadOnly())
	if errors.Is(err, fs.ErrNotExist) {
		if scan {
			return nil, nil
		}
		return nil, usageError{fmt.Errorf("verify: no index at %s: put or import something first, or check the store as it is with --scan", loc)}
	}
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	ro.Close()
	return openIndex(c.Context, cfg, backend) // read-write: the log is appended to
}

// defaultJobs: on S3 a few streams hide the request latency and keep both
// cores hashing; HEADs cost no CPU, so quick runs many more. A disk is read
// about as fast as a core hashes, and more readers only seek.
func defaultJobs(b cas.Backend, quick bool) int {
	_, remote := b.(*s3.Backend)
	switch {
	case remote && quick:
		return 16
	case remote:
		return 4
	case quick:
		return 4
	}
	return 2
}

// printVerifyReport writes the problems, one per line with the
// transactions that reference the blob, then the summary.
func printVerifyReport(w io.Writer, r *cas.VerifyReport) {
	for _, p := range r.Problems {
		line := fmt.Sprintf("%-13s %s", strings.ToUpper(string(p.Outcome)), p.Digest)
		if p.Detail != "" {
			line += "  (" + cas.SafeName(p.Detail) + ")"
		}
		if len(p.Txns) > 0 {
			line += "  txns: " + safeJoin(p.Txns)
		} else if p.Size < 0 {
			line += "  not in the index"
		}
		fmt.Fprintln(w, line)
	}
	for _, x := range r.ErrorList {
		fmt.Fprintf(w, "%-13s %s  %s\n", "ERROR", x.Digest, cas.SafeName(x.Error))
	}
	for _, o := range r.OrphanList {
		fmt.Fprintf(w, "%-13s %s  %s  no index row references it\n", "ORPHAN", o.Digest, progress.Bytes(o.Size))
	}
	for _, s := range r.StrayList {
		fmt.Fprintf(w, "%-13s %s  not a blob name, left alone\n", "STRAY", cas.SafeName(s))
	}
	for _, s := range r.LeftoverList {
		fmt.Fprintf(w, "%-13s %s  temporary file of an interrupted put, left alone\n", "LEFTOVER", cas.SafeName(s))
	}
	elapsed := r.Finished.Sub(r.Started).Round(time.Millisecond)
	fmt.Fprintf(w, "checked %d blobs (%s%s) in %s: %d ok, %d missing, %d corrupt, %d size mismatch, %d hidden\n",
		r.Checked, r.Mode, map[bool]string{true: ", scan"}[r.Scan], elapsed, r.OK, r.Missing, r.Corrupt, r.SizeMismatch, r.Hidden)
	if r.Hidden > 0 {
		fmt.Fprintln(w, "  hidden: a delete marker hides the blob, its data is still retained; removing the marker restores it")
	}
	if r.Missing > 0 {
		fmt.Fprintln(w, "  missing: restore it with casctl put --check-store FILE (its original bytes), or casctl copy from a store that holds it")
	}
	if r.Corrupt+r.SizeMismatch > 0 {
		fmt.Fprintln(w, "  corrupt: casstore never replaces stored data; move the damaged object aside by hand, then restore it as a missing one")
	}
	if r.Mode == "quick" && r.SizeOnly > 0 {
		fmt.Fprintf(w, "  %d by size only: the store keeps no whole-object checksum for them (disk, S3 multipart); a deep verify reads them\n", r.SizeOnly)
	}
	fmt.Fprintf(w, "orphans %d, strays %d, leftovers %d, skipped (verified OK within --since) %d, errors %d\n",
		r.Orphans(), r.Strays(), r.Leftovers(), r.Skipped, r.Errors)
	fmt.Fprintf(w, "read %s, %s/s; %d results recorded in the index\n", progress.Bytes(r.BytesRead), progress.Bytes(int64(r.Throughput)), r.Recorded)
	if r.Interrupted {
		fmt.Fprintln(w, "interrupted: the results above are partial; what was recorded stays recorded")
	}
}
