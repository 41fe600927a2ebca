package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/casstore/casstore/cas"
)

// Upload request headers.
const (
	// HeaderSHA256 declares the body's SHA-256 (64 lowercase hex): a body
	// that hashes to anything else is refused and nothing is stored.
	HeaderSHA256 = "X-Content-SHA256"
	// HeaderName carries an attachment's name, percent-encoded (UTF-8), for
	// POST /txn/{T}; the "name" query parameter does the same.
	HeaderName = "X-Attachment-Name"
)

// uploadResult is the JSON body of a successful upload.
type uploadResult struct {
	Digest     cas.Digest      `json:"digest"`
	Size       int64           `json:"size"`
	New        bool            `json:"new"`
	Attachment *cas.Attachment `json:"attachment,omitempty"`
}

func (h *Handler) uploadBlob(w http.ResponseWriter, r *http.Request) {
	h.upload(w, r, nil)
}

func (h *Handler) uploadAttachment(w http.ResponseWriter, r *http.Request, txn string) {
	if h.ix == nil {
		httpError(w, http.StatusNotFound, "no index: attachments cannot be recorded")
		return
	}
	name := r.URL.Query().Get("name")
	if v := r.Header.Get(HeaderName); v != "" && name == "" {
		var err error
		if name, err = url.PathUnescape(v); err != nil {
			httpError(w, http.StatusBadRequest, HeaderName+" is not percent-encoded")
			return
		}
	}
	att := &cas.Attachment{Txn: txn, Name: name, ContentType: r.Header.Get("Content-Type")}
	// Refused before the body is read: nothing is stored for an attachment
	// the index could not record.
	if err := att.CheckLabels(); err != nil {
		httpError(w, http.StatusBadRequest, "bad attachment: "+err.Error()+"; nothing stored")
		return
	}
	h.upload(w, r, att)
}

// upload streams the body into the store: spooled to a temporary file while
// hashed (memory stays flat), checked against a declared digest, then
// stored; the blob is visible only once complete.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request, att *cas.Attachment) {
	if !h.authorized(r) {
		if h.opts.UploadToken == "" {
			httpError(w, http.StatusForbidden, "uploads are disabled: no upload token is configured")
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="casstore"`)
		httpError(w, http.StatusUnauthorized, "a valid bearer token is needed to upload")
		return
	}
	var declared cas.Digest
	if v := r.Header.Get(HeaderSHA256); v != "" {
		d, err := cas.Parse(v)
		if err != nil {
			httpError(w, http.StatusBadRequest, HeaderSHA256+": want 64 lowercase hex characters")
			return
		}
		declared = d
	}
	if r.ContentLength > h.opts.MaxUploadSize {
		httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body exceeds the upload limit of %d bytes", h.opts.MaxUploadSize))
		return
	}
	select {
	case h.uploads <- struct{}{}:
		defer func() { <-h.uploads }()
	default:
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "too many uploads in progress; retry")
		return
	}
	h.metrics.uploadsInFlight.Inc()
	defer h.metrics.uploadsInFlight.Dec()

	ctx := r.Context()
	body := http.MaxBytesReader(w, r.Body, h.opts.MaxUploadSize)
	src, cleanup, err := h.store.Hash(ctx, body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body exceeds the upload limit of %d bytes; nothing stored", h.opts.MaxUploadSize))
			return
		}
		h.log.Warn("upload: reading the body", "err", err)
		httpError(w, http.StatusBadRequest, "the body could not be read to its end; nothing stored")
		return
	}
	defer cleanup()
	if !declared.IsZero() && declared != src.Digest {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("the body hashes to %s, not to the declared %s; nothing stored", src.Digest, declared))
		return
	}
	ctype := r.Header.Get("Content-Type")
	res, err := h.store.PutSource(ctx, src, cas.PutOptions{ContentType: ctype})
	if err != nil {
		h.log.Error("upload: store", "digest", src.Digest.String(), "err", err)
		httpError(w, http.StatusServiceUnavailable, "the store refused the blob; retry later")
		return
	}
	out := uploadResult{Digest: res.Digest, Size: res.Size, New: res.New}
	if att != nil {
		att.Digest, att.Size = res.Digest, res.Size
		rec, err := h.ix.Record(ctx, []cas.Attachment{*att})
		if err != nil {
			h.log.Error("upload: index", "digest", res.Digest.String(), "err", err)
			httpError(w, http.StatusServiceUnavailable, "the blob is stored but the index refused the attachment")
			return
		}
		out.Attachment = &rec[0]
		h.meta.forget(res.Digest)
	}
	status := http.StatusOK
	if res.New {
		status = http.StatusCreated
	}
	w.Header().Set("Location", blobPath(res.Digest))
	writeJSON(w, status, out)
}

// authorized compares the bearer token in constant time (of the hashes, so
// not even the token's length leaks).
func (h *Handler) authorized(r *http.Request) bool {
	if h.opts.UploadToken == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(h.opts.UploadToken))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
