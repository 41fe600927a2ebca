package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas/s3"
)

func initCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create the store: a bucket with the right settings, or a directory",
		Description: "For s3:// stores, creates the bucket in the configured region with default encryption\n" +
			"(SSE-S3, or SSE-KMS with --sse kms --sse-kms-key-id K), no bucket policy (nothing\n" +
			"public) and, with --object-lock, S3 Object Lock (WORM; implies versioning; can only be\n" +
			"chosen now). With --object-lock-mode and --object-lock-retention the bucket's default\n" +
			"retention is set too, and every put carries that retention when the same settings are\n" +
			"configured. An existing bucket is left alone. For a directory store, creates it.",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "object-lock", Usage: "create the bucket with Object Lock (implied by --object-lock-mode)"},
			jsonFlag,
		}, uploadFlags()...),
		Action: func(c *cli.Context) error { return runInit(c, e) },
	}
}

// initResult is init's report.
type initResult struct {
	Store         string `json:"store"`
	Created       bool   `json:"created"`
	Region        string `json:"region,omitempty"`
	ObjectLock    bool   `json:"object_lock"`
	Versioning    bool   `json:"versioning"`
	Encryption    string `json:"default_encryption,omitempty"`
	Retention     string `json:"default_retention,omitempty"`
	PublicPolicy  bool   `json:"public_policy"`
	NextStepsHint string `json:"next,omitempty"`
}

func runInit(c *cli.Context, e *env) error {
	cfg, err := loadConfig(c, e)
	if err != nil {
		return err
	}
	u, err := cfg.StoreURL()
	if err != nil {
		return usageError{err}
	}
	var res initResult
	switch u.Scheme {
	case "file":
		res = initResult{Store: u.String()}
		if _, err := os.Stat(u.Dir); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(u.Dir, 0o750); err != nil {
				return fmt.Errorf("init: %w", err)
			}
			res.Created = true
		} else if err != nil {
			return fmt.Errorf("init: %w", err)
		}
	case "s3":
		sc, err := s3Config(cfg, u)
		if err != nil {
			return err
		}
		lock := c.Bool("object-lock") || sc.LockMode != ""
		_, created, err := s3.CreateBucket(c.Context, sc, s3.BucketOptions{ObjectLock: lock})
		if err != nil {
			return fmt.Errorf("init: %w", err)
		}
		res = initResult{Store: u.String(), Created: true, Region: created.Region, ObjectLock: created.ObjectLock,
			Versioning: created.Versioning, Encryption: created.Encryption.String(), Retention: created.LockDefault,
			PublicPolicy: created.PublicPolicy}
	default:
		return usageError{fmt.Errorf("init: store %s: unsupported", u)}
	}
	res.NextStepsHint = "give each application a least-privilege credential (docs/policies/writer.json, reader.json, auditor.json), then run casctl doctor"
	if c.Bool("json") {
		return printJSON(e.stdout, res)
	}
	printInit(e, res)
	return nil
}

func printInit(e *env, r initResult) {
	if !r.Created {
		fmt.Fprintf(e.stdout, "%s exists; nothing to do\n", r.Store)
		return
	}
	fmt.Fprintf(e.stdout, "created %s\n", r.Store)
	if r.Region == "" {
		return
	}
	onOff := map[bool]string{true: "on", false: "off"}
	fmt.Fprintf(e.stdout, "  region              %s\n", r.Region)
	fmt.Fprintf(e.stdout, "  object lock         %s\n", onOff[r.ObjectLock])
	if r.Retention != "" {
		fmt.Fprintf(e.stdout, "  default retention   %s\n", r.Retention)
	}
	fmt.Fprintf(e.stdout, "  versioning          %s\n", onOff[r.Versioning])
	fmt.Fprintf(e.stdout, "  default encryption  %s\n", r.Encryption)
	fmt.Fprintf(e.stdout, "  public access       %s\n", map[bool]string{true: "a bucket policy exists: check it", false: "none (no bucket policy)"}[r.PublicPolicy])
	fmt.Fprintf(e.stdout, "next: %s\n", r.NextStepsHint)
}
