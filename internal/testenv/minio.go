package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Variables exported by scripts/test.
const (
	EnvS3Endpoint  = "CASSTORE_TEST_S3_ENDPOINT"   // http://127.0.0.1:PORT
	EnvS3AccessKey = "CASSTORE_TEST_S3_ACCESS_KEY" // the root user
	EnvS3SecretKey = "CASSTORE_TEST_S3_SECRET_KEY"
	EnvMC          = "CASSTORE_TEST_MC"       // path to the mc binary
	EnvMCAlias     = "CASSTORE_TEST_MC_ALIAS" // alias configured via MC_HOST_<alias>
)

// MinIOEnv is the test run's MinIO server, reached as its root user.
type MinIOEnv struct {
	Endpoint  string // http://127.0.0.1:PORT
	Host      string // 127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string        // us-east-1, MinIO's default
	Admin     *minio.Client // root credentials
	MC        string        // path to mc, "" if unknown
	MCAlias   string        // alias under which mc reaches the server
}

// MinIO returns the server scripts/test started, or skips the test (fails
// it when CI=true) if there is none.
func MinIO(t testing.TB) *MinIOEnv {
	t.Helper()
	e := &MinIOEnv{
		Endpoint:  os.Getenv(EnvS3Endpoint),
		AccessKey: os.Getenv(EnvS3AccessKey),
		SecretKey: os.Getenv(EnvS3SecretKey),
		MC:        os.Getenv(EnvMC),
		MCAlias:   os.Getenv(EnvMCAlias),
		Region:    "us-east-1",
	}
	if e.Endpoint == "" || e.AccessKey == "" || e.SecretKey == "" {
		Unavailable(t, "MinIO (%s, %s, %s unset)", EnvS3Endpoint, EnvS3AccessKey, EnvS3SecretKey)
	}
	u, err := url.Parse(e.Endpoint)
	if err != nil || u.Host == "" {
		t.Fatalf("testenv: %s=%q is not a URL", EnvS3Endpoint, e.Endpoint)
	}
	e.Host = u.Host
	e.Admin, err = minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(e.AccessKey, e.SecretKey, ""),
		Secure: u.Scheme == "https",
		Region: e.Region,
	})
	if err != nil {
		t.Fatalf("testenv: minio client: %v", err)
	}
	return e
}

// Unavailable skips the test because a server is missing, or fails it when
// CI=true.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf("testenv: "+format+" is not available: run the tests with scripts/test", args...)
	if InCI() {
		t.Fatal(msg + " (CI=true: a missing server fails the test)")
	}
	t.Skip(msg)
}

// InCI reports whether CI=true, where skips become failures.
func InCI() bool { return os.Getenv("CI") == "true" }

// RandomName returns prefix followed by 12 random hex characters.
func RandomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// NewBucket creates a fresh, empty bucket for this test and returns its
// name. Buckets are not removed: they live in the run's temporary MinIO.
func (e *MinIOEnv) NewBucket(t testing.TB) string {
	t.Helper()
	return e.NewBucketWith(t, minio.MakeBucketOptions{})
}

// NewBucketWith is NewBucket with options (versioning needs
// ObjectLocking, say).
func (e *MinIOEnv) NewBucketWith(t testing.TB, opts minio.MakeBucketOptions) string {
	t.Helper()
	name := RandomName("t-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if opts.Region == "" {
		opts.Region = e.Region
	}
	if err := e.Admin.MakeBucket(ctx, name, opts); err != nil {
		t.Fatalf("testenv: make bucket %s: %v", name, err)
	}
	return name
}

// RunMC runs the mc client with args (use e.MCAlias to name the server) and
// returns its combined output; it fails the test on error. The test is
// skipped (failed in CI) when mc is unknown.
func (e *MinIOEnv) RunMC(t testing.TB, args ...string) string {
	t.Helper()
	if e.MC == "" || e.MCAlias == "" {
		Unavailable(t, "mc (%s, %s unset)", EnvMC, EnvMCAlias)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, e.MC, append([]string{"--no-color", "--quiet"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: mc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// NewUser creates a MinIO user whose only rights are the given policy
// document (JSON) and returns its access and secret key.
func (e *MinIOEnv) NewUser(t testing.TB, policyJSON string) (accessKey, secretKey string) {
	t.Helper()
	accessKey = RandomName("user")
	secretKey = RandomName("secret") + RandomName("")
	policy := RandomName("policy")
	file := t.TempDir() + "/policy.json"
	if err := os.WriteFile(file, []byte(policyJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	e.RunMC(t, "admin", "user", "add", e.MCAlias, accessKey, secretKey)
	e.RunMC(t, "admin", "policy", "create", e.MCAlias, policy, file)
	e.RunMC(t, "admin", "policy", "attach", e.MCAlias, policy, "--user", accessKey)
	return accessKey, secretKey
}
