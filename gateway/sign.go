package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/casstore/casstore/cas"
)

// Query parameters of a gateway link.
const (
	paramExpires = "exp"    // unix seconds after which the link is refused
	paramKeyID   = "kid"    // which key signed
	paramSig     = "sig"    // base64url HMAC-SHA256; never logged
	paramName    = "name"   // file name for Content-Disposition
	paramType    = "type"   // Content-Type of the response
	paramInline  = "inline" // "1": Content-Disposition inline
)

// Signer makes signed gateway links. It implements cas.Linker, so `casctl
// url` prints gateway links for a store configured with a gateway URL, with
// the same options as S3 presigned links.
type Signer struct {
	base   string // scheme://host[/prefix], no trailing slash
	keys   *Keyring
	public bool
	now    func() time.Time
	macs   sync.Map // key id -> *sync.Pool of HMAC states
}

var _ cas.Linker = (*Signer)(nil)

// NewSigner returns a Signer for the gateway reached at baseURL (the
// address clients use, with any path prefix under which the gateway is
// mounted). public says the gateway serves unsigned reads, which lets
// LinkOptions.Public give plain links.
func NewSigner(baseURL string, keys *Keyring, public bool) (*Signer, error) {
	u, err := url.Parse(baseURL)
	if err == nil && u.User != nil {
		// Every link would carry them.
		return nil, fmt.Errorf("gateway url %q: credentials in the URL are not allowed: give http(s)://host[:port][/prefix]", u.Redacted())
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		shown := strconv.Quote(baseURL)
		if strings.Contains(baseURL, "@") {
			shown = "(a URL with user information)"
		}
		return nil, fmt.Errorf("gateway url %s: want http(s)://host[:port][/prefix]", shown)
	}
	return &Signer{base: strings.TrimSuffix(u.String(), "/"), keys: keys, public: public, now: time.Now}, nil
}

// Link implements cas.Linker: a GET link to /blobs/{d}, signed unless
// opts.Public (only on a public gateway). It makes no network request.
func (s *Signer) Link(_ context.Context, d cas.Digest, opts cas.LinkOptions) (string, error) {
	return s.link(blobPath(d), opts)
}

// LinkAttachment returns a link to /txn/{txn}/{name}: the attachment's
// newest blob under that name, with Content-Type and file name from the
// index unless opts set them.
func (s *Signer) LinkAttachment(txn, name string, opts cas.LinkOptions) (string, error) {
	if txn == "" {
		return "", fmt.Errorf("gateway link: %w", cas.ErrEmptyTxn)
	}
	return s.link(txnPath(txn, name), opts)
}

func (s *Signer) link(path string, opts cas.LinkOptions) (string, error) {
	if err := opts.Validate(); err != nil {
		return "", fmt.Errorf("gateway link: %w", err)
	}
	q := responseParams(opts)
	if opts.Public {
		if !s.public {
			return "", fmt.Errorf("gateway link: public links need a gateway configured public (public_links): %w", cas.ErrNotSupported)
		}
		return s.base + path + encodeQuery(q), nil
	}
	k := s.keys.signing()
	q.Set(paramExpires, strconv.FormatInt(s.now().Add(opts.Expires).Unix(), 10))
	q.Set(paramKeyID, k.ID)
	q.Set(paramSig, s.sign(k.ID, k.Secret, "GET", path, q))
	return s.base + path + "?" + q.Encode(), nil
}

func responseParams(opts cas.LinkOptions) url.Values {
	q := url.Values{}
	if opts.Name != "" {
		q.Set(paramName, opts.Name)
	}
	if opts.ContentType != "" {
		q.Set(paramType, opts.ContentType)
	}
	if opts.Inline {
		q.Set(paramInline, "1")
	}
	return q
}

func encodeQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// blobPath and txnPath are the canonical paths that signatures cover. The
// handler rebuilds them from the parsed request, so how a client escapes
// the path does not matter.
func blobPath(d cas.Digest) string { return "/blobs/" + d.String() }

func txnPath(txn, name string) string {
	return "/txn/" + escapeSegment(txn) + "/" + escapeSegment(name)
}

// escapeSegment path-escapes s, "/" included, and escapes the dots of "."
// and "..", which clients would otherwise resolve away.
func escapeSegment(s string) string {
	if s == "." || s == ".." {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}

// sign returns the base64url HMAC-SHA256 of method, canonical path and every
// query parameter but sig (sorted; exp and kid among them), so no parameter
// can be added, dropped or changed. HMAC states are pooled per key (a key
// id always names the same secret).
func (s *Signer) sign(kid string, secret []byte, method, path string, q url.Values) string {
	pool, _ := s.macs.LoadOrStore(kid, &sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }})
	m := pool.(*sync.Pool).Get().(hash.Hash)
	defer pool.(*sync.Pool).Put(m)
	m.Reset()
	io.WriteString(m, "casstore-gateway-v1\n")
	io.WriteString(m, method)
	io.WriteString(m, "\n")
	io.WriteString(m, path)
	io.WriteString(m, "\n")
	rest := make(url.Values, len(q))
	for k, v := range q {
		if k != paramSig {
			rest[k] = v
		}
	}
	io.WriteString(m, rest.Encode())
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(m.Sum(sum[:0]))
}

// verify checks a request's signature. It says only yes or no: the 403 must
// not tell which part failed. HEAD is allowed by a GET signature.
func (s *Signer) verify(method, path string, q url.Values) bool {
	if method == "HEAD" {
		method = "GET"
	}
	sig, kid, expStr := q.Get(paramSig), q.Get(paramKeyID), q.Get(paramExpires)
	if len(q[paramSig]) != 1 || sig == "" || kid == "" || expStr == "" {
		return false
	}
	exp, err := strconv.ParseInt(expStr, 10, 64)
	now := s.now()
	if err != nil || now.Unix() > exp {
		return false
	}
	secret, ok := s.keys.verifying(kid, now)
	if !ok {
		return false
	}
	want := s.sign(kid, secret, method, path, q)
	return hmac.Equal([]byte(sig), []byte(want))
}
