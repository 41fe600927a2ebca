package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/internal/progress"
)

func lsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list a transaction's attachments",
		ArgsUsage: "TXN",
		Flags:     []cli.Flag{jsonFlag},
		Action:    func(c *cli.Context) error { return runLs(c, e) },
	}
}

func runLs(c *cli.Context, e *env) error {
	if c.NArg() != 1 {
		return usageError{fmt.Errorf("ls: give one transaction id")}
	}
	txn := c.Args().First()
	if txn == "" {
		return usageError{fmt.Errorf("ls: %w", cas.ErrEmptyTxn)}
	}
	_, ix, _, err := openStoreWithIndex(c, e)
	if err != nil {
		return err
	}
	defer ix.Close()
	atts, err := ix.Attachments(c.Context, txn)
	if err != nil {
		return fmt.Errorf("ls: %w", err)
	}
	if c.Bool("json") {
		return printJSON(e.stdout, atts)
	}
	printAttachments(e, atts)
	return nil
}

// printAttachments writes one line per attachment: name, type, size,
// digest, created. Names are escaped so none can forge a line.
func printAttachments(e *env, atts []cas.Attachment) {
	for _, a := range atts {
		fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%s\n", cas.SafeName(a.Name), cas.SafeName(a.ContentType),
			progress.Bytes(a.Size), a.Digest, a.Created.Local().Format(time.RFC3339))
	}
}
