package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/cas/s3"
	"github.com/casstore/casstore/config"
	"github.com/casstore/casstore/internal/testenv"
)

// target is a store to examine: its settings as casctl would resolve them
// from the environment, and the backend built from them.
type target struct {
	t    *testing.T
	vars map[string]string
	sc   s3.Config
}

func s3Target(t *testing.T, env *testenv.MinIOEnv, bucket string) *target {
	dir := t.TempDir()
	return &target{t: t, vars: map[string]string{
		"XDG_CONFIG_HOME":             filepath.Join(dir, "config"),
		"AWS_CONFIG_FILE":             filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws-credentials"),
		"CASCTL_STORE":                "s3://" + bucket,
		"AWS_ENDPOINT_URL_S3":         env.Endpoint,
		"AWS_REGION":                  env.Region,
		"AWS_ACCESS_KEY_ID":           env.AccessKey,
		"AWS_SECRET_ACCESS_KEY":       env.SecretKey,
	}, sc: s3.Config{Endpoint: env.Endpoint, Region: env.Region, Bucket: bucket, PathStyle: true,
		AccessKey: env.AccessKey, SecretKey: env.SecretKey, MaxRetries: 1}}
}

func (tg *target) creds(access, secret string) *target {
	tg.vars["AWS_ACCESS_KEY_ID"], tg.vars["AWS_SECRET_ACCESS_KEY"] = access, secret
	tg.sc.AccessKey, tg.sc.SecretKey = access, secret
	return tg
}

func (tg *target) run(opts ...Options) *Report {
	tg.t.Helper()
	cfg, err := config.Load(nil, func(k string) (string, bool) { v, ok := tg.vars[k]; return v, ok })
	require.NoError(tg.t, err)
	b, err := s3.New(context.Background(), tg.sc)
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	var r *Report
	if err != nil {
		r = Run(context.Background(), cfg, nil, err, o)
	} else {
		r = Run(context.Background(), cfg, b, nil, o)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	tg.t.Log("\n" + text.String())
	js, err := json.Marshal(r)
	require.NoError(tg.t, err)
	for _, secret := range []string{tg.sc.SecretKey} {
		assert.NotContains(tg.t, text.String(), secret, "the secret never appears")
		assert.NotContains(tg.t, string(js), secret)
	}
	return r
}

func status(t *testing.T, r *Report, name string) Status {
	t.Helper()
	c, ok := r.Check(name)
	require.True(t, ok, "no %q check", name)
	return c.Status
}

func detail(r *Report, name string) string {
	c, _ := r.Check(name)
	return c.Detail + " " + c.Advice
}

func TestGoodBucket(t *testing.T) {
	env := testenv.MinIO(t)
	ctx := context.Background()
	tg := s3Target(t, env, "")
	b, _, err := s3.CreateBucket(ctx, func() s3.Config { c := tg.sc; c.Bucket = testenv.RandomName("good-"); return c }(), s3.BucketOptions{})
	require.NoError(t, err)
	tg = s3Target(t, env, b.Bucket())
	r := tg.run()
	assert.False(t, r.Failed())
	for _, name := range []string{CheckEndpoint, CheckCredentials, CheckBucket, CheckRegion, CheckWrite, CheckRead,
		CheckAnonymous, CheckVersioning, CheckObjectLock, CheckLifecycle, CheckEncryption, CheckClock} {
		assert.Equal(t, OK, status(t, r, name), "%s: %s", name, detail(r, name))
	}
	assert.Contains(t, detail(r, CheckEndpoint), "plain HTTP")
	assert.Contains(t, detail(r, CheckEncryption), "SSE-S3")
	assert.Contains(t, detail(r, CheckCredentials), "env AWS_ACCESS_KEY_ID")

	// Where each setting came from; the secret only by its source.
	var secret *Setting
	for i, s := range r.Settings {
		if s.Key == string(config.SecretKey) {
			secret = &r.Settings[i]
		}
	}
	require.NotNil(t, secret)
	assert.Equal(t, "env AWS_SECRET_ACCESS_KEY", secret.Source)
	assert.Empty(t, secret.Value)

	// The probe is the empty blob, now stored.
	_, err = env.Admin.StatObject(ctx, b.Bucket(), cas.EmptyDigest.String(), minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.Contains(t, detail(tg.run(), CheckWrite), "already stored")

	// A clock 20 minutes off fails.
	r = tg.run(Options{Now: func() time.Time { return time.Now().Add(20 * time.Minute) }})
	assert.Equal(t, Failed, status(t, r, CheckClock))
	assert.True(t, r.Failed())
}

func TestMissingBucket(t *testing.T) {
	env := testenv.MinIO(t)
	r := s3Target(t, env, testenv.RandomName("missing-")).run()
	assert.True(t, r.Failed())
	assert.Equal(t, Failed, status(t, r, CheckBucket))
	assert.Contains(t, detail(r, CheckBucket), "casctl init")
	assert.Equal(t, OK, status(t, r, CheckCredentials))
}

func TestWrongCredentials(t *testing.T) {
	env := testenv.MinIO(t)
	for name, pair := range map[string][2]string{
		"wrong secret": {env.AccessKey, "wrong-secret-never-shown"},
		"unknown key":  {"nosuchkey", "wrong-secret-never-shown"},
	} {
		t.Run(name, func(t *testing.T) {
			r := s3Target(t, env, env.NewBucket(t)).creds(pair[0], pair[1]).run()
			assert.True(t, r.Failed())
			assert.Equal(t, Failed, status(t, r, CheckCredentials))
			assert.Contains(t, detail(r, CheckCredentials), "env AWS_SECRET_ACCESS_KEY")
		})
	}
}

func TestPublicBucket(t *testing.T) {
	env := testenv.MinIO(t)
	ctx := context.Background()
	bucket := env.NewBucket(t)
	require.NoError(t, env.Admin.SetBucketPolicy(ctx, bucket, fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, bucket)))
	tg := s3Target(t, env, bucket)
	r := tg.run()
	assert.Equal(t, Warning, status(t, r, CheckAnonymous))
	assert.Contains(t, detail(r, CheckAnonymous), "200")
	assert.False(t, r.Failed(), "a warning, not a failure")

	tg.vars["CASCTL_PUBLIC_LINKS"] = "true"
	r = tg.run()
	assert.Equal(t, OK, status(t, r, CheckAnonymous))
	assert.Contains(t, detail(r, CheckAnonymous), "public_links")
}

func TestLifecycleExpiry(t *testing.T) {
	env := testenv.MinIO(t)
	ctx := context.Background()
	bucket := env.NewBucket(t)
	lc := lifecycle.NewConfiguration()
	lc.Rules = []lifecycle.Rule{
		{ID: "expire-old", Status: "Enabled", Expiration: lifecycle.Expiration{Days: 30}},
		{ID: "other-prefix", Status: "Enabled", RuleFilter: lifecycle.Filter{Prefix: "logs/"}, Expiration: lifecycle.Expiration{Days: 1}},
	}
	require.NoError(t, env.Admin.SetBucketLifecycle(ctx, bucket, lc))
	tg := s3Target(t, env, bucket)
	tg.vars["CASCTL_STORE"] = "s3://" + bucket + "/attachments"
	tg.sc.Prefix = "attachments"
	r := tg.run()
	assert.Equal(t, Warning, status(t, r, CheckLifecycle))
	assert.Contains(t, detail(r, CheckLifecycle), "expire-old")
	assert.Contains(t, detail(r, CheckLifecycle), "30 days")
	assert.NotContains(t, detail(r, CheckLifecycle), "other-prefix", "a rule for another prefix does not touch blobs")
}

// TestLeastPrivilege: a writer's and a reader's doctor report "not
// permitted" for what their policies leave out, and fail nothing.
func TestLeastPrivilege(t *testing.T) {
	env := testenv.MinIO(t)
	bucket := env.NewBucket(t)
	policy := func(actions string, res string) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[%s],"Resource":["%s"]}]}`, actions, res)
	}
	wa, ws := env.NewUser(t, policy(`"s3:PutObject"`, "arn:aws:s3:::"+bucket+"/*"))
	r := s3Target(t, env, bucket).creds(wa, ws).run()
	assert.False(t, r.Failed())
	assert.Equal(t, OK, status(t, r, CheckWrite))
	assert.Equal(t, NotPermitted, status(t, r, CheckRead))
	assert.Contains(t, detail(r, CheckRead), "s3:GetObject")
	assert.Equal(t, NotPermitted, status(t, r, CheckRegion))
	assert.Equal(t, OK, status(t, r, CheckCredentials))
	assert.Equal(t, OK, status(t, r, CheckBucket))

	ra, rs := env.NewUser(t, policy(`"s3:GetObject"`, "arn:aws:s3:::"+bucket+"/*"))
	r = s3Target(t, env, bucket).creds(ra, rs).run()
	assert.False(t, r.Failed())
	assert.Equal(t, NotPermitted, status(t, r, CheckWrite))
	assert.Equal(t, OK, status(t, r, CheckRead))
	assert.Contains(t, detail(r, CheckRead), "verified")
}

func TestLockSettingWithoutObjectLock(t *testing.T) {
	env := testenv.MinIO(t)
	tg := s3Target(t, env, env.NewBucket(t))
	tg.vars["CASCTL_OBJECT_LOCK_MODE"] = "governance"
	tg.sc.LockMode, tg.sc.LockRetention = "governance", time.Hour
	r := tg.run()
	assert.True(t, r.Failed())
	assert.Equal(t, Failed, status(t, r, CheckObjectLock))
	assert.Contains(t, detail(r, CheckObjectLock), "casctl init --object-lock")
}

func TestObjectLockBucket(t *testing.T) {
	env := testenv.MinIO(t)
	tg := s3Target(t, env, env.NewBucketWith(t, minio.MakeBucketOptions{ObjectLocking: true}))
	r := tg.run()
	assert.Equal(t, Warning, status(t, r, CheckObjectLock), "Object Lock without any retention locks nothing")
	assert.Equal(t, OK, status(t, r, CheckVersioning))
	tg.sc.LockMode, tg.sc.LockRetention = "compliance", time.Minute
	r = tg.run()
	assert.Equal(t, OK, status(t, r, CheckObjectLock))
	assert.Contains(t, detail(r, CheckObjectLock), "COMPLIANCE")
}

func TestUnreachableEndpoint(t *testing.T) {
	env := testenv.MinIO(t)
	tg := s3Target(t, env, "some-bucket")
	tg.vars["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:1"
	tg.sc.Endpoint = "http://127.0.0.1:1"
	r := tg.run()
	assert.True(t, r.Failed())
	assert.Equal(t, Failed, status(t, r, CheckEndpoint))
	assert.Len(t, r.Checks, 1, "nothing else can be checked")
}

func TestDisk(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blobs")
	cfg, err := config.Load(map[string]string{"store": dir}, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	b, err := disk.New(dir)
	require.NoError(t, err)

	r := Run(ctx, cfg, b, nil, Options{})
	assert.True(t, r.Failed())
	assert.Equal(t, Failed, status(t, r, CheckDirectory))

	require.NoError(t, os.MkdirAll(dir, 0o755))
	r = Run(ctx, cfg, b, nil, Options{})
	assert.False(t, r.Failed())
	for _, name := range []string{CheckDirectory, CheckPermissions, CheckWrite, CheckRead, CheckTempFiles, CheckStrayFiles} {
		assert.Equal(t, OK, status(t, r, name), "%s: %s", name, detail(r, name))
	}
	_, ok := r.Check(CheckFreeSpace)
	assert.True(t, ok)

	// A crash left a half-written temporary file; someone left notes.
	d := cas.Sum([]byte("x")).String()
	tmp := filepath.Join(dir, d[:3], d[3:6], disk.TempPrefix+"4711")
	require.NoError(t, os.MkdirAll(filepath.Dir(tmp), 0o755))
	require.NoError(t, os.WriteFile(tmp, []byte("hal"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o644))
	r = Run(ctx, cfg, b, nil, Options{})
	assert.Equal(t, OK, status(t, r, CheckTempFiles), "a fresh temporary file may be a put in progress")
	r = Run(ctx, cfg, b, nil, Options{Now: func() time.Time { return time.Now().Add(time.Hour) }})
	assert.Equal(t, Warning, status(t, r, CheckTempFiles))
	assert.Contains(t, detail(r, CheckTempFiles), disk.TempPrefix+"4711")
	assert.Equal(t, Warning, status(t, r, CheckStrayFiles))
	assert.Contains(t, detail(r, CheckStrayFiles), "README")
	assert.False(t, r.Failed())

	var text bytes.Buffer
	r.WriteText(&text)
	assert.True(t, strings.Contains(text.String(), "[warning]"))
}
