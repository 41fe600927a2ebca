package s3

import (
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// SSE modes of Config.SSE.
const (
	SSENone = ""    // no header: the bucket's default encryption applies
	SSES3   = "s3"  // SSE-S3: keys managed by the server (AES256)
	SSEKMS  = "kms" // SSE-KMS: the key SSEKMSKeyID in the server's KMS
)

// encryption returns the server-side encryption every upload asks for, or
// nil for none.
func (c Config) encryption() (encrypt.ServerSide, error) {
	switch strings.ToLower(c.SSE) {
	case SSENone:
		if c.SSEKMSKeyID != "" {
			return nil, fmt.Errorf("sse_kms_key_id %q is set but sse is not \"kms\"", c.SSEKMSKeyID)
		}
		return nil, nil
	case SSES3, "aes256", "sse-s3":
		if c.SSEKMSKeyID != "" {
			return nil, fmt.Errorf("sse %q takes no KMS key id (%q): use sse=kms", c.SSE, c.SSEKMSKeyID)
		}
		return encrypt.NewSSE(), nil
	case SSEKMS, "aws:kms", "sse-kms":
		if c.SSEKMSKeyID == "" {
			return nil, fmt.Errorf("sse %q needs sse_kms_key_id", c.SSE)
		}
		sse, err := encrypt.NewSSEKMS(c.SSEKMSKeyID, nil)
		if err != nil {
			return nil, fmt.Errorf("sse_kms_key_id %q: %v", c.SSEKMSKeyID, err)
		}
		return sse, nil
	}
	return nil, fmt.Errorf("sse %q: want s3, kms or nothing", c.SSE)
}

// Encryption describes server-side encryption: of uploads (Config.SSE) or
// a bucket's default.
type Encryption struct {
	Algorithm string // "" (none), "AES256" (SSE-S3) or "aws:kms" (SSE-KMS)
	KMSKeyID  string // for aws:kms, when known
}

// String is "none", "SSE-S3" or "SSE-KMS (key K)".
func (e Encryption) String() string {
	switch e.Algorithm {
	case "":
		return "none"
	case "AES256":
		return "SSE-S3"
	case "aws:kms", "aws:kms:dsse":
		if e.KMSKeyID != "" {
			return "SSE-KMS (key " + e.KMSKeyID + ")"
		}
		return "SSE-KMS"
	}
	return e.Algorithm
}

// UploadEncryption is the encryption every upload asks for.
func (b *Backend) UploadEncryption() Encryption {
	switch {
	case b.sse == nil:
		return Encryption{}
	case b.sse.Type() == encrypt.KMS:
		return Encryption{Algorithm: "aws:kms", KMSKeyID: b.cfg.SSEKMSKeyID}
	}
	return Encryption{Algorithm: "AES256"}
}
