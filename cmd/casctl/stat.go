package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
)

func statCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "stat",
		Usage:     "show whether blobs are stored, and their size",
		ArgsUsage: "DIGEST...",
		Flags:     []cli.Flag{jsonFlag},
		Action:    func(c *cli.Context) error { return runStat(c, e) },
	}
}

type statResult struct {
	Digest      cas.Digest `json:"digest"`
	Size        int64      `json:"size"`
	ContentType string     `json:"content_type,omitempty"`
	Checksum    string     `json:"checksum_sha256,omitempty"`
	Modified    *time.Time `json:"modified,omitempty"`
}

func runStat(c *cli.Context, e *env) error {
	if err := needArgs(c, 1, "DIGEST"); err != nil {
		return err
	}
	ds, err := parseDigests(c.Args().Slice())
	if err != nil {
		return err
	}
	store, _, err := openStore(c, e)
	if err != nil {
		return err
	}
	var results []statResult
	for _, d := range ds {
		info, err := store.Stat(c.Context, d)
		if err != nil {
			return err
		}
		r := statResult{Digest: d, Size: info.Size, ContentType: info.ContentType}
		if !info.Checksum.IsZero() {
			r.Checksum = info.Checksum.String()
		}
		if !info.ModTime.IsZero() {
			t := info.ModTime.UTC()
			r.Modified = &t
		}
		results = append(results, r)
	}
	if c.Bool("json") {
		return printJSON(e.stdout, results)
	}
	for _, r := range results {
		fmt.Fprintf(e.stdout, "%s  %d bytes", r.Digest, r.Size)
		if r.ContentType != "" {
			fmt.Fprintf(e.stdout, "  %s", r.ContentType)
		}
		if r.Modified != nil {
			fmt.Fprintf(e.stdout, "  stored %s", r.Modified.Format(time.RFC3339))
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}
