package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
)

// get fetches u with a plain HTTP client.
func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// disposition parses a Content-Disposition header.
func disposition(t *testing.T, h http.Header) (kind, filename string) {
	t.Helper()
	kind, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	require.NoError(t, err, h.Get("Content-Disposition"))
	return kind, params["filename"]
}

func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

func TestURLDiskStoreHasNoLinks(t *testing.T) {
	c := newCLI(t)
	d := cas.Sum([]byte("on disk"))
	r := c.run(nil, "url", d.String())
	assert.Equal(t, exitUsage, r.code, r.stderr)
	assert.Contains(t, r.stderr, "direct links need an S3 store, or a gateway: see casctl serve")
	assert.Empty(t, r.stdout)
}

func TestURLArgumentsCheckedBeforeIO(t *testing.T) {
	c := newCLI(t)
	c.vars["CASCTL_STORE"] = "s3://no-such-bucket"
	c.vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1"
	d := cas.Sum([]byte("x")).String()
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"url"}, "missing DIGEST"},
		{[]string{"url", strings.ToUpper(d)}, "invalid digest"},
		{[]string{"url", d, "--expires", "0s"}, "must be between 1s and"},
		{[]string{"url", d, "--expires", "169h"}, "must be between 1s and"},
		{[]string{"url", d, "--expires", "soon"}, "invalid value"},
		{[]string{"url", d, "--public", "--expires", "1h"}, "does not expire"},
		{[]string{"url", "--txn", "T"}, "--txn needs --name"},
		{[]string{"url", "--txn", "", "--name", "a"}, "transaction id is empty"},
		{[]string{"url", "--txn", "T", "--name", "a", d}, "not both"},
	} {
		r := c.run(nil, tc.args...)
		assert.Equal(t, exitUsage, r.code, "%v: %s", tc.args, r.stderr)
		assert.Contains(t, r.stderr, tc.msg, "%v", tc.args)
	}
}

func TestURLS3(t *testing.T) {
	c, m, bucket := s3CLI(t)
	pdf := []byte("%PDF-1.4 not really")
	const name = "Überweisung – März \"2026\".pdf"
	dPDF := cas.Sum(pdf)
	c.ok("put", "--txn", "T-1", "--name", name, "--type", "application/pdf", c.file("a.pdf", pdf))
	other := []byte("unindexed bytes")
	dOther := cas.Sum(other)
	c.ok("put", c.file("b.bin", other))

	t.Run("digests, one link each, name and type from the index", func(t *testing.T) {
		out := lines(c.ok("url", dPDF.String(), dOther.String()))
		require.Len(t, out, 2)
		resp, body := get(t, out[0])
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.Equal(t, string(pdf), body)
		kind, file := disposition(t, resp.Header)
		assert.Equal(t, "attachment", kind)
		assert.Equal(t, name, file)
		assert.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
		assert.Equal(t, "3600", mustQuery(t, out[0]).Get("X-Amz-Expires"), "default expiry 1h")

		resp, body = get(t, out[1])
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.Equal(t, string(other), body)
		assert.Equal(t, "attachment", resp.Header.Get("Content-Disposition"), "a blob the index does not know has no name")
	})

	t.Run("overrides and inline", func(t *testing.T) {
		out := c.ok("url", dPDF.String(), "--name", "renamed.txt", "--type", "text/plain", "--inline", "--expires", "90s")
		link := strings.TrimSpace(out)
		assert.Equal(t, "90", mustQuery(t, link).Get("X-Amz-Expires"))
		resp, body := get(t, link)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		kind, file := disposition(t, resp.Header)
		assert.Equal(t, "inline", kind)
		assert.Equal(t, "renamed.txt", file)
		assert.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
	})

	t.Run("by transaction and name, json", func(t *testing.T) {
		before := time.Now().UTC().Add(-time.Second)
		var res []linkResult
		require.NoError(t, json.Unmarshal([]byte(c.ok("url", "--txn", "T-1", "--name", name, "--json", "--expires", "10m")), &res))
		require.Len(t, res, 1)
		assert.Equal(t, dPDF, res[0].Digest)
		assert.Equal(t, "T-1", res[0].Txn)
		assert.Equal(t, name, res[0].Name)
		assert.Equal(t, "application/pdf", res[0].ContentType)
		assert.False(t, res[0].Public)
		require.NotNil(t, res[0].ExpiresAt)
		assert.WithinDuration(t, before.Add(10*time.Minute), *res[0].ExpiresAt, 3*time.Second)
		resp, body := get(t, res[0].URL)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.Equal(t, string(pdf), body)
		_, file := disposition(t, resp.Header)
		assert.Equal(t, name, file)
	})

	t.Run("unknown transaction or name", func(t *testing.T) {
		r := c.run(nil, "url", "--txn", "T-404", "--name", name)
		assert.Equal(t, exitNotFound, r.code, r.stderr)
		r = c.run(nil, "url", "--txn", "T-1", "--name", "nope.pdf")
		assert.Equal(t, exitNotFound, r.code, r.stderr)
		assert.Empty(t, r.stdout)
	})

	t.Run("public links", func(t *testing.T) {
		r := c.run(nil, "url", "--public", dPDF.String())
		assert.Equal(t, exitUsage, r.code, r.stderr)
		assert.Contains(t, r.stderr, "public_links")

		c.vars["CASCTL_PUBLIC_LINKS"] = "true"
		defer delete(c.vars, "CASCTL_PUBLIC_LINKS")
		link := strings.TrimSpace(c.ok("url", "--public", dPDF.String()))
		assert.Equal(t, m.Endpoint+"/"+bucket+"/"+dPDF.String(), link)
		resp, _ := get(t, link)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "refused until the bucket is public")
		policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, bucket)
		require.NoError(t, m.Admin.SetBucketPolicy(context.Background(), bucket, policy))
		resp, body := get(t, link)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.Equal(t, string(pdf), body)

		var res []linkResult
		require.NoError(t, json.Unmarshal([]byte(c.ok("url", "--public", "--json", dPDF.String())), &res))
		require.Len(t, res, 1)
		assert.True(t, res[0].Public)
		assert.Nil(t, res[0].ExpiresAt)

		c.vars["CASCTL_PUBLIC_LINKS"] = "maybe"
		r = c.run(nil, "url", "--public", dPDF.String())
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, `public_links "maybe"`)
	})

	t.Run("no secret in any output", func(t *testing.T) {
		r := c.run(nil, "url", "--json", dPDF.String(), dOther.String())
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.NotContains(t, r.stdout+r.stderr, m.SecretKey)
		assert.NotContains(t, r.stdout+r.stderr, url.QueryEscape(m.SecretKey))
	})
}

// TestURLMakesNoRequest points the store at a port where nothing listens:
// links are still printed, because computing them needs no server.
func TestURLMakesNoRequest(t *testing.T) {
	c := newCLI(t)
	c.vars["CASCTL_STORE"] = "s3://cas-links/rt"
	c.vars["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:1"
	c.vars["AWS_REGION"] = "eu-west-1"
	c.vars["AWS_ACCESS_KEY_ID"] = "AKIAIOSFODNN7EXAMPLE"
	c.vars["AWS_SECRET_ACCESS_KEY"] = "do-not-print-this-secret"
	c.vars["CASCTL_PATH_STYLE"] = "true"
	var args []string
	for i := range 50 {
		args = append(args, cas.Sum([]byte(fmt.Sprint(i))).String())
	}
	out := lines(c.ok(append([]string{"url"}, args...)...))
	require.Len(t, out, len(args))
	for i, l := range out {
		assert.True(t, strings.HasPrefix(l, "http://127.0.0.1:1/cas-links/rt/"+args[i]+"?"), l)
		assert.Contains(t, l, "%2Feu-west-1%2Fs3%2Faws4_request")
		assert.NotContains(t, l, "do-not-print-this-secret")
	}
}

func mustQuery(t *testing.T, link string) url.Values {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	return u.Query()
}
