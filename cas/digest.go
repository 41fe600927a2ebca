package cas

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// Digest is the SHA-256 of a blob's bytes and the blob's only name.
type Digest [sha256.Size]byte

// EmptyDigest is the digest of the empty blob, a valid blob like any other.
var EmptyDigest = Sum(nil)

// Sum returns the digest of b.
func Sum(b []byte) Digest { return Digest(sha256.Sum256(b)) }

// Parse reads a digest written as exactly 64 lowercase hexadecimal
// characters. Anything else (upper case, a prefix, a path) is refused with
// ErrInvalidDigest before it can reach a backend.
func Parse(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*len(d) {
		return Digest{}, fmt.Errorf("%w: %q: want 64 lowercase hex characters, got %d characters", ErrInvalidDigest, clip(s), len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return Digest{}, fmt.Errorf("%w: %q: character %d is not lowercase hex", ErrInvalidDigest, clip(s), i+1)
		}
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return Digest{}, fmt.Errorf("%w: %q: %v", ErrInvalidDigest, clip(s), err)
	}
	return d, nil
}

// MustParse is Parse for constants in tests and examples; it panics on error.
func MustParse(s string) Digest {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// String returns the 64-character lowercase hex form, the blob's key.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Short returns the first 12 hex characters, for messages meant for people.
func (d Digest) Short() string { return d.String()[:12] }

// IsZero reports whether d is the zero value (not a digest of anything).
func (d Digest) IsZero() bool { return d == Digest{} }

// Base64 returns the standard base64 of the raw digest, the form S3 uses in
// x-amz-checksum-sha256.
func (d Digest) Base64() string { return base64.StdEncoding.EncodeToString(d[:]) }

// MarshalText implements encoding.TextMarshaler (the hex form).
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with Parse's strictness.
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// clip shortens untrusted input quoted in an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
