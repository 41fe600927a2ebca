package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
)

// rawStore reaches a store's objects behind casstore's back, as another
// tool or a rotting disk would.
type rawStore interface {
	name(d cas.Digest) string // the blob's name under the store root
	write(t *testing.T, name string, data []byte)
	remove(t *testing.T, name string)
	read(t *testing.T, name string) []byte
}

type rawDisk struct{ root string }

func (r rawDisk) name(d cas.Digest) string {
	h := d.String()
	return h[:3] + "/" + h[3:6] + "/" + h[6:]
}

func (r rawDisk) write(t *testing.T, name string, data []byte) {
	p := filepath.Join(r.root, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(p), 0o755))
	if _, err := os.Stat(p); err == nil {
		require.NoError(t, os.Chmod(p, 0o644)) // blobs are read-only
	}
	require.NoError(t, os.WriteFile(p, data, 0o644))
}

func (r rawDisk) remove(t *testing.T, name string) {
	p := filepath.Join(r.root, filepath.FromSlash(name))
	require.NoError(t, os.Chmod(filepath.Dir(p), 0o755))
	require.NoError(t, os.Remove(p))
}

func (r rawDisk) read(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join(r.root, filepath.FromSlash(name)))
	require.NoError(t, err)
	return b
}

type rawS3 struct {
	admin  *minio.Client
	bucket string
}

func (r rawS3) name(d cas.Digest) string { return d.String() }

func (r rawS3) write(t *testing.T, name string, data []byte) {
	_, err := r.admin.PutObject(context.Background(), r.bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	require.NoError(t, err)
}

func (r rawS3) remove(t *testing.T, name string) {
	require.NoError(t, r.admin.RemoveObject(context.Background(), r.bucket, name, minio.RemoveObjectOptions{}))
}

func (r rawS3) read(t *testing.T, name string) []byte {
	o, err := r.admin.GetObject(context.Background(), r.bucket, name, minio.GetObjectOptions{})
	require.NoError(t, err)
	defer o.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(o)
	require.NoError(t, err)
	return b.Bytes()
}

// verifyReport runs verify --json with args and parses the report.
func verifyReport(t *testing.T, c *harness, wantCode int, args ...string) cas.VerifyReport {
	t.Helper()
	r := c.run(nil, append([]string{"verify", "--json"}, args...)...)
	require.Equal(t, wantCode, r.code, "verify %v: %s", args, r.stderr)
	var rep cas.VerifyReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.stdout)
	return rep
}

// problems maps each problem's digest to its outcome and transactions.
func problems(rep cas.VerifyReport) map[cas.Digest]string {
	out := map[cas.Digest]string{}
	for _, p := range rep.Problems {
		out[p.Digest] = string(p.Outcome) + " " + strings.Join(p.Txns, ",")
	}
	return out
}

func TestVerifyDisk(t *testing.T) {
	c := newCLI(t)
	testVerify(t, c, rawDisk{c.storeDir()})
}

func TestVerifyS3(t *testing.T) {
	c, m, bucket := s3CLI(t)
	testVerify(t, c, rawS3{m.Admin, bucket})
}

func testVerify(t *testing.T, c *harness, raw rawStore) {
	blobs := map[string][]byte{
		"gone":  []byte("an attachment that will be deleted"),
		"bad":   []byte("an attachment that will be overwritten"),
		"short": []byte("an attachment that will be truncated"),
		"fine":  []byte("an attachment left alone"),
	}
	d := map[string]cas.Digest{}
	for name, data := range blobs {
		d[name] = cas.Sum(data)
	}
	c.ok("put", "--txn", "T1", c.file("gone", blobs["gone"]), c.file("bad", blobs["bad"]))
	c.ok("put", "--txn", "T2", c.file("short", blobs["short"]), c.file("fine", blobs["fine"]))
	c.ok("put", "--txn", "T3", c.file("gone2", blobs["gone"]))
	orphan := []byte("stored but never recorded")
	c.ok("put", c.file("orphan", orphan))

	// A clean store verifies OK, deep and quick.
	out := c.ok("verify")
	assert.Contains(t, out, "checked 4 blobs (deep)")
	assert.Contains(t, out, "4 ok, 0 missing, 0 corrupt, 0 size mismatch, 0 hidden")
	rep := verifyReport(t, c, exitOK, "--quick")
	assert.Equal(t, int64(4), rep.OK)
	assert.Equal(t, "quick", rep.Mode)
	assert.Empty(t, rep.OrphanList, "orphans are listed only with --orphans")

	// Behind the store's back: deleted, overwritten with other bytes of
	// the same size, truncated; and a stray that is not a blob.
	raw.remove(t, raw.name(d["gone"]))
	other := bytes.ToUpper(blobs["bad"])
	raw.write(t, raw.name(d["bad"]), other)
	raw.write(t, raw.name(d["short"]), blobs["short"][:10])
	raw.write(t, "notes.txt", []byte("someone's notes"))

	r := c.run(nil, "verify")
	assert.Equal(t, exitProblems, r.code, r.stderr)
	assert.Regexp(t, `MISSING +`+d["gone"].String()+`.*txns: T1, T3`, r.stdout)
	assert.Regexp(t, `CORRUPT +`+d["bad"].String()+`.*txns: T1`, r.stdout)
	assert.Regexp(t, `SIZE_MISMATCH +`+d["short"].String()+`.*txns: T2`, r.stdout)
	assert.NotContains(t, r.stdout, d["fine"].String())
	assert.NotContains(t, r.stdout, "ORPHAN")
	assert.Contains(t, r.stdout, "checked 4 blobs (deep)")
	assert.Contains(t, r.stdout, "1 ok, 1 missing, 1 corrupt, 1 size mismatch, 0 hidden")
	assert.Contains(t, r.stderr, "3 of 4 blobs have problems")

	// The JSON report says the same.
	rep = verifyReport(t, c, exitProblems)
	assert.Equal(t, map[cas.Digest]string{
		d["gone"]: "missing T1,T3", d["bad"]: "corrupt T1", d["short"]: "size_mismatch T2",
	}, problems(rep))
	assert.Equal(t, [6]int64{4, 1, 1, 1, 1, 0}, [6]int64{rep.Checked, rep.OK, rep.Missing, rep.Corrupt, rep.SizeMismatch, rep.Hidden})
	assert.Equal(t, int64(len(blobs["bad"])+len(blobs["fine"])), rep.BytesRead, "the truncated blob is not read")
	assert.Equal(t, int64(4), rep.Recorded)
	assert.False(t, rep.Interrupted)

	// Quick sees what metadata shows: missing, the wrong size.
	rep = verifyReport(t, c, exitProblems, "--quick")
	assert.Equal(t, int64(1), rep.Missing)
	assert.Equal(t, int64(1), rep.SizeMismatch)
	assert.Equal(t, int64(0), rep.BytesRead)

	// --orphans lists the blob no row references, and the stray.
	rep = verifyReport(t, c, exitProblems, "--orphans")
	require.Len(t, rep.OrphanList, 1)
	assert.Equal(t, cas.Sum(orphan), rep.OrphanList[0].Digest)
	assert.Equal(t, []string{"notes.txt"}, rep.StrayList)
	r = c.run(nil, "verify", "--orphans")
	assert.Regexp(t, `ORPHAN +`+cas.Sum(orphan).String(), r.stdout)
	assert.Regexp(t, `STRAY +notes.txt +not a blob name, left alone`, r.stdout)

	// --scan walks the store: the orphan is checked too, the deleted blob
	// is still missing (the index knows it).
	rep = verifyReport(t, c, exitProblems, "--scan")
	assert.Equal(t, int64(5), rep.Checked)
	assert.Equal(t, int64(1), rep.Missing)
	assert.Equal(t, []string{"notes.txt"}, rep.StrayList)

	// Subsets: digests, a transaction.
	rep = verifyReport(t, c, exitOK, d["fine"].String())
	assert.Equal(t, int64(1), rep.Checked)
	rep = verifyReport(t, c, exitProblems, "--txn", "T2")
	assert.Equal(t, int64(2), rep.Checked)
	assert.Equal(t, map[cas.Digest]string{d["short"]: "size_mismatch T2"}, problems(rep))
	r = c.run(nil, "verify", "--txn", "nope")
	assert.Equal(t, exitNotFound, r.code, r.stderr)

	// Nothing was changed: the stray and the bad blob are as they were.
	assert.Equal(t, "someone's notes", string(raw.read(t, "notes.txt")))
	assert.Equal(t, other, raw.read(t, raw.name(d["bad"])))
}

// An S3 blob hidden by a delete marker is reported hidden, not missing.
func TestVerifyS3Hidden(t *testing.T) {
	c, m, _ := s3CLI(t)
	bucket := m.NewBucketWith(t, minio.MakeBucketOptions{ObjectLocking: true})
	c.vars["CASCTL_STORE"] = "s3://" + bucket
	data := []byte("a recording under Object Lock")
	c.ok("put", "--txn", "T", c.file("rec", data))
	require.NoError(t, m.Admin.RemoveObject(context.Background(), bucket, cas.Sum(data).String(), minio.RemoveObjectOptions{}))
	rep := verifyReport(t, c, exitProblems)
	assert.Equal(t, int64(1), rep.Hidden)
	assert.Equal(t, int64(0), rep.Missing)
	assert.Equal(t, map[cas.Digest]string{cas.Sum(data): "hidden T"}, problems(rep))
	r := c.run(nil, "verify", "--quick")
	assert.Equal(t, exitProblems, r.code)
	assert.Contains(t, r.stdout, "HIDDEN")
	assert.Contains(t, r.stdout, "still retained")
}

func TestVerifyScanWithoutIndexDisk(t *testing.T) {
	c := newCLI(t)
	dir := filepath.Join(c.dir, "rt-attachments")
	c.vars["CASCTL_STORE"] = "file://" + dir
	raw := rawDisk{dir}
	testScanWithoutIndex(t, c, raw)
	raw.write(t, "abc/def/"+disk.TempPrefix+"123", []byte("half a put"))
	rep := verifyReport(t, c, exitProblems, "--scan")
	assert.Equal(t, []string{"abc/def/" + disk.TempPrefix + "123"}, rep.LeftoverList)
	_, err := os.Stat(dir + ".index.db")
	assert.ErrorIs(t, err, os.ErrNotExist, "verify --scan creates no index")
}

func TestVerifyScanWithoutIndexS3(t *testing.T) {
	c, m, bucket := s3CLI(t)
	testScanWithoutIndex(t, c, rawS3{m.Admin, bucket})
}

// testScanWithoutIndex checks a store written by another tool with the same
// layout, and no index: one bad blob among good ones, and a stray.
func testScanWithoutIndex(t *testing.T, c *harness, raw rawStore) {
	for i := range 6 {
		data := bytes.Repeat([]byte{byte('a' + i)}, 1000*i)
		raw.write(t, raw.name(cas.Sum(data)), data)
	}
	bad := cas.Sum([]byte("what should be here"))
	raw.write(t, raw.name(bad), []byte("what is here instead"))
	raw.write(t, "README", []byte("not a blob"))

	r := c.run(nil, "verify")
	assert.Equal(t, exitUsage, r.code, "without --scan verify needs an index: %s", r.stderr)
	assert.Contains(t, r.stderr, "--scan")

	rep := verifyReport(t, c, exitProblems, "--scan")
	assert.Equal(t, int64(7), rep.Checked)
	assert.Equal(t, int64(6), rep.OK)
	assert.Equal(t, map[cas.Digest]string{bad: "corrupt "}, problems(rep))
	assert.Equal(t, []string{"README"}, rep.StrayList)
	assert.Equal(t, int64(0), rep.Recorded)
	r = c.run(nil, "verify", "--scan")
	assert.Regexp(t, `CORRUPT +`+bad.String()+`.*not in the index`, r.stdout)
	assert.Equal(t, "not a blob", string(raw.read(t, "README")))

	r = c.run(nil, "verify", "--scan", "--orphans")
	assert.Equal(t, exitUsage, r.code, "--orphans needs an index: %s", r.stderr)
}

func TestVerifySince(t *testing.T) {
	c := newCLI(t)
	for i := range 3 {
		c.ok("put", "--txn", "T", c.file("f"+string(rune('0'+i)), []byte(strings.Repeat("x", i+1))))
	}
	rep := verifyReport(t, c, exitOK, "--quick")
	assert.Equal(t, int64(3), rep.Checked)
	// A quick check does not vouch for a deep one.
	rep = verifyReport(t, c, exitOK, "--since", "1h")
	assert.Equal(t, [2]int64{3, 0}, [2]int64{rep.Checked, rep.Skipped})
	rep = verifyReport(t, c, exitOK, "--since", "7d")
	assert.Equal(t, [2]int64{0, 3}, [2]int64{rep.Checked, rep.Skipped})
	rep = verifyReport(t, c, exitOK, "--quick", "--since", "1h")
	assert.Equal(t, [2]int64{0, 3}, [2]int64{rep.Checked, rep.Skipped})
	rep = verifyReport(t, c, exitOK, "--since", "1ns")
	assert.Equal(t, [2]int64{3, 0}, [2]int64{rep.Checked, rep.Skipped})

	// A blob found bad is checked again whatever --since says.
	d := cas.Sum([]byte("x"))
	rawDisk{c.storeDir()}.remove(t, rawDisk{}.name(d))
	rep = verifyReport(t, c, exitProblems, "--quick")
	assert.Equal(t, int64(1), rep.Missing)
	rep = verifyReport(t, c, exitProblems, "--since", "7d")
	assert.Equal(t, [3]int64{1, 2, 1}, [3]int64{rep.Checked, rep.Skipped, rep.Missing})

	for _, bad := range []string{"soon", "-1h", "0d", "1.5d"} {
		r := c.run(nil, "verify", "--since", bad)
		assert.Equal(t, exitUsage, r.code, "--since %s: %s", bad, r.stderr)
	}
}

func TestVerifyUsageAndUnavailable(t *testing.T) {
	c := newCLI(t)
	c.ok("put", "--txn", "T", c.file("a", []byte("a")))
	for _, args := range [][]string{
		{"verify", "not-a-digest"},
		{"verify", "--scan", cas.Sum([]byte("a")).String()},
		{"verify", "--orphans", "--txn", "T"},
		{"verify", "--jobs", "0"},
		{"verify", "--txn", ""},
	} {
		r := c.run(nil, args...)
		assert.Equal(t, exitUsage, r.code, "%v: %s", args, r.stderr)
	}

	s, m, _ := s3CLI(t)
	s.ok("put", "--txn", "T", s.file("a", []byte("a")))
	s.vars["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:1"
	r := s.run(nil, "verify", "--index", filepath.Join(s.dir, "other.db"), "--scan")
	assert.Equal(t, exitUnavailable, r.code, r.stderr)
	assert.NotContains(t, r.stdout+r.stderr, m.SecretKey)
}
