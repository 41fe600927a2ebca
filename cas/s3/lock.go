package s3

import (
	"fmt"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/internal/duration"
)

// lockMode returns the Object Lock retention mode of new objects, "" for
// none.
func (c Config) lockMode() (minio.RetentionMode, error) {
	var mode minio.RetentionMode
	switch m := strings.ToLower(c.LockMode); m {
	case "":
		if c.LockRetention != 0 {
			return "", fmt.Errorf("object_lock_retention %s is set but object_lock_mode is not (governance or compliance)", c.LockRetention)
		}
		return "", nil
	case "governance":
		mode = minio.Governance
	case "compliance":
		mode = minio.Compliance
	default:
		return "", fmt.Errorf("object_lock_mode %q: want governance or compliance", c.LockMode)
	}
	if c.LockRetention <= 0 {
		return "", fmt.Errorf("object_lock_mode %s needs a positive object_lock_retention (720h, 30d, ...)", strings.ToLower(c.LockMode))
	}
	return mode, nil
}

// ParseRetention parses a retention period: a Go duration ("720h") or a
// whole number of days ("30d").
func ParseRetention(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := duration.Parse(s)
	if err != nil {
		return 0, fmt.Errorf("retention %w", err)
	}
	return d, nil
}

// applyUploadSettings adds the configured encryption and Object Lock
// retention to the options of a new object.
func (b *Backend) applyUploadSettings(o *minio.PutObjectOptions) {
	o.ServerSideEncryption = b.sse
	if b.lock != "" {
		o.Mode = b.lock
		// Whole seconds: the header carries RFC 3339 without fractions.
		o.RetainUntilDate = time.Now().Add(b.cfg.LockRetention).UTC().Truncate(time.Second).Add(time.Second)
	}
}

// HiddenError reports a key whose current version is a delete marker: a
// plain DELETE on a versioned bucket hid the blob but its data is
// retained. Removing the marker (a DELETE of its version id) restores it.
// It unwraps to cas.ErrHidden.
type HiddenError struct {
	Op       string
	Bucket   string
	Key      string
	MarkerID string // version id of the delete marker, "" when not reported
}

func (e *HiddenError) Error() string {
	marker := ""
	if e.MarkerID != "" {
		marker = " (delete marker version " + e.MarkerID + ")"
	}
	return fmt.Sprintf("s3: %s: %s/%s%s: %s", e.Op, e.Bucket, e.Key, marker, cas.ErrHidden)
}

func (e *HiddenError) Unwrap() error { return cas.ErrHidden }
