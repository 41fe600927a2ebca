package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
)

func showCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show a blob's size and the transactions that use it",
		ArgsUsage: "DIGEST",
		Flags:     []cli.Flag{jsonFlag},
		Action:    func(c *cli.Context) error { return runShow(c, e) },
	}
}

type showResult struct {
	Digest      cas.Digest       `json:"digest"`
	Size        int64            `json:"size"`
	Attachments []cas.Attachment `json:"attachments"`
}

func runShow(c *cli.Context, e *env) error {
	if c.NArg() != 1 {
		return usageError{fmt.Errorf("show: give one DIGEST")}
	}
	d, err := cas.Parse(c.Args().First())
	if err != nil {
		return err
	}
	_, ix, _, err := openStoreWithIndex(c, e)
	if err != nil {
		return err
	}
	defer ix.Close()
	size, ok, err := ix.LookupBlob(c.Context, d)
	if err != nil {
		return fmt.Errorf("show: %w", err)
	}
	if !ok {
		return fmt.Errorf("show %s: not in the index: %w", d, cas.ErrNotFound)
	}
	atts, err := ix.AttachmentsOf(c.Context, d)
	if err != nil {
		return fmt.Errorf("show: %w", err)
	}
	if c.Bool("json") {
		return printJSON(e.stdout, showResult{Digest: d, Size: size, Attachments: atts})
	}
	fmt.Fprintf(e.stdout, "%s  %d bytes  %d attachment(s)\n", d, size, len(atts))
	for _, a := range atts {
		fmt.Fprintf(e.stdout, "  txn %s\t%s\t%s\n", cas.SafeName(a.Txn), cas.SafeName(a.Name), cas.SafeName(a.ContentType))
	}
	return nil
}
