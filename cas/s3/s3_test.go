package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/storetest"
	"github.com/casstore/casstore/internal/testenv"
)

// newBackend returns a backend on a fresh bucket of the test MinIO, as its
// root user; edit tunes the Config first.
func newBackend(t testing.TB, edit ...func(*Config)) (*Backend, *testenv.MinIOEnv) {
	t.Helper()
	env := testenv.MinIO(t)
	cfg := Config{
		Endpoint:  env.Endpoint,
		Region:    env.Region,
		Bucket:    env.NewBucket(t),
		PathStyle: true,
		AccessKey: env.AccessKey,
		SecretKey: env.SecretKey,
	}
	for _, e := range edit {
		e(&cfg)
	}
	b, err := New(context.Background(), cfg)
	require.NoError(t, err)
	return b, env
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) cas.Backend {
		b, _ := newBackend(t, func(c *Config) { c.Prefix = "attachments" })
		return b
	}, storetest.Options{LargeSize: minPartSize + 3<<20})
}

func pseudoRandom(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func getObject(t testing.TB, env *testenv.MinIOEnv, bucket, key string) []byte {
	t.Helper()
	obj, err := env.Admin.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	require.NoError(t, err)
	defer obj.Close()
	data, err := io.ReadAll(obj)
	require.NoError(t, err)
	return data
}

// putRaw stores data under key as the admin, unconditionally: another
// writer, or an attacker with write access.
func putRaw(t testing.TB, env *testenv.MinIOEnv, bucket, key string, data []byte) {
	t.Helper()
	_, err := env.Admin.PutObject(context.Background(), bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	require.NoError(t, err)
}

// counter is an http.RoundTripper that counts requests by method and the
// request body bytes sent.
type counter struct {
	mu      sync.Mutex
	methods map[string]int
	sent    int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.methods == nil {
		c.methods = map[string]int{}
	}
	c.methods[r.Method]++
	if r.ContentLength > 0 {
		c.sent += r.ContentLength
	}
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *counter) reset() (methods map[string]int, sent int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	methods, sent = c.methods, c.sent
	c.methods, c.sent = nil, 0
	return methods, sent
}

// noLength sends a GET's body without Content-Length (chunked), as some
// S3 gateways do.
type noLength struct{}

func (noLength) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodGet && res.Header.Get("Content-Range") == "" {
		res.Header.Del("Content-Length")
		res.ContentLength = -1
	}
	return res, err
}

// A whole-object GET without a length still reports the blob's size, so
// reads and deep verification check against it.
func TestOpenWithoutContentLength(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t, func(c *Config) { c.Transport = noLength{} })
	s := cas.New(b)
	data := pseudoRandom(4, 70_000)
	res, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
	require.NoError(t, err)

	rc, info, err := b.Open(ctx, res.Digest, 0, -1)
	require.NoError(t, err)
	rc.Close()
	assert.Equal(t, int64(len(data)), info.Size)

	var got bytes.Buffer
	_, err = s.WriteTo(ctx, res.Digest, &got)
	require.NoError(t, err)
	assert.Equal(t, data, got.Bytes())

	rep, err := s.Verify(ctx, nil, cas.VerifyOptions{Scan: true}) // deep: reads through Backend.Open
	require.NoError(t, err)
	assert.Equal(t, int64(1), rep.OK, "deep verify: %+v", rep)
}

func TestDedupUploadsNothing(t *testing.T) {
	ctx := context.Background()
	var cnt counter
	b, _ := newBackend(t, func(c *Config) { c.Transport = &cnt })
	s := cas.New(b)
	data := pseudoRandom(1, 1<<20)

	first, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
	require.NoError(t, err)
	require.True(t, first.New)
	methods, sent := cnt.reset()
	assert.Equal(t, 1, methods[http.MethodPut], "first put: one PUT")
	assert.GreaterOrEqual(t, sent, int64(len(data)))

	second, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
	require.NoError(t, err)
	assert.False(t, second.New)
	methods, sent = cnt.reset()
	assert.Equal(t, map[string]int{http.MethodHead: 1}, methods, "second put: one HEAD, no upload")
	assert.Zero(t, sent)
}

func TestEmptyBlob(t *testing.T) {
	ctx := context.Background()
	b, env := newBackend(t)
	s := cas.New(b)
	res, err := s.Put(ctx, bytes.NewReader(nil), cas.PutOptions{})
	require.NoError(t, err)
	assert.True(t, res.New)
	assert.Equal(t, cas.EmptyDigest, res.Digest)

	info, err := b.Stat(ctx, cas.EmptyDigest)
	require.NoError(t, err)
	assert.Zero(t, info.Size)
	assert.Equal(t, cas.EmptyDigest, info.Checksum, "the server keeps the SHA-256 checksum")
	assert.Empty(t, getObject(t, env, b.Bucket(), b.Key(cas.EmptyDigest)))

	var got bytes.Buffer
	n, err := s.WriteTo(ctx, cas.EmptyDigest, &got)
	require.NoError(t, err)
	assert.Zero(t, n)

	again, err := s.Put(ctx, bytes.NewReader(nil), cas.PutOptions{})
	require.NoError(t, err)
	assert.False(t, again.New)
}

func TestSinglePutStoresChecksumTypeAndDigest(t *testing.T) {
	ctx := context.Background()
	b, env := newBackend(t, func(c *Config) { c.Prefix = "/uploads" })
	data := []byte("%PDF-1.7 not really\n")
	res, err := cas.New(b).Put(ctx, bytes.NewReader(data), cas.PutOptions{ContentType: "application/pdf"})
	require.NoError(t, err)

	assert.Equal(t, "uploads/"+res.Digest.String(), b.Key(res.Digest))
	oi, err := env.Admin.StatObject(ctx, b.Bucket(), b.Key(res.Digest), minio.StatObjectOptions{Checksum: true})
	require.NoError(t, err)
	assert.Equal(t, "application/pdf", oi.ContentType)
	assert.Equal(t, res.Digest.Base64(), oi.ChecksumSHA256)
	assert.Equal(t, res.Digest.String(), oi.UserMetadata[metaSHA256])

	info, err := b.Stat(ctx, res.Digest)
	require.NoError(t, err)
	assert.Equal(t, cas.Info{Size: int64(len(data)), ContentType: "application/pdf", Checksum: res.Digest, ModTime: info.ModTime}, info)
	assert.False(t, info.ModTime.IsZero())
}

func TestMultipart200MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MiB upload skipped in -short mode")
	}
	ctx := context.Background()
	b, env := newBackend(t)
	s := cas.New(b)
	const size = 200 << 20
	path := filepath.Join(t.TempDir(), "big.bin")
	want := storetest.WriteRandomFile(t, path, size)

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	src, cleanup, err := s.Hash(ctx, f)
	require.NoError(t, err)
	defer cleanup()
	require.Equal(t, want, src.Digest)
	require.Len(t, src.Parts, 4)

	// The upload streams from the file: it allocates far less than the blob.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	stored, err := b.Put(ctx, src, cas.PutOptions{})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.True(t, stored)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("upload of %d MiB allocated %.1f MiB", size>>20, float64(alloc)/(1<<20))
	assert.Less(t, alloc, uint64(32<<20), "the upload must not buffer parts in memory")

	oi, err := env.Admin.StatObject(ctx, b.Bucket(), b.Key(want), minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(size), oi.Size)
	assert.Equal(t, want.String(), oi.UserMetadata[metaSHA256])
	assert.True(t, strings.HasSuffix(oi.ETag, "-4"), "multipart ETag %q", oi.ETag)

	n, err := s.WriteTo(ctx, want, io.Discard)
	require.NoError(t, err, "read back verified")
	assert.Equal(t, int64(size), n)

	// A range across the first part boundary.
	rc, info, err := b.Open(ctx, want, minPartSize-10, 20)
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	exp := make([]byte, 20)
	_, err = f.ReadAt(exp, minPartSize-10)
	require.NoError(t, err)
	assert.Equal(t, exp, got)
	assert.Equal(t, int64(size), info.Size)

	again, err := s.PutFile(ctx, path, cas.PutOptions{})
	require.NoError(t, err)
	assert.False(t, again.New)
}

func TestOverwriteRefusedAtS3(t *testing.T) {
	ctx := context.Background()
	b, env := newBackend(t)
	data := []byte("the real blob's bytes")
	d := cas.Sum(data)
	key := b.Key(d)

	t.Run("OtherSize", func(t *testing.T) {
		squat := []byte("a squatter of another size")
		putRaw(t, env, b.Bucket(), key, squat)
		stored, err := b.Put(ctx, storetest.Source(b, data, d), cas.PutOptions{})
		assert.False(t, stored)
		require.ErrorIs(t, err, cas.ErrConflict)
		assert.Contains(t, err.Error(), "bytes")
		assert.Equal(t, squat, getObject(t, env, b.Bucket(), key), "left untouched")
	})

	t.Run("SameSizeOtherChecksum", func(t *testing.T) {
		squat := bytes.ToUpper(data)
		sum := cas.Sum(squat)
		o := minio.PutObjectOptions{DisableContentSha256: true, UserMetadata: map[string]string{"x-amz-checksum-sha256": sum.Base64()}}
		core := minio.Core{Client: env.Admin}
		_, err := core.PutObject(ctx, b.Bucket(), key, bytes.NewReader(squat), int64(len(squat)), "", sum.String(), o)
		require.NoError(t, err)
		stored, err := b.Put(ctx, storetest.Source(b, data, d), cas.PutOptions{})
		assert.False(t, stored)
		require.ErrorIs(t, err, cas.ErrConflict)
		assert.Contains(t, err.Error(), "checksum")
		t.Log(err)
		assert.Equal(t, squat, getObject(t, env, b.Bucket(), key))
	})
}

// TestMultipartRace: another writer creates the key while our multipart
// upload is in flight. Complete answers 412, the other object stays, and the
// put reports what it found.
func TestMultipartRace(t *testing.T) {
	ctx := context.Background()
	data := pseudoRandom(7, minPartSize+1<<20)
	d := cas.Sum(data)

	t.Run("SameBlob", func(t *testing.T) {
		b, env := newBackend(t)
		core := minio.Core{Client: env.Admin}
		b.beforeComplete = func(ctx context.Context, key string) {
			// The other writer stores the same blob, unconditionally.
			_, err := core.PutObject(ctx, b.Bucket(), key, bytes.NewReader(data), int64(len(data)), "", "", minio.PutObjectOptions{})
			require.NoError(t, err)
		}
		stored, err := b.Put(ctx, storetest.Source(b, data, d), cas.PutOptions{})
		require.NoError(t, err)
		assert.False(t, stored, "412 at complete means already stored")
		assertNoUploads(t, env, b)
	})

	t.Run("OtherObject", func(t *testing.T) {
		b, env := newBackend(t)
		squat := []byte("not the blob")
		b.beforeComplete = func(ctx context.Context, key string) { putRaw(t, env, b.Bucket(), key, squat) }
		stored, err := b.Put(ctx, storetest.Source(b, data, d), cas.PutOptions{})
		assert.False(t, stored)
		require.ErrorIs(t, err, cas.ErrConflict)
		assert.Equal(t, squat, getObject(t, env, b.Bucket(), b.Key(d)), "the other writer's object is unchanged")
		assertNoUploads(t, env, b)
	})

	// The mechanism itself, with Core only: initiate with If-None-Match,
	// the key appears, complete answers 412.
	t.Run("Core", func(t *testing.T) {
		b, env := newBackend(t)
		core := minio.Core{Client: env.Admin}
		key := b.Key(d)
		o := minio.PutObjectOptions{}
		o.SetMatchETagExcept("*")
		id, err := core.NewMultipartUpload(ctx, b.Bucket(), key, o)
		require.NoError(t, err)
		p, err := core.PutObjectPart(ctx, b.Bucket(), key, id, 1, bytes.NewReader(data[:1<<20]), 1<<20, minio.PutObjectPartOptions{})
		require.NoError(t, err)
		putRaw(t, env, b.Bucket(), key, []byte("first"))
		_, err = core.CompleteMultipartUpload(ctx, b.Bucket(), key, id, []minio.CompletePart{{PartNumber: 1, ETag: p.ETag}}, o)
		require.Error(t, err)
		assert.True(t, isPrecondition(err), "complete: %v", err)
		assert.False(t, errors.Is(b.mapErr("put", key, "s3:PutObject", err), cas.ErrConflict))
		assert.Equal(t, []byte("first"), getObject(t, env, b.Bucket(), key))
		require.NoError(t, core.AbortMultipartUpload(ctx, b.Bucket(), key, id))
	})
}

// assertNoUploads checks that no multipart upload was left behind.
func assertNoUploads(t *testing.T, env *testenv.MinIOEnv, b *Backend) {
	t.Helper()
	core := minio.Core{Client: env.Admin}
	res, err := core.ListMultipartUploads(context.Background(), b.Bucket(), "", "", "", "", 100)
	require.NoError(t, err)
	assert.Empty(t, res.Uploads, "aborted uploads")
}

func TestTamperedObjectIsCorrupt(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		tamper func([]byte) []byte
	}{
		{"SameSize", func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 1; return c }},
		{"Truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"Longer", func(b []byte) []byte { return append(bytes.Clone(b), 'x') }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, env := newBackend(t)
			s := cas.New(b)
			data := pseudoRandom(3, 100_000)
			res, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
			require.NoError(t, err)
			putRaw(t, env, b.Bucket(), b.Key(res.Digest), tc.tamper(data))

			r, err := s.Open(ctx, res.Digest)
			require.NoError(t, err)
			_, err = io.ReadAll(r)
			r.Close()
			assert.ErrorIs(t, err, cas.ErrCorrupt)
			_, err = s.WriteTo(ctx, res.Digest, io.Discard)
			assert.ErrorIs(t, err, cas.ErrCorrupt)
		})
	}
}

func TestServerDown(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	endpoint := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	b, err := New(ctx, Config{Endpoint: endpoint, Region: "us-east-1", Bucket: "blobs", PathStyle: true,
		AccessKey: "key", SecretKey: "secret-never-shown", MaxRetries: 1})
	require.NoError(t, err, "construction makes no request")

	data := []byte("x")
	_, err = b.Put(ctx, storetest.Source(b, data, cas.Sum(data)), cas.PutOptions{})
	require.ErrorIs(t, err, cas.ErrUnavailable)
	assert.Contains(t, err.Error(), endpoint)
	t.Log(err)
	_, err = b.Stat(ctx, cas.Sum(data))
	assert.ErrorIs(t, err, cas.ErrUnavailable)
	_, _, err = b.Open(ctx, cas.Sum(data), 0, -1)
	assert.ErrorIs(t, err, cas.ErrUnavailable)
	err = b.Walk(ctx, func(cas.Entry) error { return nil })
	assert.ErrorIs(t, err, cas.ErrUnavailable)
	assert.NotContains(t, err.Error(), "secret-never-shown")
}

func TestWrongCredentials(t *testing.T) {
	t.Run("Secret", func(t *testing.T) { testWrongCredentials(t, "") })
	t.Run("SessionToken", func(t *testing.T) { testWrongCredentials(t, "token-8d1e55") })
}

func testWrongCredentials(t *testing.T, token string) {
	ctx := context.Background()
	const secret = "wrong-secret-4f9a2c7e"
	b, env := newBackend(t, func(c *Config) { c.SecretKey = secret; c.SessionToken = token })
	data := []byte("x")
	d := cas.Sum(data)
	_, err := b.Put(ctx, storetest.Source(b, data, d), cas.PutOptions{})
	require.ErrorIs(t, err, cas.ErrBadCredentials)
	t.Log(err)
	_, err2 := b.Stat(ctx, d)
	require.Error(t, err2)
	for _, e := range []error{err, err2} {
		assert.NotContains(t, e.Error(), secret)
		if token != "" {
			assert.NotContains(t, e.Error(), token)
		}
	}
	assert.NotContains(t, b.String(), secret)
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", b.cfg, b.cfg, b.cfg), secret)
	assert.Contains(t, b.String(), env.AccessKey)
	_, err = env.Admin.StatObject(ctx, b.Bucket(), b.Key(d), minio.StatObjectOptions{})
	assert.Error(t, err, "nothing stored")
}

func TestMissingBucket(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t, func(c *Config) { c.Bucket = testenv.RandomName("missing-") })
	data := []byte("x")
	_, err := b.Put(ctx, storetest.Source(b, data, cas.Sum(data)), cas.PutOptions{})
	require.ErrorIs(t, err, cas.ErrNoBucket)
	assert.Contains(t, err.Error(), b.Bucket())
	t.Log(err)
	_, err = b.Stat(ctx, cas.Sum(data))
	require.ErrorIs(t, err, cas.ErrNoBucket)
	err = b.Walk(ctx, func(cas.Entry) error { return nil })
	require.ErrorIs(t, err, cas.ErrNoBucket)
}

func TestWriteOnlyCredential(t *testing.T) {
	ctx := context.Background()
	admin, env := newBackend(t)
	bucket := admin.Bucket()
	access, secret := env.NewUser(t, fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, bucket))
	b, err := New(ctx, Config{Endpoint: env.Endpoint, Region: env.Region, Bucket: bucket, PathStyle: true,
		AccessKey: access, SecretKey: secret})
	require.NoError(t, err)
	s := cas.New(b)

	for _, size := range []int{1000, minPartSize + 1<<20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := pseudoRandom(byte(size), size)
			first, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
			require.NoError(t, err, "the HEAD's AccessDenied is not an error")
			assert.True(t, first.New)
			second, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
			require.NoError(t, err, "dedup through the 412")
			assert.False(t, second.New)
			n, err := cas.New(admin).WriteTo(ctx, first.Digest, io.Discard)
			require.NoError(t, err)
			assert.Equal(t, int64(size), n)
		})
	}

	_, err = b.Stat(ctx, cas.Sum([]byte("anything")))
	require.ErrorIs(t, err, cas.ErrAccessDenied)
	assert.Contains(t, err.Error(), "s3:GetObject")
	t.Log(err)
	err = b.Walk(ctx, func(cas.Entry) error { return nil })
	require.ErrorIs(t, err, cas.ErrAccessDenied)
	assert.Contains(t, err.Error(), "s3:ListBucket")
}

// TestBodyMismatchRefusedByServer: bytes that do not match the digests
// they are sent with (corruption between hashing and sending) are refused
// by the server, and nothing is stored.
func TestBodyMismatchRefusedByServer(t *testing.T) {
	ctx := context.Background()
	b, env := newBackend(t)

	t.Run("Single", func(t *testing.T) {
		data := pseudoRandom(11, 5000)
		d := cas.Sum(data)
		bad := bytes.Clone(data)
		bad[4000] ^= 0x80
		src := storetest.Source(b, bad, d)
		stored, err := b.Put(ctx, src, cas.PutOptions{})
		assert.False(t, stored)
		require.ErrorIs(t, err, cas.ErrCorrupt)
		t.Log(err)
		_, err = b.Stat(ctx, d)
		assert.ErrorIs(t, err, cas.ErrNotFound)
	})

	t.Run("Part", func(t *testing.T) {
		data := pseudoRandom(12, minPartSize+2<<20)
		src := storetest.Source(b, data, cas.Sum(data))
		bad := bytes.Clone(data)
		bad[minPartSize+100] ^= 1 // the second part, after hashing
		src.R = bytes.NewReader(bad)
		stored, err := b.Put(ctx, src, cas.PutOptions{})
		assert.False(t, stored)
		require.ErrorIs(t, err, cas.ErrCorrupt)
		assert.Contains(t, err.Error(), "part 2 of 2")
		t.Log(err)
		_, err = b.Stat(ctx, src.Digest)
		assert.ErrorIs(t, err, cas.ErrNotFound)
		assertNoUploads(t, env, b)
	})
}

func TestSourceWithWrongPartsIsRefused(t *testing.T) {
	b, _ := newBackend(t)
	data := make([]byte, 10)
	src := storetest.Source(b, data, cas.Sum(data))
	src.PartSize, src.Parts = 4, []cas.Digest{{}, {}, {}}
	_, err := b.Put(context.Background(), src, cas.PutOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "part digests")

	big := cas.Source{R: bytes.NewReader(nil), Size: minPartSize + 1, PartSize: minPartSize, Parts: []cas.Digest{{}}}
	_, err = b.Put(context.Background(), big, cas.PutOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "want 2")
}

func TestPartSize(t *testing.T) {
	b, err := New(context.Background(), Config{Endpoint: "http://127.0.0.1:1", Region: "us-east-1", Bucket: "bkt"})
	require.NoError(t, err)
	for _, c := range []struct{ size, want int64 }{
		{0, 0},
		{1, 0},
		{64 << 20, 0},
		{64<<20 + 1, 64 << 20},
		{10000 * 64 << 20, 64 << 20},
		{10000*64<<20 + 1, 128 << 20},
		{5 << 40, 1 << 30},
	} {
		got := b.PartSize(c.size)
		assert.Equal(t, c.want, got, "size %d", c.size)
		if got > 0 {
			assert.LessOrEqual(t, (c.size+got-1)/got, int64(maxParts))
		}
	}
}

func TestLocationAndConfig(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Endpoint: "http://127.0.0.1:9000", Bucket: "blobs"}, "s3://127.0.0.1:9000/blobs/"},
		{Config{Endpoint: "http://127.0.0.1:9000/", Bucket: "blobs", Prefix: "uploads"}, "s3://127.0.0.1:9000/blobs/uploads/"},
		{Config{Endpoint: "HTTPS://S3.example.com:443", Bucket: "blobs", Prefix: "uploads/"}, "s3://s3.example.com/blobs/uploads/"},
		{Config{Region: "eu-west-1", Bucket: "blobs", Prefix: "/a/b/"}, "s3://s3.eu-west-1.amazonaws.com/blobs/a/b/"},
	} {
		b, err := New(ctx, c.cfg)
		require.NoError(t, err, "%v", c.cfg)
		assert.Equal(t, c.want, b.Location())
	}
	for _, bad := range []Config{
		{Endpoint: "http://127.0.0.1:9000"},                          // no bucket
		{Bucket: "blobs"},                                            // no endpoint, no region
		{Endpoint: "ftp://host", Bucket: "blobs"},                    // scheme
		{Endpoint: "127.0.0.1:9000", Bucket: "blobs"},                // no scheme
		{Endpoint: "http://host/path", Bucket: "blobs"},              // path
		{Endpoint: "http://key:secret@host", Bucket: "blobs"},        // credentials in URL
		{Endpoint: "ftp://key:secret@host", Bucket: "blobs"},         // credentials and a bad scheme
		{Endpoint: "key:secret@host", Bucket: "blobs"},               // credentials and no scheme
		{Endpoint: "http://host", Bucket: "blobs", Prefix: "a/../b"}, // traversal
		{Endpoint: "http://host", Bucket: "Not_A_Bucket"},            // bucket name
	} {
		_, err := New(ctx, bad)
		assert.Error(t, err, "%v", bad)
		if err != nil {
			assert.NotContains(t, err.Error(), "key:secret")
		}
		assert.NotContains(t, bad.String(), "secret")
	}
}

func TestWalkUnderPrefix(t *testing.T) {
	ctx := context.Background()
	b, env := newBackend(t, func(c *Config) { c.Prefix = "uploads" })
	data := []byte("walk me")
	res, err := cas.New(b).Put(ctx, bytes.NewReader(data), cas.PutOptions{})
	require.NoError(t, err)
	putRaw(t, env, b.Bucket(), "uploads/README", []byte("not a blob"))
	putRaw(t, env, b.Bucket(), "uploads/"+strings.ToUpper(res.Digest.String()), []byte("upper case is no blob name"))
	putRaw(t, env, b.Bucket(), "elsewhere/"+res.Digest.String(), data)

	got := map[string]cas.Entry{}
	require.NoError(t, b.Walk(ctx, func(e cas.Entry) error { got[e.Name] = e; return nil }))
	assert.Len(t, got, 3)
	assert.Equal(t, cas.Entry{Name: res.Digest.String(), Digest: res.Digest, Valid: true, Size: int64(len(data))}, got[res.Digest.String()])
	assert.False(t, got["README"].Valid)
	assert.False(t, got[strings.ToUpper(res.Digest.String())].Valid)

	stop := errors.New("stop")
	n := 0
	err = b.Walk(ctx, func(cas.Entry) error { n++; return stop })
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, n)
}

func TestOpenRanges(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t)
	data := pseudoRandom(5, 1000)
	res, err := cas.New(b).Put(ctx, bytes.NewReader(data), cas.PutOptions{ContentType: "text/plain"})
	require.NoError(t, err)
	for _, c := range []struct{ off, n, wantLen int64 }{
		{0, -1, 1000}, {999, -1, 1}, {1000, -1, 0}, {0, 0, 0}, {990, 100, 10}, {2000, -1, 0},
	} {
		rc, info, err := b.Open(ctx, res.Digest, c.off, c.n)
		require.NoError(t, err, "%+v", c)
		got, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		assert.Len(t, got, int(c.wantLen), "%+v", c)
		if c.wantLen > 0 {
			assert.Equal(t, data[c.off:c.off+c.wantLen], got)
		}
		assert.Equal(t, int64(1000), info.Size, "%+v", c)
		assert.Equal(t, "text/plain", info.ContentType)
	}
	_, _, err = b.Open(ctx, cas.Sum([]byte("absent")), 0, -1)
	assert.ErrorIs(t, err, cas.ErrNotFound, "reported by Open, not by Read")
}

func TestHiddenByDeleteMarker(t *testing.T) {
	ctx := context.Background()
	b, env := newBackend(t)
	require.NoError(t, env.Admin.EnableVersioning(ctx, b.Bucket()))
	data := []byte("retained but hidden")
	res, err := cas.New(b).Put(ctx, bytes.NewReader(data), cas.PutOptions{})
	require.NoError(t, err)
	require.NoError(t, env.Admin.RemoveObject(ctx, b.Bucket(), b.Key(res.Digest), minio.RemoveObjectOptions{}))

	_, err = b.Stat(ctx, res.Digest)
	assert.ErrorIs(t, err, cas.ErrHidden)
	_, _, err = b.Open(ctx, res.Digest, 0, -1)
	assert.ErrorIs(t, err, cas.ErrHidden)
}
