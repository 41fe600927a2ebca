package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/casstore/casstore/cas"
)

// target is what a read asks for: a digest, or (txn not empty) a
// transaction's attachment by name.
type target struct {
	digest    cas.Digest
	txn, name string
}

func (t target) byName() bool { return t.txn != "" }

// path is the canonical path that signatures cover.
func (t target) path() string {
	if t.byName() {
		return txnPath(t.txn, t.name)
	}
	return blobPath(t.digest)
}

const (
	immutable = "public, max-age=31536000, immutable"
	// Attachment URLs name the newest blob under a name, which may change:
	// caches revalidate with the ETag.
	revalidate = "no-cache"
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (h *Handler) read(w http.ResponseWriter, r *http.Request, t target) {
	q := r.URL.Query()
	if !h.opts.Public && (h.opts.Signer == nil || !h.opts.Signer.verify(r.Method, t.path(), q)) {
		httpError(w, http.StatusForbidden, "forbidden: the link is invalid or has expired")
		return
	}
	ctx := r.Context()
	ctype, fname := q.Get(paramType), q.Get(paramName)
	if t.byName() {
		if h.ix == nil {
			httpError(w, http.StatusNotFound, "no index: attachments cannot be found by name")
			return
		}
		att, err := h.ix.Find(ctx, t.txn, t.name)
		if err != nil {
			h.readError(w, r, err)
			return
		}
		t.digest = att.Digest
		if ctype == "" {
			ctype = att.ContentType
		}
		if fname == "" {
			fname = att.Name
		}
	} else if ctype == "" && fname == "" && h.ix != nil {
		// The index knows what the blob was called; the oldest name wins.
		ctype, fname = h.meta.lookup(ctx, h.ix, t.digest)
	}
	inline := q.Get(paramInline) == "1"

	if h.linker != nil {
		u, err := h.linker.Link(ctx, t.digest, cas.LinkOptions{Expires: h.opts.RedirectExpiry, Name: fname, ContentType: ctype, Inline: inline})
		if err != nil {
			h.readError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "private, no-store")
		http.Redirect(w, r, u, http.StatusFound)
		return
	}

	var dbuf [2*len(cas.Digest{}) + 2]byte
	dbuf[0], dbuf[len(dbuf)-1] = '"', '"'
	hex.Encode(dbuf[1:len(dbuf)-1], t.digest[:])
	etag := string(dbuf[:])
	// Header values share one array, set under their canonical keys
	// (what Header.Set would do, without a slice and a canonicalisation
	// each).
	vals := make([]string, 7)
	hdr := w.Header()
	setHdr := func(i int, k, v string) {
		vals[i] = v
		hdr[k] = vals[i : i+1 : i+1]
	}
	setHdr(0, "Etag", etag)
	if t.byName() {
		setHdr(1, "Cache-Control", revalidate)
	} else {
		setHdr(1, "Cache-Control", immutable)
	}
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}

	setHeaders := func(info cas.Info) {
		if ctype == "" {
			ctype = info.ContentType
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		setHdr(2, "Content-Type", ctype)
		setHdr(3, "Content-Disposition", cas.ContentDisposition(fname, inline))
		setHdr(4, "Accept-Ranges", "bytes")
		setHdr(5, "X-Content-Type-Options", "nosniff")
		setHdr(6, "Content-Security-Policy", "sandbox")
	}
	rg := r.Header.Get("Range")
	if r.Method == http.MethodGet && (rg == "" || !ifRange(r.Header.Get("If-Range"), etag)) {
		h.serveFull(w, r, t.digest, setHeaders)
		return
	}
	info, err := h.store.Stat(ctx, t.digest)
	if err != nil {
		h.readError(w, r, err)
		return
	}
	setHeaders(info)
	if r.Method == http.MethodHead {
		hdr.Set("Content-Length", strconv.FormatInt(info.Size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	off, length, ok, satisfiable := parseRange(rg, info.Size)
	switch {
	case ok && !satisfiable:
		hdr.Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
		httpError(w, http.StatusRequestedRangeNotSatisfiable, "range not satisfiable")
	case ok:
		h.serveRange(w, r, t.digest, info, off, length)
	default:
		h.serveFull(w, r, t.digest, nil)
	}
}

// serveFull streams the whole blob, hashing it as it goes. The verifying
// reader withholds the last bytes until the digest matched, so on a
// mismatch the client has received less than Content-Length when the
// connection is cut: it can never take a wrong body for a complete one.
// setHeaders, when not nil, sets the headers that need the blob's Info.
func (h *Handler) serveFull(w http.ResponseWriter, r *http.Request, d cas.Digest, setHeaders func(cas.Info)) {
	ctx := r.Context()
	rc, info, err := h.openFull(ctx, d)
	if err != nil {
		h.readError(w, r, err)
		return
	}
	defer rc.Close()
	if setHeaders != nil {
		setHeaders(info)
	}
	w.Header()["Content-Length"] = []string{strconv.FormatInt(info.Size, 10)}
	w.WriteHeader(http.StatusOK)
	switch {
	case info.Size <= smallMax:
		err = copySmall(w, rc, d, info.Size)
	case info.Size <= pipelineMin:
		err = copySerial(w, cas.NewReader(rc, d, info.Size))
	default:
		err = copyPipelined(w, rc, d, info.Size)
	}
	switch {
	case err == nil:
		h.verified.mark(d, info)
	case isWriteErr(err), ctx.Err() != nil:
		// The client went away.
	default:
		h.cut(r, d, err)
	}
}

// pipelineMin is the size above which reading, hashing and writing run on
// goroutines of their own (copyPipelined).
const pipelineMin = 1 << 20

// smallMax is the size up to which a blob is read whole into one pooled
// buffer, hashed in one call and written in one call (copySmall).
const smallMax = 64 << 10

// copySmall reads the size bytes of rc into a pooled buffer (one pread for
// a local file), checks that they hash to d and only then writes them: as
// with cas.Reader, a short, long or wrong blob is ErrCorrupt and nothing of
// it is written.
func copySmall(w io.Writer, rc io.Reader, d cas.Digest, size int64) error {
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	b := (*buf)[:size+1] // one byte more: a file grown past size shows
	n := 0
	for {
		m, err := rc.Read(b[n:])
		n += m
		if int64(n) >= size || err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	switch {
	case int64(n) > size:
		return fmt.Errorf("read %s: more than the expected %d bytes: %w", d.Short(), size, cas.ErrCorrupt)
	case int64(n) < size:
		return fmt.Errorf("read %s: got %d bytes, want %d: %w", d.Short(), n, size, cas.ErrCorrupt)
	}
	if got := cas.Digest(sha256.Sum256(b[:n])); got != d {
		return fmt.Errorf("read %s: content hashes to %s: %w", d.Short(), got.Short(), cas.ErrCorrupt)
	}
	if _, err := w.Write(b[:n]); err != nil {
		return writeErr{err}
	}
	return nil
}

// copySerial copies vr to w; io.EOF from vr, or its whole size delivered
// (vr verified the digest before handing out the last bytes), is success.
// The size comes from the open file itself, so the read for EOF is saved.
func copySerial(w io.Writer, vr *cas.Reader) error {
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	var total int64
	for {
		n, err := vr.Read(*buf)
		if n > 0 {
			total += int64(n)
			if _, werr := w.Write((*buf)[:n]); werr != nil {
				return writeErr{werr}
			}
		}
		if err == io.EOF || (err == nil && total == vr.Size()) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// copyPipelined streams size bytes of rc, which must hash to d, to w in
// three stages on their own goroutines: read, hash, write. On two cores the
// hash then runs alone on one of them, the copies on the other. Like
// cas.Reader, the hash stage forwards the chunk that completes size only
// after the digest matched (and never more than size bytes), so the writer
// can never send a complete wrong body; a mismatch is ErrCorrupt.
func copyPipelined(w io.Writer, rc io.Reader, d cas.Digest, size int64) error {
	type chunk struct {
		buf *[]byte
		n   int
		err error
	}
	const depth = 6
	free := make(chan *[]byte, depth)
	for range depth {
		free <- bufPool.Get().(*[]byte)
	}
	toHash := make(chan chunk, depth)
	toWrite := make(chan chunk, depth)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	send := func(ch chan chunk, c chunk) bool {
		select {
		case ch <- c:
			return true
		case <-stop:
			return false
		}
	}
	go func() { // read; bytes past size (a file growing now) are not read
		defer wg.Done()
		defer close(toHash)
		rc := io.LimitReader(rc, size)
		for {
			var buf *[]byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			n, err := io.ReadFull(rc, *buf)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			if !send(toHash, chunk{buf, n, err}) || err != nil {
				return
			}
		}
	}()
	go func() { // hash
		defer wg.Done()
		defer close(toWrite)
		h := sha256.New()
		var total int64
		for c := range toHash {
			h.Write((*c.buf)[:c.n])
			total += int64(c.n)
			switch {
			case total == size:
				if got := cas.Digest(h.Sum(nil)); got != d {
					c.n, c.err = 0, fmt.Errorf("read %s: content hashes to %s: %w", d.Short(), got.Short(), cas.ErrCorrupt)
				} else {
					c.err = io.EOF
				}
			case c.err == io.EOF:
				c.n, c.err = 0, fmt.Errorf("read %s: got %d bytes, want %d: %w", d.Short(), total, size, cas.ErrCorrupt)
			}
			if !send(toWrite, c) || c.err != nil {
				return
			}
		}
	}()
	var result error
	for c := range toWrite {
		if c.n > 0 {
			if _, err := w.Write((*c.buf)[:c.n]); err != nil {
				result = writeErr{err}
				break
			}
		}
		if c.err != nil {
			if c.err != io.EOF {
				result = c.err
			}
			break
		}
		free <- c.buf
	}
	close(stop)
	wg.Wait()
	for {
		select {
		case b := <-free:
			bufPool.Put(b)
		default:
			return result
		}
	}
}

// cut ends a response whose headers are sent: it logs the cause, counts a
// verification failure, and aborts the connection so the client sees an
// incomplete body.
func (h *Handler) cut(r *http.Request, d cas.Digest, err error) {
	if errors.Is(err, cas.ErrCorrupt) {
		h.corrupt(r, d, err, "response cut")
	} else {
		h.log.Error("read failed; response cut", "digest", d.String(), "path", loggablePath(r.URL), "err", err)
	}
	panic(http.ErrAbortHandler)
}

// corrupt counts and logs a blob that failed verification; what says what
// the client got instead.
func (h *Handler) corrupt(r *http.Request, d cas.Digest, err error, what string) {
	h.verified.forget(d)
	h.metrics.verifyFailures.Inc()
	h.log.Error("blob failed verification; "+what, "digest", d.String(), "path", loggablePath(r.URL), "err", err,
		"hint", "restore the blob from a copy; casctl verify lists every damaged blob")
}

// serveRange answers 206 with bytes [off, off+length). A range is served
// only from a blob that verified whole since it last changed: size and
// modification time as the backend reports them are the same as when the
// whole blob last hashed to its digest (by an earlier full GET or range, or
// now, before the first byte is sent).
func (h *Handler) serveRange(w http.ResponseWriter, r *http.Request, d cas.Digest, info cas.Info, off, length int64) {
	ctx := r.Context()
	size := info.Size
	if err := h.verified.ensure(ctx, d, info, h.verifyWhole); err != nil {
		if errors.Is(err, cas.ErrCorrupt) {
			h.corrupt(r, d, err, "range refused")
			httpError(w, http.StatusInternalServerError, "the blob failed verification and is not served")
			return
		}
		h.readError(w, r, err)
		return
	}
	rc, info, err := h.store.Backend().Open(ctx, d, off, length)
	if err != nil {
		h.readError(w, r, err)
		return
	}
	defer rc.Close()
	if !h.verified.current(d, info) || info.Size != size {
		// Changed between the check and the open: verify again next time.
		h.verified.forget(d)
		httpError(w, http.StatusServiceUnavailable, "the blob changed while it was read; retry")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+length-1, info.Size))
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(http.StatusPartialContent)
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	n, err := io.CopyBuffer(markWrites{w}, io.LimitReader(rc, length), *buf)
	if err == nil && n < length {
		err = fmt.Errorf("range of %s: got %d bytes, want %d: %w", d.Short(), n, length, cas.ErrCorrupt)
	}
	if err != nil && ctx.Err() == nil && !isWriteErr(err) {
		h.cut(r, d, err)
	}
}

// verifyWhole hashes the whole blob and returns the Info it verified.
func (h *Handler) verifyWhole(ctx context.Context, d cas.Digest) (cas.Info, error) {
	rc, info, err := h.openFull(ctx, d)
	if err != nil {
		return cas.Info{}, err
	}
	defer rc.Close()
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	if _, err := io.CopyBuffer(io.Discard, cas.NewReader(rc, d, info.Size), *buf); err != nil {
		return cas.Info{}, err
	}
	return info, nil
}

// markWrites hides ReadFrom, so copies go through our buffer, and marks
// write errors (the client went away) apart from read errors.
type markWrites struct{ w io.Writer }

func (m markWrites) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if err != nil {
		err = writeErr{err}
	}
	return n, err
}

type writeErr struct{ error }

func isWriteErr(err error) bool { var we writeErr; return errors.As(err, &we) }

// readError maps a store or index error onto a status.
func (h *Handler) readError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, cas.ErrNotFound), errors.Is(err, cas.ErrHidden):
		httpError(w, http.StatusNotFound, "not found")
	case errors.Is(err, cas.ErrEmptyTxn), errors.Is(err, cas.ErrInvalidDigest):
		httpError(w, http.StatusBadRequest, "bad request")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer. (Any other
		// cancellation falls through to an error status: an empty 200
		// must never go out.)
	default:
		h.log.Error("read failed", "path", loggablePath(r.URL), "err", err)
		httpError(w, http.StatusServiceUnavailable, "the store could not be read; retry later")
	}
}

// etagMatch implements If-None-Match for one strong ETag (weak comparison,
// as RFC 9110 asks for If-None-Match).
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimSpace(v)
		if v == "*" || strings.TrimPrefix(v, "W/") == etag {
			return true
		}
	}
	return false
}

// ifRange reports whether a Range may be honoured given If-Range: absent,
// or our ETag (dates never match: we serve no Last-Modified).
func ifRange(header, etag string) bool { return header == "" || header == etag }

// parseRange reads a single byte range ("bytes=a-b", "bytes=a-",
// "bytes=-n") against size. ok false: ignore the header and serve the whole
// blob (malformed, several ranges, another unit). satisfiable false: 416.
func parseRange(s string, size int64) (off, length int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(s, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	if a == "" { // suffix: the last n bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		n = min(n, size)
		return size - n, n, true, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, 0, false, false
	}
	last := size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
			return 0, 0, false, false
		}
		last = min(last, size-1)
	}
	if first >= size {
		return 0, 0, true, false
	}
	return first, last - first + 1, true, true
}
