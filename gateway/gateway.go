package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/casstore/casstore/cas"
)

// Index is what the gateway needs of the transaction index; *index.Index
// implements it. It may be nil: then only digest URLs work.
type Index interface {
	// Find returns the newest attachment of txn called name (byte for
	// byte); cas.ErrNotFound when there is none.
	Find(ctx context.Context, txn, name string) (cas.Attachment, error)
	// AttachmentsOf returns the attachments that use blob d, oldest first;
	// cas.ErrNotFound for a blob the index does not know.
	AttachmentsOf(ctx context.Context, d cas.Digest) ([]cas.Attachment, error)
	// Record appends attachments (see cas.Index).
	Record(ctx context.Context, atts []cas.Attachment) ([]cas.Attachment, error)
}

// Defaults for Options left zero.
const (
	DefaultMaxUploadSize  = 5 << 30 // 5 GiB, S3's single-PUT limit
	DefaultMaxUploads     = 4
	DefaultRedirectExpiry = 5 * time.Minute
	defaultVerifiedCache  = 10000
	defaultMetaCache      = 100000
	defaultFDCache        = 4096
)

// Options configure a Handler.
type Options struct {
	// Signer verifies signed links. Reads without a valid signature are
	// refused unless Public.
	Signer *Signer
	// Public serves reads without a signature: anyone who can reach the
	// gateway and knows a digest (or a transaction and name) reads it.
	Public bool
	// UploadToken is the bearer token POST requests must carry. Empty:
	// uploads are refused.
	UploadToken string
	// MaxUploadSize is the largest accepted upload body (413 past it).
	MaxUploadSize int64
	// MaxUploads bounds concurrent uploads (503 with Retry-After past it).
	MaxUploads int
	// Redirect answers reads with a redirect to a presigned URL of the
	// store's backend (S3), which must implement cas.Linker; the bytes then
	// flow from the bucket, not through the gateway.
	Redirect bool
	// RedirectExpiry is the lifetime of those presigned URLs.
	RedirectExpiry time.Duration
	// AccessLog receives one line per request (time, client, method, path
	// with the signature redacted, status, bytes out and in, duration,
	// route), each in a single Write; tokens are never in it. Nil: none.
	AccessLog io.Writer
	// Logger receives events: verification failures, store errors. Nil:
	// nothing is logged.
	Logger *slog.Logger
}

// Handler is the gateway: an http.Handler that an application can mount
// (under a prefix with http.StripPrefix).
type Handler struct {
	store    *cas.Store
	ix       Index
	opts     Options
	linker   cas.Linker // redirect mode
	log      *slog.Logger
	metrics  *metrics
	verified *verifiedCache
	meta     *metaCache
	fds      *fdCache
	uploads  chan struct{}
}

var _ http.Handler = (*Handler)(nil)

// New returns a gateway over store and ix (ix may be nil).
func New(store *cas.Store, ix Index, opts Options) (*Handler, error) {
	if opts.MaxUploadSize <= 0 {
		opts.MaxUploadSize = DefaultMaxUploadSize
	}
	if opts.MaxUploads <= 0 {
		opts.MaxUploads = DefaultMaxUploads
	}
	if opts.RedirectExpiry <= 0 {
		opts.RedirectExpiry = DefaultRedirectExpiry
	}
	if !opts.Public && opts.Signer == nil {
		return nil, errors.New("gateway: a signer is needed unless the gateway is public")
	}
	h := &Handler{
		store:    store,
		ix:       ix,
		opts:     opts,
		log:      opts.Logger,
		metrics:  newMetrics(),
		verified: newVerifiedCache(defaultVerifiedCache),
		meta:     newMetaCache(defaultMetaCache),
		fds:      newFDCache(defaultFDCache),
		uploads:  make(chan struct{}, opts.MaxUploads),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if opts.Redirect {
		l, ok := store.Backend().(cas.Linker)
		if !ok {
			return nil, fmt.Errorf("gateway: redirect mode needs a store that makes direct links (S3), not %s: %w", store.Backend().Location(), cas.ErrNotSupported)
		}
		h.linker = l
	}
	return h, nil
}

// Route names, as the metrics label them.
const (
	routeBlob      = "blob"
	routeTxn       = "txn"
	routeUpload    = "upload_blob"
	routeUploadTxn = "upload_txn"
	routeHealth    = "healthz"
	routeMetrics   = "metrics"
	routeOther     = "other"
)

// ServeHTTP routes on the escaped path, so that %2F inside a transaction id
// or a name is not taken for a separator.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	var in countingBody
	if r.Body != nil {
		in.r = r.Body
		r.Body = &in
	}
	start := time.Now()
	route := routeOther
	h.metrics.inFlight.Inc()
	defer func() {
		h.metrics.inFlight.Dec()
		aborted := recover()
		status := rec.status
		if aborted != nil {
			status = 0 // cut off
		}
		el := time.Since(start)
		h.metrics.observe(route, status, rec.n, in.n, el)
		if h.opts.AccessLog != nil {
			b := linePool.Get().(*[]byte)
			*b = appendAccessLine((*b)[:0], start, r, status, rec.n, in.n, el, route)
			h.opts.AccessLog.Write(*b) // io.Writer: p is not retained
			linePool.Put(b)
		}
		if aborted != nil {
			panic(aborted)
		}
	}()

	p := r.URL.EscapedPath()
	switch {
	case p == "/healthz":
		route = routeHealth
		h.health(rec, r)
	case p == "/metrics":
		route = routeMetrics
		h.metrics.handler.ServeHTTP(rec, r)
	case p == "/blobs" || p == "/blobs/":
		route = routeUpload
		switch r.Method {
		case http.MethodPost:
			h.uploadBlob(rec, r)
		default:
			h.notAllowed(rec, r, "POST")
		}
	case strings.HasPrefix(p, "/blobs/"):
		route = routeBlob
		if !readMethod(r.Method) {
			h.notAllowed(rec, r, "GET, HEAD")
			return
		}
		d, err := cas.Parse(p[len("/blobs/"):])
		if err != nil {
			httpError(rec, http.StatusBadRequest, "malformed digest: want 64 lowercase hex characters")
			return
		}
		h.read(rec, r, target{digest: d})
	case strings.HasPrefix(p, "/txn/"):
		rest := p[len("/txn/"):]
		escTxn, escName, hasName := strings.Cut(rest, "/")
		txn, err1 := url.PathUnescape(escTxn)
		if !hasName {
			route = routeUploadTxn
			if r.Method != http.MethodPost {
				h.notAllowed(rec, r, "POST")
				return
			}
			if err1 != nil || txn == "" {
				httpError(rec, http.StatusBadRequest, "malformed transaction id in the path")
				return
			}
			h.uploadAttachment(rec, r, txn)
			return
		}
		route = routeTxn
		if !readMethod(r.Method) {
			h.notAllowed(rec, r, "GET, HEAD")
			return
		}
		name, err2 := url.PathUnescape(escName)
		if err1 != nil || err2 != nil || txn == "" {
			httpError(rec, http.StatusBadRequest, "malformed transaction id or name in the path")
			return
		}
		h.read(rec, r, target{txn: txn, name: name})
	default:
		httpError(rec, http.StatusNotFound, "not found")
	}
}

func readMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// notAllowed answers 405; for PUT, PATCH and DELETE it explains that the
// store is append-only.
func (h *Handler) notAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	msg := r.Method + " is not allowed here (allowed: " + allow + ")"
	switch r.Method {
	case http.MethodPut, http.MethodDelete, http.MethodPatch:
		msg = r.Method + " refused: " + cas.ErrImmutable.Error() +
			". A blob is named by the SHA-256 of its bytes; store new content with POST and refer to its new digest"
	}
	httpError(w, http.StatusMethodNotAllowed, msg)
}

// health answers 200 when the store and the index answer (a missing probe
// blob is an answer).
func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	res := map[string]string{"store": "ok"}
	status := http.StatusOK
	if _, err := h.store.Backend().Stat(ctx, cas.Digest{}); err != nil && !errors.Is(err, cas.ErrNotFound) {
		res["store"], status = "unreachable", http.StatusServiceUnavailable
		h.log.Warn("healthz: store", "err", err)
	}
	if h.ix != nil {
		res["index"] = "ok"
		if _, err := h.ix.AttachmentsOf(ctx, cas.Digest{}); err != nil && !errors.Is(err, cas.ErrNotFound) {
			res["index"], status = "unreachable", http.StatusServiceUnavailable
			h.log.Warn("healthz: index", "err", err)
		}
	}
	writeJSON(w, status, res)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// httpError writes a short JSON error. Messages never carry secrets.
func httpError(w http.ResponseWriter, status int, msg string) {
	hdr := w.Header()
	hdr.Del("ETag") // set before the blob was found; an error is not the blob
	hdr.Del("Content-Disposition")
	writeJSON(w, status, map[string]string{"error": msg})
}

// loggablePath is the request's path and query with the signature
// replaced by REDACTED.
func loggablePath(u *url.URL) string {
	p := u.EscapedPath()
	if u.RawQuery == "" {
		return p
	}
	var b strings.Builder
	b.Grow(len(p) + 1 + len(u.RawQuery))
	b.WriteString(p)
	for i, kv := range strings.Split(u.RawQuery, "&") {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		k, _, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err != nil || uk == paramSig {
			b.WriteString(paramSig + "=REDACTED")
			continue
		}
		b.WriteString(kv)
	}
	return b.String()
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendAccessLine appends one access log line to b.
func appendAccessLine(b []byte, start time.Time, r *http.Request, status int, out, in int64, el time.Duration, route string) []byte {
	b = start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, ' ')
	b = appendSafe(b, r.RemoteAddr)
	b = append(b, ' ')
	b = appendSafe(b, r.Method)
	b = append(b, ' ')
	b = appendSafe(b, loggablePath(r.URL))
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, out, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, in, 10)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, el.Seconds()*1000, 'f', 3, 64)
	b = append(b, "ms "...)
	b = append(b, route...)
	return append(b, '\n')
}

// appendSafe appends s, quoted when it holds anything but printable ASCII
// without spaces, so a request can never forge log lines.
func appendSafe(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '"' {
			return strconv.AppendQuote(b, s)
		}
	}
	return append(b, s...)
}

// recorder notes the status and the body bytes written.
type recorder struct {
	http.ResponseWriter
	status      int
	n           int64
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(p)
	r.n += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// countingBody counts request body bytes.
type countingBody struct {
	r io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error { return c.r.Close() }
