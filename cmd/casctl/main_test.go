package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/internal/testenv"
)

// harness is one isolated casctl environment: its own data and config
// directories and environment variables.
type harness struct {
	t    *testing.T
	dir  string
	vars map[string]string
}

func newCLI(t *testing.T) *harness {
	dir := t.TempDir()
	return &harness{t: t, dir: dir, vars: map[string]string{
		"XDG_DATA_HOME":               filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME":             filepath.Join(dir, "config"),
		"AWS_CONFIG_FILE":             filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws-credentials"),
		"TMPDIR":                      dir,
	}}
}

// s3CLI returns a cli configured for a fresh bucket on the test MinIO.
func s3CLI(t *testing.T) (*harness, *testenv.MinIOEnv, string) {
	m := testenv.MinIO(t)
	bucket := m.NewBucket(t)
	c := newCLI(t)
	c.vars["CASCTL_STORE"] = "s3://" + bucket
	c.vars["AWS_ENDPOINT_URL_S3"] = m.Endpoint
	c.vars["AWS_REGION"] = m.Region
	c.vars["AWS_ACCESS_KEY_ID"] = m.AccessKey
	c.vars["AWS_SECRET_ACCESS_KEY"] = m.SecretKey
	c.vars["CASCTL_PATH_STYLE"] = "true"
	return c, m, bucket
}

// with returns another harness with c's variables, and k set to v.
func (c *harness) with(k, v string) *harness {
	h := newCLI(c.t)
	maps.Copy(h.vars, c.vars)
	h.vars[k] = v
	return h
}

type result struct {
	code           int
	stdout, stderr string
}

func (c *harness) run(stdin io.Reader, args ...string) result {
	c.t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	e := &env{stdin: stdin, stdout: &out, stderr: &errOut, lookup: func(k string) (string, bool) {
		v, ok := c.vars[k]
		return v, ok
	}}
	code := run(context.Background(), append([]string{"casctl"}, args...), e)
	return result{code, out.String(), errOut.String()}
}

func (c *harness) ok(args ...string) string {
	c.t.Helper()
	r := c.run(nil, args...)
	require.Equal(c.t, exitOK, r.code, "casctl %v: %s", args, r.stderr)
	return r.stdout
}

func (c *harness) file(name string, data []byte) string {
	c.t.Helper()
	p := filepath.Join(c.dir, "in", name)
	require.NoError(c.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(c.t, os.WriteFile(p, data, 0o644))
	return p
}

func (c *harness) storeDir() string { return filepath.Join(c.dir, "data", "casstore", "blobs") }

func TestPutGetStatOnDefaultDiskStore(t *testing.T) {
	c := newCLI(t)
	data := []byte("an attachment\n")
	d := cas.Sum(data)
	out := c.ok("put", c.file("a.txt", data))
	assert.Equal(t, d.String()+"  new     14 B  "+filepath.Join(c.dir, "in", "a.txt")+"\n", out)
	out = c.ok("put", c.file("copy.txt", data))
	assert.Contains(t, out, d.String()+"  stored")

	// The blob is in the default disk store under RT's layout.
	_, err := os.Stat(filepath.Join(c.storeDir(), d.String()[:3], d.String()[3:6], d.String()[6:]))
	require.NoError(t, err)

	assert.Equal(t, string(data), c.ok("get", d.String()))
	dst := filepath.Join(c.dir, "out.txt")
	c.ok("get", d.String(), "-o", dst)
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	fi, err := os.Stat(dst)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o666&^currentUmask()), fi.Mode().Perm(), "get -o follows the umask")
	r := c.run(nil, "get", d.String(), "-o", dst)
	assert.Equal(t, exitUsage, r.code, "an existing output file is not replaced without --force")
	c.ok("get", d.String(), "-o", dst, "--force")

	var st []statResult
	require.NoError(t, json.Unmarshal([]byte(c.ok("stat", "--json", d.String())), &st))
	require.Len(t, st, 1)
	assert.Equal(t, int64(len(data)), st[0].Size)
}

func TestPutJSONAndStdin(t *testing.T) {
	c := newCLI(t)
	data := bytes.Repeat([]byte("stdin bytes "), 100_000)
	r := c.run(bytes.NewReader(data), "put", "--json", "-")
	require.Equal(t, exitOK, r.code, r.stderr)
	var outs []putOutcome
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &outs))
	require.Len(t, outs, 1)
	assert.Equal(t, cas.Sum(data), outs[0].Digest)
	assert.True(t, outs[0].New)
	assert.Equal(t, "text/plain; charset=utf-8", outs[0].ContentType)
	entries, err := os.ReadDir(c.dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), "casstore-spool-"), "spool file left behind: %s", e.Name())
	}
}

func TestInvalidDigestRejectedBeforeIO(t *testing.T) {
	c := newCLI(t)
	// A store that cannot be reached: any I/O would fail differently.
	c.vars["CASCTL_STORE"] = "s3://no-such-bucket"
	c.vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1"
	for _, bad := range []string{strings.Repeat("A", 64), "abc", "../../etc/passwd", strings.Repeat("a", 63) + "/"} {
		for _, cmd := range []string{"get", "stat"} {
			r := c.run(nil, cmd, bad)
			assert.Equal(t, exitUsage, r.code, "%s %q: %s", cmd, bad, r.stderr)
			assert.Contains(t, r.stderr, "invalid digest")
		}
	}
}

func TestRemoveIsRefused(t *testing.T) {
	c := newCLI(t)
	for _, cmd := range []string{"rm", "delete", "overwrite"} {
		r := c.run(nil, cmd, cas.EmptyDigest.String())
		assert.Equal(t, exitRefused, r.code)
		assert.Contains(t, r.stderr, "append-only")
	}
}

func TestGetCorruptLeavesNoFile(t *testing.T) {
	c := newCLI(t)
	data := []byte("the true content")
	d := cas.Sum(data)
	c.ok("put", c.file("f", data))
	b, err := disk.New(c.storeDir())
	require.NoError(t, err)
	require.NoError(t, os.Chmod(b.Path(d), 0o644))
	require.NoError(t, os.WriteFile(b.Path(d), []byte("the TRUE content"), 0o644))

	dst := filepath.Join(c.dir, "out")
	r := c.run(nil, "get", d.String(), "-o", dst)
	assert.Equal(t, exitCorrupt, r.code, r.stderr)
	assert.Contains(t, r.stderr, "does not match")
	_, err = os.Stat(dst)
	assert.ErrorIs(t, err, os.ErrNotExist, "no output file from a corrupt blob")
	leftovers, _ := filepath.Glob(filepath.Join(c.dir, ".casctl-get-*"))
	assert.Empty(t, leftovers)

	r = c.run(nil, "get", d.String())
	assert.Equal(t, exitCorrupt, r.code)
	assert.NotEqual(t, "the TRUE content", r.stdout, "stdout never receives the complete wrong body")
}

func TestNotFound(t *testing.T) {
	c := newCLI(t)
	r := c.run(nil, "get", cas.Sum([]byte("nope")).String())
	assert.Equal(t, exitNotFound, r.code)
	r = c.run(nil, "put", filepath.Join(c.dir, "missing-file"))
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "missing-file")
}

func TestBadFlagValueIsUsage(t *testing.T) {
	c := newCLI(t)
	r := c.run(nil, "put", "--no-such-flag", "x")
	assert.Equal(t, exitUsage, r.code, r.stderr)
}

func TestFlagWithoutValueIsUsage(t *testing.T) {
	c := newCLI(t)
	f := c.file("x", []byte("x"))
	for _, args := range [][]string{{"put", f, "--txn"}, {"get", cas.EmptyDigest.String(), "-o"}, {"put", f, "--name"}} {
		r := c.run(nil, args...)
		assert.Equal(t, exitUsage, r.code, "%v: %s", args, r.stderr)
	}
	_, err := os.Stat(filepath.Join(c.dir, "--"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestDoctorNeverPrintsAnIndexPassword(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{"doctor"}, {"doctor", "--json"}} {
		args = append(args, "--index", "postgres://app:hunter2secret@127.0.0.1:1/db?password=qpw-secret")
		r := c.run(nil, args...)
		assert.NotContains(t, r.stdout+r.stderr, "hunter2secret")
		assert.NotContains(t, r.stdout+r.stderr, "qpw-secret")
		assert.Contains(t, r.stdout, "index", "the setting is listed, redacted")
	}
}
