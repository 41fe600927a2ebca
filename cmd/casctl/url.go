package main

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/config"
	"github.com/casstore/casstore/index"
)

// defaultLinkExpiry is how long a link printed by casctl url stays valid
// unless --expires says otherwise.
const defaultLinkExpiry = time.Hour

func urlCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "url",
		Usage:     "print direct links to blobs (presigned S3 URLs), one per line",
		ArgsUsage: "DIGEST... | --txn T --name NAME",
		Description: "A link lets a browser fetch a blob straight from the bucket. By default it is a presigned\n" +
			"GET URL that expires (--expires, 1s to 168h) and makes the browser save the file under its\n" +
			"name (or show it, with --inline); name and type come from the index when it knows the blob.\n" +
			"--public prints plain URLs, only for a bucket configured as deliberately public\n" +
			"(public_links=true). Links are computed locally: no request is made, and the blob's\n" +
			"presence is not checked. The disk store has no direct links.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "txn", Usage: "link the attachment of transaction `T` named by --name"},
			&cli.StringFlag{Name: "name", Usage: "with --txn: the attachment; with digests: the file name offered to the browser (default: the index's)"},
			&cli.StringFlag{Name: "type", Usage: "the Content-Type the link's response carries (default: the index's)"},
			&cli.DurationFlag{Name: "expires", Value: defaultLinkExpiry, Usage: "how long the link stays valid, 1s to 168h (7 days)"},
			&cli.BoolFlag{Name: "inline", Usage: "ask the browser to show the content rather than download it"},
			&cli.BoolFlag{Name: "public", Usage: "plain, unsigned URLs: only for a bucket configured as public (public_links=true)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error { return runURL(c, e) },
		// A bad flag value (--expires soon) is a usage error, exit 2.
		OnUsageError: func(_ *cli.Context, err error, _ bool) error { return usageError{err} },
	}
}

// linkResult is one link as --json prints it.
type linkResult struct {
	Digest      cas.Digest `json:"digest"`
	URL         string     `json:"url"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"` // absent for public links
	Public      bool       `json:"public"`
	Inline      bool       `json:"inline"`
	Txn         string     `json:"txn,omitempty"`
	Name        string     `json:"name,omitempty"`
	ContentType string     `json:"content_type,omitempty"`
}

// linkTarget is a blob to link and what the link says about it.
type linkTarget struct {
	digest            cas.Digest
	txn, name, ctype  string
	nameSet, ctypeSet bool // given on the command line: the index does not override them
}

func runURL(c *cli.Context, e *env) error {
	opts := cas.LinkOptions{Expires: c.Duration("expires"), Public: c.Bool("public"), Inline: c.Bool("inline")}
	if opts.Public && c.IsSet("expires") {
		return usageError{errors.New("url: a public link does not expire: leave out --expires")}
	}
	if err := opts.Validate(); err != nil {
		return usageError{fmt.Errorf("url: --expires: %w", err)}
	}
	targets, err := urlTargets(c)
	if err != nil {
		return err
	}

	cfg, err := loadConfig(c, e)
	if err != nil {
		return err
	}
	backend, err := openBackend(c.Context, cfg)
	if err != nil {
		return err
	}
	linker, err := openLinker(c.Context, cfg, backend)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if !opts.Public {
		// Public links carry no name or type: the index has nothing to add.
		if err := fillFromIndex(c, cfg, backend, targets); err != nil {
			return err
		}
	}

	results := make([]linkResult, 0, len(targets))
	for _, t := range targets {
		o := opts
		o.Name, o.ContentType = t.name, t.ctype
		signed := time.Now().UTC().Truncate(time.Second)
		link, err := linker.Link(c.Context, t.digest, o)
		if err != nil {
			return fmt.Errorf("url: %w", err)
		}
		r := linkResult{Digest: t.digest, URL: link, Public: o.Public, Inline: o.Inline, Txn: t.txn}
		if !o.Public {
			r.Name, r.ContentType = t.name, t.ctype
			exp := signed.Add(o.Expires)
			r.ExpiresAt = &exp
		}
		results = append(results, r)
	}
	if c.Bool("json") {
		return printJSON(e.stdout, results)
	}
	for _, r := range results {
		fmt.Fprintln(e.stdout, r.URL)
	}
	return nil
}

// urlTargets reads what to link from the arguments, before any I/O.
func urlTargets(c *cli.Context) ([]linkTarget, error) {
	if c.IsSet("txn") {
		txn, name := c.String("txn"), c.String("name")
		switch {
		case c.NArg() > 0:
			return nil, usageError{errors.New("url: give either DIGEST... or --txn T --name NAME, not both")}
		case txn == "":
			return nil, usageError{fmt.Errorf("url: %w", cas.ErrEmptyTxn)}
		case !c.IsSet("name"):
			return nil, usageError{errors.New("url: --txn needs --name NAME (casctl ls T lists the names)")}
		}
		return []linkTarget{{txn: txn, name: name, nameSet: true, ctype: c.String("type"), ctypeSet: c.IsSet("type")}}, nil
	}
	if err := needArgs(c, 1, "DIGEST (or --txn T --name NAME)"); err != nil {
		return nil, err
	}
	ds, err := parseDigests(c.Args().Slice())
	if err != nil {
		return nil, err
	}
	targets := make([]linkTarget, len(ds))
	for i, d := range ds {
		targets[i] = linkTarget{digest: d, name: c.String("name"), nameSet: c.IsSet("name"), ctype: c.String("type"), ctypeSet: c.IsSet("type")}
	}
	return targets, nil
}

// fillFromIndex resolves --txn/--name to a digest, and gives each digest the
// name and type of its first attachment, where the flags did not set them.
// The index is opened read-only: url never creates or changes one. Without
// an index, digests are linked without name or type; --txn needs one.
func fillFromIndex(c *cli.Context, cfg *config.Config, backend cas.Backend, targets []linkTarget) error {
	byTxn := targets[0].txn != ""
	loc, err := cfg.IndexPath()
	if err != nil {
		return usageError{err}
	}
	ix, err := index.Open(c.Context, loc, backend.Location(), index.ReadOnly())
	if errors.Is(err, fs.ErrNotExist) {
		if byTxn {
			return fmt.Errorf("url: no index at %s, so no transaction %q: %w", loc, cas.SafeName(targets[0].txn), cas.ErrNotFound)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	defer ix.Close()

	for i := range targets {
		t := &targets[i]
		var a cas.Attachment
		if byTxn {
			if a, err = ix.Find(c.Context, t.txn, t.name); err != nil {
				return fmt.Errorf("url: %w", err)
			}
			t.digest = a.Digest
		} else {
			atts, err := ix.AttachmentsOf(c.Context, t.digest)
			if errors.Is(err, cas.ErrNotFound) || err == nil && len(atts) == 0 {
				continue // a blob the index does not know: link it bare
			}
			if err != nil {
				return fmt.Errorf("url: %w", err)
			}
			a = atts[0]
		}
		if !t.nameSet {
			t.name = a.Name
		}
		if !t.ctypeSet {
			t.ctype = a.ContentType
		}
	}
	return nil
}
