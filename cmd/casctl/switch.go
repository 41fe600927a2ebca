package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/internal/progress"
	"github.com/casstore/casstore/transfer"
)

func switchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "switch",
		Usage: "switch the index to another store after a verified copy; --history shows past switches",
		Description: "Checks that the store --to names holds every blob the index records (a stat of each,\n" +
			"size compared) and only then records the switch: a new row in the index's store history,\n" +
			"which is append-only like everything else. While any blob is missing it refuses and lists\n" +
			"them: run casctl copy --to STORE first. Stop writers of the old store before switching.\n" +
			"Afterwards use the index with the new store (--store STORE --index PATH).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the store `URL` the index moves to"},
			&cli.BoolFlag{Name: "history", Usage: "show the stores the index has belonged to, oldest first"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: transfer.DefaultJobs(), Usage: "blobs checked at once"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if c.Bool("history") {
				return runStoreHistory(c, e)
			}
			return runSwitch(c, e)
		},
	}
}

// switchResult is what switch --json prints.
type switchResult struct {
	From    string              `json:"from"`
	To      string              `json:"to"`
	Checked int64               `json:"checked"`
	Missing []transfer.Problem  `json:"missing,omitempty"`
	Index   string              `json:"index"`
	History []index.StoreRecord `json:"history,omitempty"`
}

func runSwitch(c *cli.Context, e *env) error {
	if !c.IsSet("to") || c.NArg() != 0 {
		return usageError{fmt.Errorf("switch: give --to STORE (or --history)")}
	}
	if c.Int("jobs") < 1 {
		return usageError{fmt.Errorf("switch: --jobs %d: want 1 or more", c.Int("jobs"))}
	}
	store, ix, _, err := openStoreWithIndex(c, e)
	if err != nil {
		return err
	}
	defer ix.Close()
	dst, err := destination(c, e, c.String("to"), store.Backend())
	if err != nil {
		return err
	}
	from := store.Backend().Location()
	bar := progress.New(e.stderr, "check", 0, 0)
	res, err := transfer.Check(c.Context, ix, dst, transfer.Options{Jobs: c.Int("jobs"), Bar: bar})
	bar.Finish()
	if err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	out := switchResult{From: from, To: dst.Location(), Checked: res.Checked, Missing: res.Missing, Index: ix.Path()}
	if len(res.Missing) > 0 {
		if c.Bool("json") {
			printJSON(e.stdout, out)
		}
		var b strings.Builder
		for i, m := range res.Missing {
			if i == 20 {
				fmt.Fprintf(&b, "\n  ... and %d more", len(res.Missing)-i)
				break
			}
			fmt.Fprintf(&b, "\n  %s: %s", m.Digest, m.Error)
		}
		return fmt.Errorf("switch: refused: %d of %d blobs the index records are not in %s:%s\n  copy them first: casctl copy --to %s: %w",
			len(res.Missing), res.Checked, dst.Location(), b.String(), c.String("to"), cas.ErrNotFound)
	}
	if err := ix.SwitchStore(c.Context, from, dst.Location(), res.Checked); err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	if out.History, err = ix.StoreHistory(c.Context); err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	if c.Bool("json") {
		return printJSON(e.stdout, out)
	}
	fmt.Fprintf(e.stdout, "switched: the index %s now belongs to %s (all %d blobs checked there); it was %s\n",
		ix.Path(), dst.Location(), res.Checked, from)
	indexArg := ix.Path()
	if strings.Contains(indexArg, "xxxxx") {
		indexArg = "<your index URL>" // the password was redacted
	}
	fmt.Fprintf(e.stdout, "  use it as: casctl --store %s --index %s ...\n", c.String("to"), indexArg)
	return nil
}

// runStoreHistory prints the index's store history. The index is opened
// read-only and whatever store it belongs to now.
func runStoreHistory(c *cli.Context, e *env) error {
	cfg, err := loadConfig(c, e)
	if err != nil {
		return err
	}
	loc, err := cfg.IndexPath()
	if err != nil {
		return usageError{err}
	}
	ix, err := index.Open(c.Context, loc, "", index.ReadOnly())
	if err != nil {
		return err
	}
	defer ix.Close()
	hist, err := ix.StoreHistory(c.Context)
	if err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	if c.Bool("json") {
		return printJSON(e.stdout, hist)
	}
	for i, h := range hist {
		mark := ""
		if i == len(hist)-1 {
			mark = "\t(current)"
		}
		fmt.Fprintf(e.stdout, "%d\t%s\t%s%s\n", h.ID, h.Created.Local().Format(time.RFC3339), h.Location, mark)
	}
	return nil
}
