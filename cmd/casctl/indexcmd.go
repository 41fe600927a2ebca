package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/config"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/internal/progress"
)

func indexCommand(e *env) *cli.Command {
	cmd := &cli.Command{
		Name:  "index",
		Usage: "inspect, migrate and copy the transaction index",
		Description: "The index is named by --index or CASCTL_INDEX: a path or sqlite:///path (the default,\n" +
			"beside the store), or postgres://user@host:port/database, completed from PGHOST, PGPORT,\n" +
			"PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE and ~/.pgpass as by every PostgreSQL tool.",
		Subcommands: []*cli.Command{
			{
				Name:   "info",
				Usage:  "show where the index is, where each setting came from (never the password), its schema, store and size",
				Flags:  []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error { return runIndexInfo(c, e) },
			},
			{
				Name: "migrate",
				Usage: "create the index or bring its schema up to date, and nothing else: run it as the role that owns\n" +
					"the tables (on PostgreSQL, the application role then needs no DDL right)",
				Flags:  []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error { return runIndexMigrate(c, e) },
			},
			{
				Name:      "copy",
				Usage:     "copy the index, with its ids and times, into another (SQLite to PostgreSQL: one server to many)",
				ArgsUsage: "--to postgres://...",
				Description: "Copies every row (attachments, blobs, store history, verification log, import bookkeeping)\n" +
					"from the configured index, read in one snapshot and never written, to --to, created or\n" +
					"migrated as needed. The destination must be empty or an interrupted copy of this index:\n" +
					"one bound to another store or holding other rows is refused. A rerun finishes an\n" +
					"interrupted copy, or copies what was recorded since. The copy is proven by row counts and\n" +
					"a SHA-256 over the rows of every table, read back from both sides. On PostgreSQL run it\n" +
					"as the tables' owner (it moves the id sequences past the copied ids).",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "to", Usage: "the destination index: postgres://... (or a path)", Required: true},
					jsonFlag,
				},
				Action: func(c *cli.Context) error { return runIndexCopy(c, e) },
			},
		},
	}
	for _, sub := range cmd.Subcommands {
		sub.Flags = append(sub.Flags, storeFlags()...)
	}
	return cmd
}

// indexLocation returns the configured index location and where it came
// from.
func indexLocation(c *cli.Context, e *env) (string, string, error) {
	cfg, err := loadConfig(c, e)
	if err != nil {
		return "", "", err
	}
	loc, err := cfg.IndexPath()
	if err != nil {
		return "", "", usageError{err}
	}
	src := cfg.Setting(config.Index).Source
	if cfg.Get(config.Index) == "" {
		src = "default, from the store (from " + cfg.Setting(config.Store).Source + ")"
	}
	return loc, src, nil
}

type indexInfo struct {
	Index      string                  `json:"index"` // without the password
	Source     string                  `json:"source"`
	Engine     string                  `json:"engine"`
	Connection []index.ConnSetting     `json:"connection,omitempty"`
	Schema     int                     `json:"schema_version"`
	Migrations []index.MigrationRecord `json:"migrations"`
	Stores     []index.StoreRecord     `json:"stores"`
	Stats      index.Stats             `json:"stats"`
	Missing    bool                    `json:"missing,omitempty"` // no index there yet
}

func runIndexInfo(c *cli.Context, e *env) error {
	loc, src, err := indexLocation(c, e)
	if err != nil {
		return err
	}
	info := indexInfo{Index: index.Redact(loc), Source: src, Engine: "sqlite"}
	if index.IsPostgres(loc) {
		info.Engine = "postgres"
		if info.Connection, err = index.PostgresSettings(loc, os.LookupEnv); err != nil {
			return usageError{err}
		}
	}
	// Read-only: info changes nothing, and works for a role that may only
	// read.
	ix, err := index.Open(c.Context, loc, "", index.ReadOnly())
	if errors.Is(err, fs.ErrNotExist) {
		info.Missing = true
		return printIndexInfo(e, info, c.Bool("json"))
	}
	if err != nil {
		return fmt.Errorf("index info: %w", err)
	}
	defer ix.Close()
	ctx := c.Context
	if info.Schema, err = ix.SchemaVersion(ctx); err != nil {
		return err
	}
	if info.Migrations, err = ix.Migrations(ctx); err != nil {
		return err
	}
	if info.Stores, err = ix.StoreHistory(ctx); err != nil {
		return err
	}
	if info.Stats, err = ix.Stats(ctx); err != nil {
		return err
	}
	return printIndexInfo(e, info, c.Bool("json"))
}

func printIndexInfo(e *env, info indexInfo, asJSON bool) error {
	if asJSON {
		return printJSON(e.stdout, info)
	}
	w := e.stdout
	fmt.Fprintf(w, "index\t%s\t(from %s)\n", info.Index, info.Source)
	fmt.Fprintf(w, "engine\t%s\n", info.Engine)
	for _, s := range info.Connection {
		v := s.Value
		if s.Name == "password" && v == "" {
			v = "not set"
		}
		fmt.Fprintf(w, "  %s\t%s\t(from %s)\n", s.Name, v, s.Source)
	}
	if info.Missing {
		fmt.Fprintf(w, "schema\tnone: no index there yet (the first put or import, or casctl index migrate, creates it)\n")
		return nil
	}
	names := make([]string, len(info.Migrations))
	for i, m := range info.Migrations {
		names[i] = fmt.Sprintf("%04d_%s", m.Version, m.Name)
	}
	fmt.Fprintf(w, "schema\tversion %d (%s)\n", info.Schema, strings.Join(names, ", "))
	for i, s := range info.Stores {
		what := "store\t"
		if i < len(info.Stores)-1 {
			what = "earlier\t"
		}
		fmt.Fprintf(w, "%s%s\t(since %s)\n", what, s.Location, s.Created.Local().Format(time.RFC3339))
	}
	if len(info.Stores) == 0 {
		fmt.Fprintf(w, "store\tnone recorded yet\n")
	}
	st := info.Stats
	fmt.Fprintf(w, "rows\t%d attachments in %d transactions, %d blobs (%s)\n", st.Attachments, st.Transactions, st.Blobs, progress.Bytes(st.Bytes))
	return nil
}

func runIndexMigrate(c *cli.Context, e *env) error {
	loc, _, err := indexLocation(c, e)
	if err != nil {
		return err
	}
	ix, err := index.Open(c.Context, loc, "")
	if err != nil {
		return fmt.Errorf("index migrate: %w", err)
	}
	defer ix.Close()
	ms, err := ix.Migrations(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(e.stdout, ms)
	}
	last := ms[len(ms)-1]
	fmt.Fprintf(e.stdout, "index %s: schema version %d (%04d_%s)\n", ix.Path(), last.Version, last.Version, last.Name)
	return nil
}

func runIndexCopy(c *cli.Context, e *env) error {
	loc, _, err := indexLocation(c, e)
	if err != nil {
		return err
	}
	to := c.String("to")
	if to == "" {
		return usageError{fmt.Errorf("index copy: --to is empty")}
	}
	ctx := c.Context
	src, err := index.Open(ctx, loc, "", index.ReadOnly())
	if err != nil {
		return fmt.Errorf("index copy: source: %w", err)
	}
	defer src.Close()
	dst, err := index.Open(ctx, to, "")
	if err != nil {
		return fmt.Errorf("index copy: destination: %w", err)
	}
	defer dst.Close()
	bar := progress.New(e.stderr, "index copy (batches of rows)", 0, 0)
	res, err := index.Copy(ctx, src, dst, func(string, int64) { bar.AddItem() })
	bar.Finish()
	if errors.Is(err, index.ErrCopyDestination) {
		return usageError{fmt.Errorf("index copy: %w", err)}
	}
	if err != nil {
		return fmt.Errorf("index copy: %w", err)
	}
	if c.Bool("json") {
		return printJSON(e.stdout, res)
	}
	for _, r := range res {
		fmt.Fprintf(e.stdout, "%s\t%d rows (%d copied now)\tsha256 %s\n", r.Table, r.Rows, r.Copied, r.Checksum)
	}
	fmt.Fprintf(e.stdout, "copied %s to %s: counts and checksums match\n", src.Path(), dst.Path())
	return nil
}
