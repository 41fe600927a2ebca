package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/config"
)

// env is what a run of casctl sees of its process: tests give their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookup         config.Env
}

// run executes casctl with args (args[0] is the program name) and returns
// the exit code. Every error is printed once, to stderr.
func run(ctx context.Context, args []string, e *env) int {
	app := newApp(e)
	args, err := interspersed(app, args)
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w (%w)", err, context.Canceled)
	}
	fmt.Fprintf(e.stderr, "casctl: %s\n", errorMessage(err))
	return exitCode(err)
}

// errorMessage adds advice to errors whose cause is commonly a setting.
func errorMessage(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, cas.ErrBadCredentials):
		msg += "\n  check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the profile in ~/.aws/credentials (casctl doctor shows where each came from)"
	case errors.Is(err, cas.ErrNoBucket):
		msg += "\n  create it (casctl init) or fix the store setting"
	case errors.Is(err, cas.ErrStoreMismatch):
		msg += "\n  name the index of this store with --index, or move the index with casctl copy and casctl switch (see casctl switch --history)"
	case errors.Is(err, cas.ErrUnavailable):
		msg += "\n  check that the server named above is running and that its address (the endpoint or index setting) is right"
	}
	return msg
}

// storeFlags select and reach the store and index; every command accepts
// them, before or after its name.
func storeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "store", Usage: "store URL: file:///dir or s3://bucket/prefix (env CASCTL_STORE)"},
		&cli.StringFlag{Name: "index", Usage: "transaction index: a path, sqlite:///path or postgres://... (env CASCTL_INDEX)"},
		&cli.StringFlag{Name: "endpoint", Usage: "S3 endpoint URL (env AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)"},
		&cli.StringFlag{Name: "region", Usage: "S3 region (env AWS_REGION, AWS_DEFAULT_REGION)"},
		&cli.StringFlag{Name: "path-style", Usage: "true: path-style S3 URLs; false: virtual-hosted (env CASCTL_PATH_STYLE)"},
		&cli.StringFlag{Name: "profile", Usage: "AWS profile in ~/.aws/credentials and ~/.aws/config (env AWS_PROFILE)"},
	}
}

// jsonFlag is --json, shared by the commands that print results.
var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON"}

func newApp(e *env) *cli.App {
	commands := []*cli.Command{
		putCommand(e),
		getCommand(e),
		statCommand(e),
		lsCommand(e),
		showCommand(e),
		verifyCommand(e),
		urlCommand(e),
		importCommand(e),
		copyCommand(e),
		switchCommand(e),
		doctorCommand(e),
		initCommand(e),
		serveCommand(e),
		indexCommand(e),
	}
	commands = append(commands, refuseCommands()...)
	for _, c := range commands {
		c.Flags = append(c.Flags, storeFlags()...)
		if c.OnUsageError == nil {
			c.OnUsageError = usageErrorHandler
		}
	}
	return &cli.App{
		Name:  "casctl",
		Usage: "content-addressed, append-only attachment store",
		Description: "Exit codes: 0 ok, 1 other error, 2 usage or configuration, 3 not found, 4 content does not\n" +
			"match its digest, 5 finished with problems, 6 store or index unreachable, 7 access denied,\n" +
			"8 refused (the store is append-only), 130 interrupted. README.md has the details.",
		Flags:                storeFlags(),
		Commands:             commands,
		Reader:               e.stdin,
		Writer:               e.stdout,
		ErrWriter:            e.stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		ExitErrHandler:       func(*cli.Context, error) {}, // run maps errors to codes
		OnUsageError:         usageErrorHandler,
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(e.stderr, "casctl: unknown command %q; see casctl --help\n", name)
		},
	}
}

// usageErrorHandler makes a bad flag value exit with exitUsage.
func usageErrorHandler(_ *cli.Context, err error, _ bool) error { return usageError{err} }

// loadConfig resolves the configuration from the command's flags and the
// environment.
func loadConfig(c *cli.Context, e *env) (*config.Config, error) {
	flags := map[string]string{}
	for _, ctx := range c.Lineage() {
		for _, name := range ctx.LocalFlagNames() {
			if _, seen := flags[name]; !seen {
				flags[name] = ctx.String(name)
			}
		}
	}
	cfg, err := config.Load(flags, e.lookup)
	if err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

// parseDigests parses every argument as a digest, before any I/O.
func parseDigests(args []string) ([]cas.Digest, error) {
	ds := make([]cas.Digest, 0, len(args))
	for _, a := range args {
		d, err := cas.Parse(a)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// needArgs checks the number of positional arguments.
func needArgs(c *cli.Context, min int, what string) error {
	if c.NArg() < min {
		return usageError{fmt.Errorf("%s: missing %s; see casctl %s --help", c.Command.Name, what, c.Command.Name)}
	}
	return nil
}

// refuseCommands answer the commands people type to remove or change data.
func refuseCommands() []*cli.Command {
	var cmds []*cli.Command
	for _, name := range []string{"rm", "delete", "del", "remove", "overwrite", "update", "mv", "gc", "prune"} {
		cmds = append(cmds, &cli.Command{
			Name:            name,
			Hidden:          true,
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				return fmt.Errorf("%s: %w.\n  A blob is named by the SHA-256 of its bytes and may be shared by many transactions;\n  casstore keeps every blob and every index row forever, so an attachment can always be\n  proven intact. To stop using a blob, stop referring to it in your application", name, cas.ErrImmutable)
			},
		})
	}
	return cmds
}

// safeJoin renders untrusted strings comma-separated, each made safe with
// cas.SafeName.
func safeJoin(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = cas.SafeName(s)
	}
	return strings.Join(out, ", ")
}
