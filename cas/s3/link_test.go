package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
)

// noNetwork is a Transport that counts requests and fails the test on any:
// links must be pure computation.
type noNetwork struct {
	t testing.TB
	n atomic.Int64
}

func (nn *noNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	nn.n.Add(1)
	nn.t.Errorf("unexpected request: %s %s", r.Method, r.URL.Redacted())
	return nil, errors.New("no network in this test")
}

const (
	offlineAccessKey = "AKIAIOSFODNN7EXAMPLE"
	offlineSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// offlineBackend builds a backend that must never touch the network.
func offlineBackend(t testing.TB, cfg Config) (*Backend, *noNetwork) {
	t.Helper()
	nn := &noNetwork{t: t}
	cfg.Transport = nn
	cfg.AccessKey, cfg.SecretKey = offlineAccessKey, offlineSecretKey
	b, err := New(context.Background(), cfg)
	require.NoError(t, err)
	return b, nn
}

// putBlob stores data through a Store and returns its digest.
func putBlob(t testing.TB, b *Backend, data []byte, contentType string) cas.Digest {
	t.Helper()
	res, err := cas.New(b).Put(context.Background(), bytes.NewReader(data), cas.PutOptions{ContentType: contentType})
	require.NoError(t, err)
	return res.Digest
}

// fetch GETs u with a plain HTTP client (no S3 library involved).
func fetch(t testing.TB, u string) (*http.Response, []byte) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

var testDigest = cas.Sum([]byte("direct links"))

func TestLinkShapesOffline(t *testing.T) {
	d := testDigest
	const name = "Überweisung März.pdf"
	cases := []struct {
		name   string
		cfg    Config
		want   string // URL without the query
		region string
	}{
		{"minio path-style", Config{Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", PathStyle: true},
			"http://127.0.0.1:9000/cas-links/rt/" + d.String(), "us-east-1"},
		{"custom https default port dropped", Config{Endpoint: "https://Storage.Example.com:443", Region: "eu-central-1", PathStyle: true},
			"https://storage.example.com/cas-links/rt/" + d.String(), "eu-central-1"},
		{"custom endpoint auto is path-style", Config{Endpoint: "https://storage.example.com", Region: "garage"},
			"https://storage.example.com/cas-links/rt/" + d.String(), "garage"},
		{"aws us-east-1 virtual-hosted", Config{Endpoint: "https://s3.amazonaws.com", Region: "us-east-1"},
			"https://cas-links.s3.dualstack.us-east-1.amazonaws.com/rt/" + d.String(), "us-east-1"},
		{"aws eu-west-1 virtual-hosted, endpoint from region", Config{Region: "eu-west-1"},
			"https://cas-links.s3.dualstack.eu-west-1.amazonaws.com/rt/" + d.String(), "eu-west-1"},
		{"aws ap-southeast-2 virtual-hosted", Config{Endpoint: "https://s3.ap-southeast-2.amazonaws.com", Region: "ap-southeast-2"},
			"https://cas-links.s3.dualstack.ap-southeast-2.amazonaws.com/rt/" + d.String(), "ap-southeast-2"},
		{"aws sa-east-1 path-style", Config{Region: "sa-east-1", PathStyle: true},
			"https://s3.dualstack.sa-east-1.amazonaws.com/cas-links/rt/" + d.String(), "sa-east-1"},
		{"aws ap-northeast-1 path-style", Config{Region: "ap-northeast-1", PathStyle: true},
			"https://s3.dualstack.ap-northeast-1.amazonaws.com/cas-links/rt/" + d.String(), "ap-northeast-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Bucket, tc.cfg.Prefix, tc.cfg.PublicLinks = "cas-links", "rt", true
			b, nn := offlineBackend(t, tc.cfg)
			before := time.Now().UTC()
			link, err := b.Link(context.Background(), d, cas.LinkOptions{Expires: 90 * time.Minute, Name: name, ContentType: "application/pdf"})
			require.NoError(t, err)
			u, err := url.Parse(link)
			require.NoError(t, err)
			q := u.Query()
			u.RawQuery = ""
			assert.Equal(t, tc.want, u.String())
			assert.Equal(t, "AWS4-HMAC-SHA256", q.Get("X-Amz-Algorithm"))
			assert.Equal(t, "5400", q.Get("X-Amz-Expires"))
			assert.Equal(t, "host", q.Get("X-Amz-SignedHeaders"))
			assert.Regexp(t, regexp.MustCompile(`^`+offlineAccessKey+`/\d{8}/`+tc.region+`/s3/aws4_request$`), q.Get("X-Amz-Credential"))
			signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
			require.NoError(t, err)
			assert.WithinDuration(t, before, signed, 5*time.Second)
			assert.Regexp(t, `^[0-9a-f]{64}$`, q.Get("X-Amz-Signature"))
			assert.Equal(t, cas.ContentDisposition(name, false), q.Get("response-content-disposition"))
			assert.Equal(t, "application/pdf", q.Get("response-content-type"))
			assert.NotContains(t, link, offlineSecretKey)
			assert.NotContains(t, link, url.QueryEscape(offlineSecretKey))

			pub, err := b.Link(context.Background(), d, cas.LinkOptions{Public: true, Name: name})
			require.NoError(t, err)
			assert.Equal(t, tc.want, pub, "a public link is the plain object URL")
			assert.Zero(t, nn.n.Load())
		})
	}

	t.Run("dotted bucket on AWS falls back to path-style", func(t *testing.T) {
		b, _ := offlineBackend(t, Config{Region: "eu-west-1", Bucket: "cas.links.example"})
		link, err := b.Link(context.Background(), d, cas.LinkOptions{Expires: time.Hour})
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(link, "https://s3.dualstack.eu-west-1.amazonaws.com/cas.links.example/"+d.String()+"?"), link)
	})
}

func TestLinkOptionsRefused(t *testing.T) {
	b, _ := offlineBackend(t, Config{Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", Bucket: "cas-links", PathStyle: true})
	ctx := context.Background()
	for _, exp := range []time.Duration{0, 500 * time.Millisecond, -time.Hour, 7*24*time.Hour + time.Second} {
		_, err := b.Link(ctx, testDigest, cas.LinkOptions{Expires: exp})
		assert.ErrorContains(t, err, "must be between 1s and", "expiry %s", exp)
	}
	for _, exp := range []time.Duration{time.Second, 7 * 24 * time.Hour} {
		_, err := b.Link(ctx, testDigest, cas.LinkOptions{Expires: exp})
		assert.NoError(t, err, "expiry %s", exp)
	}
	_, err := b.Link(ctx, testDigest, cas.LinkOptions{Public: true})
	assert.ErrorIs(t, err, cas.ErrNotSupported)
	assert.ErrorContains(t, err, "public_links")
	_, err = b.Link(ctx, testDigest, cas.LinkOptions{Expires: time.Hour, ContentType: "text/html\r\nX-Evil: 1"})
	assert.ErrorContains(t, err, "control characters")
}

// TestLinkNoRequests generates 100,000 links through a Transport that fails
// the test on any request: with the region configured, linking is CPU only.
func TestLinkNoRequests(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 1000
	}
	b, nn := offlineBackend(t, Config{Region: "eu-west-1", Bucket: "cas-links", Prefix: "attachments"})
	ctx := context.Background()
	seen := map[string]bool{}
	for i := range n {
		d := cas.Sum([]byte(fmt.Sprint(i)))
		link, err := b.Link(ctx, d, cas.LinkOptions{Expires: time.Hour, Name: "f.bin"})
		if err != nil {
			t.Fatal(err)
		}
		if i < 100 {
			seen[link] = true
		}
	}
	assert.Len(t, seen, 100)
	assert.Zero(t, nn.n.Load(), "requests made")
}

func TestLinkPresignedMinIO(t *testing.T) {
	b, _ := newBackend(t, func(c *Config) { c.Prefix = "links" })
	data := pseudoRandom(7, 100_000)
	d := putBlob(t, b, data, "application/octet-stream")
	ctx := context.Background()

	for _, tc := range []struct {
		name, file, ctype string
		inline            bool
		wantDisposition   string
	}{
		{"ascii attachment", "report 2026.pdf", "application/pdf", false, "attachment"},
		{"non-ascii inline", "Überweisung – März \"final\"; 日本.pdf", "application/pdf", true, "inline"},
		{"no name, no type", "", "", false, "attachment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			link, err := b.Link(ctx, d, cas.LinkOptions{Expires: 10 * time.Minute, Name: tc.file, ContentType: tc.ctype, Inline: tc.inline})
			require.NoError(t, err)
			resp, body := fetch(t, link)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
			assert.True(t, bytes.Equal(data, body), "body differs from the blob")

			kind, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
			require.NoError(t, err, resp.Header.Get("Content-Disposition"))
			assert.Equal(t, tc.wantDisposition, kind)
			assert.Equal(t, tc.file, params["filename"], "exact name (filename* when not ASCII)")
			wantType := tc.ctype
			if wantType == "" {
				wantType = "application/octet-stream" // stored with the object
			}
			assert.Equal(t, wantType, resp.Header.Get("Content-Type"))
		})
	}
}

func TestLinkExpiresMinIO(t *testing.T) {
	b, _ := newBackend(t)
	data := []byte("short-lived")
	d := putBlob(t, b, data, "text/plain")
	link, err := b.Link(context.Background(), d, cas.LinkOptions{Expires: 2 * time.Second})
	require.NoError(t, err)
	resp, body := fetch(t, link)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, data, body)

	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body = fetch(t, link)
		if resp.StatusCode != http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a 2 s link still works after 20 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.NotContains(t, string(body), string(data))
}

func TestLinkTamperedMinIO(t *testing.T) {
	b, _ := newBackend(t)
	data := []byte("do not touch")
	d := putBlob(t, b, data, "text/plain")
	other := putBlob(t, b, []byte("another blob"), "text/plain")
	link, err := b.Link(context.Background(), d, cas.LinkOptions{Expires: time.Hour, Name: "a.txt"})
	require.NoError(t, err)
	resp, _ := fetch(t, link)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	u, err := url.Parse(link)
	require.NoError(t, err)
	tamper := map[string]func(q url.Values, u *url.URL){
		"signature": func(q url.Values, _ *url.URL) {
			s := []byte(q.Get("X-Amz-Signature"))
			s[len(s)-1] = "01"[boolInt(s[len(s)-1] == '0')]
			q.Set("X-Amz-Signature", string(s))
		},
		"file name":      func(q url.Values, _ *url.URL) { q.Set("response-content-disposition", `attachment; filename="b.html"`) },
		"content type":   func(q url.Values, _ *url.URL) { q.Set("response-content-type", "text/html") },
		"longer expiry":  func(q url.Values, _ *url.URL) { q.Set("X-Amz-Expires", "604800") },
		"another blob":   func(_ url.Values, u *url.URL) { u.Path = strings.Replace(u.Path, d.String(), other.String(), 1) },
		"signature gone": func(q url.Values, _ *url.URL) { q.Del("X-Amz-Signature") }, // 400, malformed
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			v := *u
			q := v.Query()
			f(q, &v)
			v.RawQuery = q.Encode()
			t.Logf("tampered: %s", v.RawQuery)
			resp, body := fetch(t, v.String())
			want := http.StatusForbidden
			if name == "signature gone" {
				want = http.StatusBadRequest
			}
			assert.Equal(t, want, resp.StatusCode, "%s", body)
			assert.NotContains(t, string(body), string(data))
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestLinkPublicMinIO(t *testing.T) {
	b, env := newBackend(t, func(c *Config) { c.PublicLinks = true; c.Prefix = "pub" })
	data := []byte("<p>public</p>")
	d := putBlob(t, b, data, "text/html")
	ctx := context.Background()
	link, err := b.Link(ctx, d, cas.LinkOptions{Public: true, Name: "ignored.html"})
	require.NoError(t, err)
	assert.Equal(t, env.Endpoint+"/"+b.Bucket()+"/pub/"+d.String(), link)

	resp, body := fetch(t, link)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a private bucket refuses plain links: %s", body)

	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, b.Bucket())
	require.NoError(t, env.Admin.SetBucketPolicy(ctx, b.Bucket(), policy))
	resp, body = fetch(t, link)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, data, body)
	assert.Equal(t, "text/html", resp.Header.Get("Content-Type"), "the type stored with the object")

	// A GetObject-only policy does not expose the listing; a policy that
	// also grants s3:ListBucket would (see README, Direct links).
	resp, _ = fetch(t, env.Endpoint+"/"+b.Bucket()+"/")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "listing")
	missing, err := b.Link(ctx, cas.Sum([]byte("not stored")), cas.LinkOptions{Public: true})
	require.NoError(t, err)
	resp, _ = fetch(t, missing)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a missing key (MinIO says 404 even without s3:ListBucket; AWS 403)")

	// Presigned links keep working on a public bucket.
	link, err = b.Link(ctx, d, cas.LinkOptions{Expires: time.Minute, Name: "x.html"})
	require.NoError(t, err)
	resp, body = fetch(t, link)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, data, body)
	assert.Equal(t, `attachment; filename="x.html"`, resp.Header.Get("Content-Disposition"))
}
