package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/doctor"
)

// uploadFlags set the encryption and Object Lock retention of uploads; the
// config keys sse, sse_kms_key_id, object_lock_mode and
// object_lock_retention (and CASCTL_* variables) set them everywhere.
func uploadFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "sse", Usage: "server-side encryption of uploads: s3 (SSE-S3) or kms (SSE-KMS) (env CASCTL_SSE)"},
		&cli.StringFlag{Name: "sse-kms-key-id", Usage: "the KMS key for --sse kms (env CASCTL_SSE_KMS_KEY_ID)"},
		&cli.StringFlag{Name: "object-lock-mode", Usage: "retention mode of new objects: governance or compliance (env CASCTL_OBJECT_LOCK_MODE)"},
		&cli.StringFlag{Name: "object-lock-retention", Usage: "retention period of new objects: 30d, 720h (env CASCTL_OBJECT_LOCK_RETENTION)"},
	}
}

func doctorCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check the store's settings, permissions and bucket, and say what is wrong",
		Description: "Shows where each setting came from (secrets only by their source), then checks the\n" +
			"store: for S3 the endpoint (TLS or not), credentials, bucket, region, a write probe\n" +
			"with the empty blob and its verified read back, anonymous read access, versioning,\n" +
			"Object Lock, lifecycle rules that would expire blobs, encryption and clock skew; for\n" +
			"a directory its permissions, free space, half-written temporary files and stray files.\n" +
			"Each check is ok, warning, failed or \"not permitted\" (the credential may not make that\n" +
			"request: expected under a least-privilege policy). Exit code 5 when a check failed.",
		Flags:  append([]cli.Flag{jsonFlag}, uploadFlags()...),
		Action: func(c *cli.Context) error { return runDoctor(c, e) },
	}
}

func runDoctor(c *cli.Context, e *env) error {
	cfg, err := loadConfig(c, e)
	if err != nil {
		return err
	}
	b, openErr := openBackend(c.Context, cfg)
	r := doctor.Run(c.Context, cfg, b, openErr, doctor.Options{})
	if c.Bool("json") {
		if err := printJSON(e.stdout, r); err != nil {
			return err
		}
	} else {
		r.WriteText(e.stdout)
	}
	if r.Failed() {
		return problemsError{fmt.Errorf("doctor: %d of %d checks failed", r.Count(doctor.Failed), len(r.Checks))}
	}
	return nil
}
