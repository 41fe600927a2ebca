package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/index"
)

const testToken = "test-upload-token-Zq8v"

// gw is a gateway on a real loopback server over a disk store and a SQLite
// index.
type gw struct {
	store  *cas.Store
	disk   *disk.Backend
	ix     *index.Index
	keys   *Keyring
	signer *Signer
	h      *Handler
	srv    *httptest.Server
	log    *syncBuffer
	// observe, when set, sees every request before the gateway does.
	observe func(*http.Request)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newGW(t testing.TB, mod func(*Options)) *gw {
	t.Helper()
	dir := t.TempDir()
	b, err := disk.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(context.Background(), filepath.Join(dir, "index.db"), b.Location())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	keys, err := LoadKeys(filepath.Join(dir, "config", KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	g := &gw{disk: b, ix: ix, keys: keys, log: &syncBuffer{}}
	g.store = cas.New(b, cas.WithIndex(ix), cas.WithTempDir(dir))
	var handler http.Handler
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.observe != nil {
			g.observe(r)
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	opts := Options{UploadToken: testToken, AccessLog: g.log, Logger: slog.New(slog.NewTextHandler(g.log, nil))}
	if mod != nil {
		mod(&opts)
	}
	g.signer, err = NewSigner(g.srv.URL, keys, opts.Public)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Signer == nil {
		opts.Signer = g.signer
	}
	g.h, err = New(g.store, ix, opts)
	if err != nil {
		t.Fatal(err)
	}
	handler = g.h
	return g
}

// attach stores data as an attachment and returns its digest.
func (g *gw) attach(t testing.TB, txn, name, ctype string, data []byte) cas.Digest {
	t.Helper()
	a, _, err := g.store.Attach(context.Background(), bytes.NewReader(data), cas.Attachment{Txn: txn, Name: name, ContentType: ctype}, cas.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return a.Digest
}

func (g *gw) link(t testing.TB, d cas.Digest, opts cas.LinkOptions) string {
	t.Helper()
	if opts.Expires == 0 {
		opts.Expires = time.Hour
	}
	u, err := g.signer.Link(context.Background(), d, opts)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

type resp struct {
	status int
	header http.Header
	body   []byte
	err    error // reading the body
}

func do(t testing.TB, method, u string, header map[string]string, body io.Reader) resp {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, rerr := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b, rerr}
}

func get(t testing.TB, u string, header map[string]string) resp {
	t.Helper()
	return do(t, http.MethodGet, u, header, nil)
}

// curl runs /usr/bin/curl and returns its output and exit code.
func curl(t testing.TB, args ...string) (string, int) {
	t.Helper()
	path := "/usr/bin/curl"
	if _, err := os.Stat(path); err != nil {
		t.Skip("curl not installed")
	}
	cmd := exec.Command(path, append([]string{"-sS"}, args...)...)
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// splitStatus splits curl output made with -w "\n%{http_code}".
func splitStatus(out string) (body, status string) {
	i := strings.LastIndexByte(out, '\n')
	if i < 0 {
		return "", out
	}
	return out[:i], out[i+1:]
}

func TestReadByDigest(t *testing.T) {
	g := newGW(t, nil)
	data := randBytes(100_000)
	d := g.attach(t, "T1", "report.pdf", "application/pdf", data)
	u := g.link(t, d, cas.LinkOptions{})

	r := get(t, u, nil)
	if r.status != 200 || !bytes.Equal(r.body, data) || r.err != nil {
		t.Fatalf("GET: %d, %d bytes, %v", r.status, len(r.body), r.err)
	}
	want := map[string]string{
		"ETag":                `"` + d.String() + `"`,
		"Cache-Control":       "public, max-age=31536000, immutable",
		"Content-Type":        "application/pdf",
		"Content-Disposition": `attachment; filename="report.pdf"`,
		"Content-Length":      "100000",
		"Accept-Ranges":       "bytes",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	h := do(t, http.MethodHead, u, nil, nil)
	if h.status != 200 || len(h.body) != 0 || h.header.Get("Content-Length") != "100000" || h.header.Get("ETag") != want["ETag"] {
		t.Errorf("HEAD: %d %q %v", h.status, h.body, h.header)
	}

	nm := get(t, u, map[string]string{"If-None-Match": `"` + d.String() + `"`})
	if nm.status != 304 || len(nm.body) != 0 || nm.header.Get("ETag") != want["ETag"] {
		t.Errorf("If-None-Match: %d", nm.status)
	}
	if r := get(t, u, map[string]string{"If-None-Match": `"other"`}); r.status != 200 {
		t.Errorf("If-None-Match other: %d", r.status)
	}

	// Response parameters in the link override the index.
	r = get(t, g.link(t, d, cas.LinkOptions{Name: "Grüße €.pdf", ContentType: "text/plain", Inline: true}), nil)
	if r.header.Get("Content-Type") != "text/plain" || r.header.Get("Content-Disposition") != cas.ContentDisposition("Grüße €.pdf", true) {
		t.Errorf("response params: %v", r.header)
	}

	// curl sees the same.
	out, code := curl(t, "-D", "-", "-o", "/dev/null", u)
	if code != 0 || !strings.Contains(out, "HTTP/1.1 200") || !strings.Contains(strings.ToLower(out), "etag: \""+d.String()) {
		t.Errorf("curl: %d %s", code, out)
	}
}

func TestErrors(t *testing.T) {
	g := newGW(t, nil)
	d := g.attach(t, "T1", "a.txt", "text/plain", []byte("hello"))
	unknown := cas.Sum([]byte("not stored"))

	for _, p := range []string{"/blobs/ABC", "/blobs/" + strings.ToUpper(d.String()), "/blobs/" + d.String() + "0", "/blobs/../etc/passwd"} {
		if r := get(t, g.srv.URL+p, nil); r.status != 400 {
			t.Errorf("%s: %d, want 400", p, r.status)
		}
	}
	if r := get(t, g.link(t, unknown, cas.LinkOptions{}), nil); r.status != 404 || r.header.Get("ETag") != "" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("unknown: %d %v", r.status, r.header)
	}
	u, _ := g.signer.LinkAttachment("T1", "missing.txt", cas.LinkOptions{Expires: time.Hour})
	if r := get(t, u, nil); r.status != 404 {
		t.Errorf("missing attachment: %d", r.status)
	}
	for _, m := range []string{http.MethodPut, http.MethodDelete} {
		for _, p := range []string{"/blobs/" + d.String(), "/txn/T1/a.txt", "/blobs", "/txn/T1"} {
			r := do(t, m, g.srv.URL+p, nil, strings.NewReader("x"))
			if r.status != 405 || !strings.Contains(string(r.body), "append-only") || r.header.Get("Allow") == "" {
				t.Errorf("%s %s: %d %s", m, p, r.status, r.body)
			}
		}
	}
	if r := get(t, g.srv.URL+"/healthz", nil); r.status != 200 || !strings.Contains(string(r.body), `"index":"ok"`) {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
	m := get(t, g.srv.URL+"/metrics", nil)
	for _, want := range []string{`casstore_gateway_requests_total{code="405",route="blob"}`, "casstore_gateway_requests_in_flight", "casstore_gateway_response_bytes_total", "casstore_gateway_verification_failures_total 0"} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRanges(t *testing.T) {
	g := newGW(t, nil)
	data := randBytes(10_000)
	d := g.attach(t, "T1", "audio.wav", "audio/wav", data)
	u := g.link(t, d, cas.LinkOptions{})
	n := len(data)
	cases := []struct {
		rng        string
		first, end int // data[first:end]
	}{
		{"bytes=0-0", 0, 1},                       // first byte
		{"bytes=100-199", 100, 200},               // middle
		{"bytes=9999-9999", n - 1, n},             // last byte
		{"bytes=-1", n - 1, n},                    // last byte, suffix form
		{"bytes=-500", n - 500, n},                // suffix
		{"bytes=-20000", 0, n},                    // suffix longer than the blob
		{"bytes=9000-", 9000, n},                  // open-ended
		{"bytes=9990-20000", 9990, n},             // clipped
		{"bytes=0-", 0, n},                        // what media players send
		{fmt.Sprintf("bytes=%d-", n/2), n / 2, n}, // seek
	}
	for _, c := range cases {
		r := get(t, u, map[string]string{"Range": c.rng})
		wantCR := fmt.Sprintf("bytes %d-%d/%d", c.first, c.end-1, n)
		if r.status != 206 || !bytes.Equal(r.body, data[c.first:c.end]) || r.header.Get("Content-Range") != wantCR ||
			r.header.Get("Content-Length") != strconv.Itoa(c.end-c.first) {
			t.Errorf("%s: %d %q, %d bytes", c.rng, r.status, r.header.Get("Content-Range"), len(r.body))
		}
		// curl, the same range.
		out, code := curl(t, "-r", strings.TrimPrefix(c.rng, "bytes="), "-w", "\n%{http_code}", u)
		body, status := splitStatus(out)
		if code != 0 || status != "206" || body != string(data[c.first:c.end]) {
			t.Errorf("curl %s: exit %d, status %s, %d bytes", c.rng, code, status, len(body))
		}
	}
	for _, rng := range []string{"bytes=10000-", "bytes=20000-30000", "bytes=-0"} {
		r := get(t, u, map[string]string{"Range": rng})
		if r.status != 416 || r.header.Get("Content-Range") != fmt.Sprintf("bytes */%d", n) {
			t.Errorf("%s: %d %q", rng, r.status, r.header.Get("Content-Range"))
		}
		out, _ := curl(t, "-o", "/dev/null", "-w", "%{http_code}", "-H", "Range: "+rng, u)
		if out != "416" {
			t.Errorf("curl %s: %s", rng, out)
		}
	}
	// Ignored: several ranges, other units, malformed, a stale If-Range.
	for _, h := range []map[string]string{{"Range": "bytes=0-1,5-6"}, {"Range": "items=0-1"}, {"Range": "bytes=5-1"},
		{"Range": "bytes=0-1", "If-Range": `"stale"`}} {
		if r := get(t, u, h); r.status != 200 || !bytes.Equal(r.body, data) {
			t.Errorf("%v: %d", h, r.status)
		}
	}
	if r := get(t, u, map[string]string{"Range": "bytes=0-1", "If-Range": `"` + d.String() + `"`}); r.status != 206 {
		t.Errorf("If-Range current: %d", r.status)
	}
}

func TestSignedLinks(t *testing.T) {
	g := newGW(t, nil)
	d := g.attach(t, "T1", "a.txt", "text/plain", []byte("hello"))
	other := g.attach(t, "T1", "b.txt", "text/plain", []byte("other"))
	u := g.link(t, d, cas.LinkOptions{Name: "a.txt"})
	if r := get(t, u, nil); r.status != 200 {
		t.Fatalf("valid: %d", r.status)
	}
	forbidden := get(t, g.srv.URL+"/blobs/"+d.String(), nil)
	if forbidden.status != 403 {
		t.Errorf("unsigned: %d", forbidden.status)
	}
	pu, _ := url.Parse(u)
	q := pu.Query()
	sig := q.Get("sig")
	tamper := func(f func(url.Values, *url.URL)) string {
		c := *pu
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		f(v, &c)
		c.RawQuery = v.Encode()
		return c.String()
	}
	flip := sig[:5] + string("AB"[strings.IndexByte("AB", sig[5])+1&1]) + sig[6:]
	if sig[5] != 'A' && sig[5] != 'B' {
		flip = sig[:5] + "A" + sig[6:]
	}
	bad := map[string]string{
		"tampered signature": tamper(func(v url.Values, _ *url.URL) { v.Set("sig", flip) }),
		"no signature":       tamper(func(v url.Values, _ *url.URL) { v.Del("sig") }),
		"changed name":       tamper(func(v url.Values, _ *url.URL) { v.Set("name", "evil.html") }),
		"added type":         tamper(func(v url.Values, _ *url.URL) { v.Set("type", "text/html") }),
		"later expiry":       tamper(func(v url.Values, _ *url.URL) { v.Set("exp", "99999999999") }),
		"unknown key":        tamper(func(v url.Values, _ *url.URL) { v.Set("kid", "00000000") }),
		"other path":         tamper(func(_ url.Values, c *url.URL) { c.Path = "/blobs/" + other.String() }),
		"other txn path":     tamper(func(_ url.Values, c *url.URL) { c.Path = "/txn/T1/a.txt" }),
	}
	for what, bu := range bad {
		r := get(t, bu, nil)
		if r.status != 403 || string(r.body) != string(forbidden.body) {
			t.Errorf("%s: %d %s (want the same 403 as unsigned: %s)", what, r.status, r.body, forbidden.body)
		}
	}
	// A GET link also serves HEAD, not POST.
	if r := do(t, http.MethodHead, u, nil, nil); r.status != 200 {
		t.Errorf("HEAD with GET link: %d", r.status)
	}

	// Expired.
	// A 1 s link is used at once: its expiry is whole seconds.
	if r := get(t, g.link(t, d, cas.LinkOptions{Expires: time.Second}), nil); r.status != 200 {
		t.Errorf("fresh short link: %d", r.status)
	}
	g.signer.now = func() time.Time { return time.Now().Add(-time.Hour) }
	stale := g.link(t, d, cas.LinkOptions{Expires: time.Minute})
	g.signer.now = time.Now
	if r := get(t, stale, nil); r.status != 403 || string(r.body) != string(forbidden.body) {
		t.Errorf("expired: %d", r.status)
	}

	// Outside 1 s .. 7 days is refused when signing.
	for _, e := range []time.Duration{0, 8 * 24 * time.Hour} {
		if _, err := g.signer.Link(context.Background(), d, cas.LinkOptions{Expires: e}); err == nil {
			t.Errorf("expiry %s accepted", e)
		}
	}
	if _, err := g.signer.Link(context.Background(), d, cas.LinkOptions{Public: true}); err == nil {
		t.Error("public link from a private gateway")
	}
	if r := get(t, g.srv.URL+"/blobs/"+d.String()+"?name=x", nil); r.status != 403 {
		t.Errorf("unsigned with params: %d", r.status)
	}
}

func TestKeyRotation(t *testing.T) {
	g := newGW(t, nil)
	d := g.attach(t, "T1", "a.txt", "text/plain", []byte("hello"))
	fi, err := os.Stat(g.keys.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(g.keys.Path())); di.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %v", di.Mode())
	}
	old := g.link(t, d, cas.LinkOptions{})
	oldID := g.keys.CurrentID()

	// Another process (casctl serve --rotate-key) rotates with a grace period.
	other, err := LoadKeys(g.keys.Path())
	if err != nil || other.CurrentID() != oldID {
		t.Fatalf("second load: %v", err)
	}
	newID, err := other.Rotate(time.Hour)
	if err != nil || newID == oldID {
		t.Fatal(err)
	}
	g.keys.lastCheck.Store(0) // as if reloadEvery had passed
	if g.keys.CurrentID() != newID {
		t.Fatal("rotation not picked up")
	}
	fresh := g.link(t, d, cas.LinkOptions{})
	if r := get(t, old, nil); r.status != 200 {
		t.Errorf("old key within grace: %d", r.status)
	}
	if r := get(t, fresh, nil); r.status != 200 {
		t.Errorf("new key: %d", r.status)
	}
	// Rotating again with no grace (a leaked key): its links die at once;
	// the first key keeps the grace it was given.
	if _, err := other.Rotate(0); err != nil {
		t.Fatal(err)
	}
	g.keys.lastCheck.Store(0)
	if r := get(t, fresh, nil); r.status != 403 {
		t.Errorf("after rotation without grace: %d", r.status)
	}
	if r := get(t, old, nil); r.status != 200 {
		t.Errorf("first key within its grace: %d", r.status)
	}
	if fi, _ := os.Stat(g.keys.Path()); fi.Mode().Perm() != 0o600 {
		t.Errorf("rotated key file mode %v", fi.Mode())
	}
	// A key file others can read is refused.
	os.Chmod(g.keys.Path(), 0o644)
	if _, err := LoadKeys(g.keys.Path()); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file: %v", err)
	}
}

func TestPublicMode(t *testing.T) {
	g := newGW(t, func(o *Options) { o.Public = true })
	d := g.attach(t, "T 1", "a b.txt", "text/plain", []byte("hello"))
	if r := get(t, g.srv.URL+"/blobs/"+d.String(), nil); r.status != 200 || string(r.body) != "hello" {
		t.Errorf("public digest: %d", r.status)
	}
	if r := get(t, g.srv.URL+"/txn/T%201/a%20b.txt", nil); r.status != 200 || string(r.body) != "hello" {
		t.Errorf("public attachment: %d", r.status)
	}
	u, err := g.signer.Link(context.Background(), d, cas.LinkOptions{Public: true, Inline: true})
	if err != nil || strings.Contains(u, "sig=") {
		t.Fatalf("public link %q: %v", u, err)
	}
	if r := get(t, u, nil); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Disposition"), "inline") {
		t.Errorf("public link: %d %v", r.status, r.header)
	}
	// Uploads still need the token.
	if r := do(t, http.MethodPost, g.srv.URL+"/blobs", nil, strings.NewReader("x")); r.status != 401 {
		t.Errorf("public upload without token: %d", r.status)
	}
}

func TestOddNames(t *testing.T) {
	g := newGW(t, nil)
	names := []string{"dir/sub/file.txt", "with space.txt", "Grüße, 日本.txt", "line\nbreak.txt", "percent%2Fliteral", "q?x#y&z=1.txt", "..", "a;b\"c'.txt", ""}
	for i, name := range names {
		txn := fmt.Sprintf("T/%d %s", i, "ü")
		data := []byte("content of " + name)
		d := g.attach(t, txn, name, "text/plain; charset=utf-8", data)
		u, err := g.signer.LinkAttachment(txn, name, cas.LinkOptions{Expires: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		r := get(t, u, nil)
		if r.status != 200 || !bytes.Equal(r.body, data) || r.header.Get("ETag") != `"`+d.String()+`"` {
			t.Errorf("%q: %d %q", name, r.status, r.body)
			continue
		}
		if got := r.header.Get("Content-Disposition"); got != cas.ContentDisposition(name, false) {
			t.Errorf("%q: disposition %q", name, got)
		}
		if r.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%q: attachment URL cache-control %q", name, r.header.Get("Cache-Control"))
		}
		// curl fetches the same URL as it is.
		out, code := curl(t, u)
		if code != 0 || out != string(data) {
			t.Errorf("curl %q: %d %q", name, code, out)
		}
	}
	// Names that differ only in escaping are different attachments.
	g.attach(t, "T", "a/b", "", []byte("slash"))
	g.attach(t, "T", "a%2Fb", "", []byte("percent"))
	for name, want := range map[string]string{"a/b": "slash", "a%2Fb": "percent"} {
		u, _ := g.signer.LinkAttachment("T", name, cas.LinkOptions{Expires: time.Hour})
		if r := get(t, u, nil); string(r.body) != want {
			t.Errorf("%q: got %q", name, r.body)
		}
	}
	if out, _ := curl(t, "-o", "/dev/null", "-w", "%{http_code}", g.srv.URL+"/txn/%ZZ/x"); out != "400" {
		t.Errorf("bad escape: %s", out)
	}
}

func TestTamperedBlob(t *testing.T) {
	g := newGW(t, nil)
	data := randBytes(3 << 20)
	d := g.attach(t, "T1", "rec.wav", "audio/wav", data)
	u := g.link(t, d, cas.LinkOptions{})
	// Verified once, by a range.
	if r := get(t, u, map[string]string{"Range": "bytes=0-99"}); r.status != 206 {
		t.Fatalf("range before tampering: %d", r.status)
	}

	// Behind the store's back: same size, one byte changed near the end.
	p := g.disk.Path(d)
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(data)
	bad[len(bad)-10] ^= 0xff
	if err := os.WriteFile(p, bad, 0o644); err != nil {
		t.Fatal(err)
	}

	r := get(t, u, nil)
	if r.err == nil || len(r.body) >= len(data) {
		t.Errorf("Go client got a complete body: %d of %d bytes, err %v", len(r.body), len(data), r.err)
	}
	out, code := curl(t, "-o", "/dev/null", "-w", "%{size_download}", u)
	if n, _ := strconv.Atoi(out); code == 0 || n >= len(data) {
		t.Errorf("curl: exit %d, %s bytes", code, out)
	}
	if rg := get(t, u, map[string]string{"Range": "bytes=0-99"}); rg.status != 500 {
		t.Errorf("range of a tampered blob: %d", rg.status)
	}
	if got := g.h.VerificationFailures(); got != 3 {
		t.Errorf("verification failures = %v, want 3", got)
	}
	m := get(t, g.srv.URL+"/metrics", nil)
	if !strings.Contains(string(m.body), "casstore_gateway_verification_failures_total 3") {
		t.Error("metric not exported")
	}
	if !strings.Contains(g.log.String(), "blob failed verification") {
		t.Error("not logged")
	}
}

func TestUploads(t *testing.T) {
	g := newGW(t, func(o *Options) { o.MaxUploadSize = 1 << 20 })
	dir := t.TempDir()
	data := randBytes(300_000)
	d := cas.Sum(data)
	f := filepath.Join(dir, "up.bin")
	os.WriteFile(f, data, 0o644)
	auth := "Authorization: Bearer " + testToken

	// Right declared digest, with curl: 201, then 200.
	for i, want := range []string{"201", "200"} {
		out, code := curl(t, "-w", "\n%{http_code}", "-H", auth, "-H", HeaderSHA256+": "+d.String(), "-H", "Content-Type: audio/wav",
			"--data-binary", "@"+f, g.srv.URL+"/blobs")
		body, status := splitStatus(out)
		var res uploadResult
		if code != 0 || status != want || json.Unmarshal([]byte(body), &res) != nil || res.Digest != d || res.Size != int64(len(data)) || res.New != (i == 0) {
			t.Errorf("upload %d: %d %s %s", i, code, status, body)
		}
	}
	if got := get(t, g.link(t, d, cas.LinkOptions{}), nil); !bytes.Equal(got.body, data) {
		t.Error("uploaded blob reads back wrong")
	}

	// Wrong declared digest: refused, nothing stored.
	other := randBytes(1000)
	wrong := cas.Sum([]byte("something else"))
	r := do(t, http.MethodPost, g.srv.URL+"/blobs", map[string]string{"Authorization": "Bearer " + testToken, HeaderSHA256: wrong.String()}, bytes.NewReader(other))
	if r.status != 400 {
		t.Errorf("wrong digest: %d %s", r.status, r.body)
	}
	if _, err := g.store.Stat(context.Background(), cas.Sum(other)); err == nil {
		t.Error("blob stored despite the wrong declared digest")
	}
	if r := do(t, http.MethodPost, g.srv.URL+"/blobs", map[string]string{"Authorization": "Bearer " + testToken, HeaderSHA256: "XYZ"}, bytes.NewReader(other)); r.status != 400 {
		t.Errorf("malformed declared digest: %d", r.status)
	}

	// Wrong or missing token.
	for _, h := range []string{"Authorization: Bearer wrong", "Authorization: Basic " + testToken, "X-Nothing: 1"} {
		out, _ := curl(t, "-o", "/dev/null", "-w", "%{http_code}", "-H", h, "--data-binary", "@"+f, g.srv.URL+"/blobs")
		if out != "401" {
			t.Errorf("%s: %s", h, out)
		}
	}

	// Oversized, with a Content-Length and chunked.
	big := filepath.Join(dir, "big.bin")
	bigData := randBytes(1<<20 + 1)
	os.WriteFile(big, bigData, 0o644)
	for _, extra := range [][]string{nil, {"-H", "Transfer-Encoding: chunked"}} {
		args := append([]string{"-o", "/dev/null", "-w", "%{http_code}", "-H", auth, "--data-binary", "@" + big}, extra...)
		out, _ := curl(t, append(args, g.srv.URL+"/blobs")...)
		if out != "413" {
			t.Errorf("oversized %v: %s", extra, out)
		}
	}
	if _, err := g.store.Stat(context.Background(), cas.Sum(bigData)); err == nil {
		t.Error("oversized blob stored")
	}

	// An attachment, name in the query and in the header.
	name := "Grüße/bericht 1.txt"
	for i, args := range [][]string{
		{g.srv.URL + "/txn/T%2F9?name=" + url.QueryEscape(name)},
		{"-H", HeaderName + ": " + url.PathEscape(name), g.srv.URL + "/txn/T%2F9"},
	} {
		full := append([]string{"-w", "\n%{http_code}", "-H", auth, "-H", "Content-Type: text/plain", "--data-binary", fmt.Sprintf("hello %d", i)}, args...)
		out, code := curl(t, full...)
		body, status := splitStatus(out)
		var res uploadResult
		if code != 0 || status != "201" || json.Unmarshal([]byte(body), &res) != nil || res.Attachment == nil || res.Attachment.Name != name || res.Attachment.Txn != "T/9" {
			t.Errorf("attachment upload %d: %s %s", i, status, body)
		}
	}
	// A transaction id the index cannot record (a NUL byte): refused
	// before anything is stored.
	odd := randBytes(2000)
	if r := do(t, http.MethodPost, g.srv.URL+"/txn/T%00x?name=a", map[string]string{"Authorization": "Bearer " + testToken}, bytes.NewReader(odd)); r.status != 400 {
		t.Errorf("NUL in the transaction id: %d %s", r.status, r.body)
	}
	if _, err := g.store.Stat(context.Background(), cas.Sum(odd)); err == nil {
		t.Error("blob stored for an attachment the index cannot record")
	}

	att, err := g.ix.Find(context.Background(), "T/9", name)
	if err != nil || att.ContentType != "text/plain" {
		t.Fatalf("find: %+v %v", att, err)
	}
	u, _ := g.signer.LinkAttachment("T/9", name, cas.LinkOptions{Expires: time.Hour})
	if r := get(t, u, nil); string(r.body) != "hello 1" {
		t.Errorf("newest attachment: %q", r.body)
	}

	// The access log holds neither the token nor a signature.
	logged := g.log.String()
	if strings.Contains(logged, testToken) {
		t.Error("token in the access log")
	}
	if pu, _ := url.Parse(u); strings.Contains(logged, pu.Query().Get("sig")) {
		t.Error("signature in the access log")
	}
	if !strings.Contains(logged, "sig=REDACTED") {
		t.Error("requests not logged")
	}
}

func TestUploadsDisabledAndLimited(t *testing.T) {
	g := newGW(t, func(o *Options) { o.UploadToken = "" })
	if r := do(t, http.MethodPost, g.srv.URL+"/blobs", map[string]string{"Authorization": "Bearer "}, strings.NewReader("x")); r.status != 403 {
		t.Errorf("no token configured: %d", r.status)
	}

	g = newGW(t, func(o *Options) { o.MaxUploads = 1 })
	pr, pw := io.Pipe()
	first := make(chan int, 1)
	go func() {
		r := do(t, http.MethodPost, g.srv.URL+"/blobs", map[string]string{"Authorization": "Bearer " + testToken}, pr)
		first <- r.status
	}()
	pw.Write([]byte("slow upload, part one"))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(get(t, g.srv.URL+"/metrics", nil).body), "casstore_gateway_uploads_in_flight 1") {
		if time.Now().After(deadline) {
			t.Fatal("first upload never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := do(t, http.MethodPost, g.srv.URL+"/blobs", map[string]string{"Authorization": "Bearer " + testToken}, strings.NewReader("second"))
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("second upload: %d", r.status)
	}
	pw.Close()
	if s := <-first; s != 201 {
		t.Errorf("first upload: %d", s)
	}
}

// A client that never finishes its headers is cut off.
func TestHeaderTimeout(t *testing.T) {
	g := newGW(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(g.h, ServerOptions{ReadHeaderTimeout: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, "", "", 5*time.Second) }()
	defer func() { cancel(); <-done }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n") // never the blank line
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, c) // returns when the server closes
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("slow client held the connection for %s", el)
	}
}

// Shutdown lets a download in flight finish.
func TestGracefulShutdown(t *testing.T) {
	g := newGW(t, nil)
	data := randBytes(16 << 20)
	d := g.attach(t, "T", "big.bin", "", data)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Links for this listener.
	signer, _ := NewSigner("http://"+ln.Addr().String(), g.keys, false)
	u, _ := signer.Link(context.Background(), d, cas.LinkOptions{Expires: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, NewServer(g.h, ServerOptions{}), ln, "", "", 20*time.Second) }()

	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReaderSize(res.Body, 64<<10)
	got := make([]byte, 0, len(data))
	buf := make([]byte, 64<<10)
	n, _ := io.ReadFull(br, buf)
	got = append(got, buf[:n]...)
	cancel() // SIGTERM, as casctl serve sees it
	// New connections are refused while the download goes on: the
	// listener closes as shutdown begins (polled, for a loaded machine).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Error("listener still accepts 5 s after shutdown began")
			break
		}
	}
	for {
		n, err := br.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
		time.Sleep(time.Millisecond) // a slow client
	}
	if !bytes.Equal(got, data) {
		t.Errorf("download cut by shutdown: %d of %d bytes", len(got), len(data))
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
