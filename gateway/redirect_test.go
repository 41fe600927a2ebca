package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/s3"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/internal/testenv"
)

// Redirect mode on an S3 store: the gateway checks the signed link and
// sends the client to a presigned URL, whose target answers with the right
// bytes and headers.
func TestRedirectMinIO(t *testing.T) {
	m := testenv.MinIO(t)
	bucket := m.NewBucket(t)
	ctx := context.Background()
	b, err := s3.New(ctx, s3.Config{Endpoint: m.Endpoint, Region: m.Region, Bucket: bucket, AccessKey: m.AccessKey, SecretKey: m.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ix, err := index.Open(ctx, filepath.Join(dir, "index.db"), b.Location())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	store := cas.New(b, cas.WithIndex(ix), cas.WithTempDir(dir))
	data := randBytes(200_000)
	att, _, err := store.Attach(ctx, bytes.NewReader(data), cas.Attachment{Txn: "T1", Name: "Grüße.wav", ContentType: "audio/wav"}, cas.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := LoadKeys(filepath.Join(dir, KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer srv.Close()
	signer, _ := NewSigner(srv.URL, keys, false)
	h, err = New(store, ix, Options{Signer: signer, Redirect: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}

	digestLink, _ := signer.Link(ctx, att.Digest, cas.LinkOptions{Expires: time.Hour, Inline: true})
	nameLink, _ := signer.LinkAttachment("T1", "Grüße.wav", cas.LinkOptions{Expires: time.Hour})
	for _, c := range []struct{ u, disposition string }{
		{digestLink, cas.ContentDisposition("Grüße.wav", true)},
		{nameLink, cas.ContentDisposition("Grüße.wav", false)},
	} {
		r := get(t, c.u, nil)
		loc := r.header.Get("Location")
		if r.status != http.StatusFound || loc == "" || r.header.Get("Cache-Control") != "private, no-store" {
			t.Fatalf("redirect: %d %v", r.status, r.header)
		}
		res, err := http.Get(loc) // straight from the bucket
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Fatalf("target: %d, %d bytes", res.StatusCode, len(body))
		}
		if got := res.Header.Get("Content-Type"); got != "audio/wav" {
			t.Errorf("target Content-Type %q", got)
		}
		if got := res.Header.Get("Content-Disposition"); got != c.disposition {
			t.Errorf("target Content-Disposition %q, want %q", got, c.disposition)
		}
	}
	// The gateway still checks its own signatures.
	if r := get(t, srv.URL+"/blobs/"+att.Digest.String(), nil); r.status != 403 {
		t.Errorf("unsigned in redirect mode: %d", r.status)
	}
	// A disk store cannot redirect.
	g := newGW(t, nil)
	if _, err := New(g.store, nil, Options{Public: true, Redirect: true}); err == nil {
		t.Error("redirect mode on a disk store accepted")
	}
}
