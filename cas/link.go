package cas

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Link limits, as S3 presigned URLs have them.
const (
	MinLinkExpiry = time.Second
	MaxLinkExpiry = 7 * 24 * time.Hour
)

// LinkOptions describe a direct link to a blob.
type LinkOptions struct {
	// Expires is how long a signed link stays valid, MinLinkExpiry to
	// MaxLinkExpiry. Ignored for public links.
	Expires time.Duration
	// Public asks for a plain, unsigned URL; only stores configured as
	// deliberately public give one.
	Public bool
	// Name, when set, is the file name the browser offers (sent as
	// Content-Disposition, see ContentDisposition).
	Name string
	// ContentType, when set, is the Content-Type the response carries.
	ContentType string
	// Inline asks the browser to show the content rather than download it.
	Inline bool
}

// Validate checks the expiry of a signed link.
func (o LinkOptions) Validate() error {
	if o.Public {
		return nil
	}
	if o.Expires < MinLinkExpiry || o.Expires > MaxLinkExpiry {
		return fmt.Errorf("link expiry %s: must be between %s and %s (7 days)", o.Expires, MinLinkExpiry, MaxLinkExpiry)
	}
	return nil
}

// Linker is implemented by what can hand out direct links to blobs: an S3
// backend (presigned or public URLs) or an HTTP gateway (signed links). A
// backend that cannot (the disk store without a gateway) does not implement
// it, and callers answer with ErrNotSupported.
type Linker interface {
	// Link returns a URL that fetches blob d with the given options. It
	// makes no network request.
	Link(ctx context.Context, d Digest, opts LinkOptions) (string, error)
}

// ContentDisposition renders an RFC 6266 Content-Disposition value for a
// file name: "attachment" (or "inline"), a quoted ASCII fallback with
// anything unsafe replaced by '_', and, when the name is not plain ASCII,
// the exact name in RFC 5987 form (the filename* parameter). An empty name
// gives the bare disposition type. Invalid UTF-8 is replaced first.
func ContentDisposition(name string, inline bool) string {
	kind := "attachment"
	if inline {
		kind = "inline"
	}
	if name == "" {
		return kind
	}
	name = strings.ToValidUTF8(name, "\uFFFD")
	var fallback strings.Builder
	plain := true
	for _, r := range name {
		switch {
		case r >= 0x80:
			plain = false
			fallback.WriteByte('_')
		case r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == '/' || r == '%' || r == ';':
			plain = false
			fallback.WriteByte('_')
		default:
			fallback.WriteRune(r)
		}
	}
	v := kind + `; filename="` + fallback.String() + `"`
	if !plain {
		v += "; filename*=UTF-8''" + encodeRFC5987(name)
	}
	return v
}

// encodeRFC5987 percent-encodes everything but RFC 5987's attr-char set.
func encodeRFC5987(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
