package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
)

// slowBackend is a disk backend, without the local-file shortcut, whose
// whole-blob reads are slow and end with the request's context, as an S3
// body stream does.
type slowBackend struct {
	b       *disk.Backend
	started chan struct{}
}

func (s *slowBackend) Put(ctx context.Context, src cas.Source, o cas.PutOptions) (bool, error) {
	return s.b.Put(ctx, src, o)
}
func (s *slowBackend) Stat(ctx context.Context, d cas.Digest) (cas.Info, error) {
	return s.b.Stat(ctx, d)
}
func (s *slowBackend) Walk(ctx context.Context, fn func(cas.Entry) error) error {
	return s.b.Walk(ctx, fn)
}
func (s *slowBackend) Location() string { return s.b.Location() }
func (s *slowBackend) Open(ctx context.Context, d cas.Digest, off, n int64) (io.ReadCloser, cas.Info, error) {
	rc, info, err := s.b.Open(ctx, d, off, n)
	if err != nil || n >= 0 {
		return rc, info, err
	}
	select {
	case s.started <- struct{}{}:
	default:
	}
	return struct {
		io.Reader
		io.Closer
	}{readFunc(func(p []byte) (int, error) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		return rc.Read(p[:min(len(p), 4096)])
	}), rc}, info, nil
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

// A range request waiting on the whole-blob check that another request
// started is served when that other client goes away: the shared check
// does not die with it, and no empty 200 ever goes out.
func TestSharedVerificationOutlivesTheRequestThatStartedIt(t *testing.T) {
	db, err := disk.New(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	sb := &slowBackend{b: db, started: make(chan struct{}, 1)}
	store := cas.New(sb)
	body := strings.Repeat("0123456789", 4000)
	res, err := store.Put(context.Background(), strings.NewReader(body), cas.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(store, nil, Options{Public: true})
	if err != nil {
		t.Fatal(err)
	}
	url := "/blobs/" + res.Digest.String()

	ctxA, cancelA := context.WithCancel(context.Background())
	doneA := make(chan struct{})
	go func() {
		defer close(doneA)
		defer func() { recover() }() // an aborted response panics with http.ErrAbortHandler
		r := httptest.NewRequest("GET", url, nil).WithContext(ctxA)
		r.Header.Set("Range", "bytes=0-9")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}()
	<-sb.started
	recB := httptest.NewRecorder()
	doneB := make(chan struct{})
	go func() {
		defer close(doneB)
		r := httptest.NewRequest("GET", url, nil)
		r.Header.Set("Range", "bytes=10-19")
		h.ServeHTTP(recB, r)
	}()
	time.Sleep(50 * time.Millisecond)
	cancelA()
	<-doneA
	<-doneB
	if recB.Code != http.StatusPartialContent || recB.Body.String() != "0123456789" {
		t.Fatalf("B: status %d, body %q; want 206 with the range", recB.Code, recB.Body.String())
	}
}
