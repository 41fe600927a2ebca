package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/s3"
	"github.com/casstore/casstore/config"
)

func (d *doc) s3(ctx context.Context, b *s3.Backend) {
	r := d.r

	// Endpoint: an unsigned request, which also reads the server's clock.
	ep, err := b.ProbeEndpoint(ctx)
	if err != nil {
		r.add(CheckEndpoint, Failed, errText(err), "check the endpoint setting ("+d.cfg.Setting(config.Endpoint).Source+"), the network and that the server runs")
		return
	}
	if ep.TLS {
		r.add(CheckEndpoint, OK, fmt.Sprintf("%s answers over %s", ep.URL, ep.TLSVersion), "")
	} else {
		advice := "fine on a private network; use https:// across any other"
		if h := strings.TrimPrefix(ep.URL, "http://"); strings.HasPrefix(h, "127.") || strings.HasPrefix(h, "localhost") || strings.HasPrefix(h, "[::1]") {
			advice = ""
		}
		r.add(CheckEndpoint, OK, ep.URL+" answers over plain HTTP (no TLS)", advice)
	}
	d.clock(ep.ServerTime)

	// Credentials and bucket: the first signed requests tell.
	credsKnown, bucketKnown := false, false
	denied := false
	if b.Anonymous() {
		r.add(CheckCredentials, Failed, "no credential found in AWS_*/MINIO_* variables, ~/.aws/credentials or instance metadata: requests are anonymous",
			"set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile (--profile, AWS_PROFILE)")
		credsKnown = true
	}
	credsFailed := func(err error) {
		r.add(CheckCredentials, Failed, errText(err), "the server rejects the key pair: check "+d.cfg.Setting(config.AccessKey).Source+" and "+d.cfg.Setting(config.SecretKey).Source)
	}
	credsOK := func() {
		if !credsKnown {
			credsKnown = true
			src := d.cfg.Setting(config.AccessKey).Source
			r.add(CheckCredentials, OK, "accepted by the server (access key id from "+src+", secret from "+d.cfg.Setting(config.SecretKey).Source+")", "")
		}
	}
	noBucket := func(err error) {
		credsOK()
		r.add(CheckBucket, Failed, errText(err), "create it with casctl init (Object Lock, default encryption, private), or fix the store setting ("+d.cfg.Setting(config.Store).Source+")")
	}
	bucketOK := func() {
		if !bucketKnown {
			bucketKnown = true
			r.add(CheckBucket, OK, "bucket "+b.Bucket()+" exists", "")
		}
	}

	region, err := b.BucketRegion(ctx)
	switch {
	case err == nil:
		credsOK()
		bucketOK()
		want := b.Region()
		if want == "" || strings.EqualFold(want, region) {
			r.add(CheckRegion, OK, "bucket region "+region+" matches the setting", "")
		} else {
			r.add(CheckRegion, Failed, fmt.Sprintf("the bucket is in %s, the setting says %s (from %s)", region, want, d.cfg.Setting(config.Region).Source),
				"set region to "+region)
		}
	case errors.Is(err, cas.ErrBadCredentials):
		credsFailed(err)
		return
	case errors.Is(err, cas.ErrNoBucket):
		noBucket(err)
		return
	case errors.Is(err, cas.ErrAccessDenied):
		denied = true
		r.add(CheckRegion, NotPermitted, errText(err), "cannot compare the region (needs s3:GetBucketLocation); a wrong region shows as failed requests")
	default:
		r.add(CheckRegion, Failed, errText(err), "")
	}

	writeErr, readErr := d.probe(ctx, b)
	for _, err := range []error{writeErr, readErr} {
		switch {
		case err == nil:
			credsOK()
			bucketOK()
		case errors.Is(err, cas.ErrBadCredentials):
			if !credsKnown {
				credsFailed(err)
			}
			return
		case errors.Is(err, cas.ErrNoBucket):
			if !bucketKnown {
				noBucket(err)
			}
			return
		case errors.Is(err, cas.ErrAccessDenied):
			denied = true
		case errors.Is(err, cas.ErrNotFound), errors.Is(err, cas.ErrHidden):
			credsOK()
			bucketOK()
		}
	}
	if !credsKnown && denied {
		credsOK()
	}
	if !bucketKnown {
		r.add(CheckBucket, NotPermitted, "cannot tell whether bucket "+b.Bucket()+" exists: every request was denied", "a writer's probe (s3:PutObject) or a reader's (s3:GetObject) would tell")
	}

	d.anonymous(ctx, b)
	d.versioning(ctx, b)
	d.objectLock(ctx, b)
	d.lifecycle(ctx, b)
	d.encryption(ctx, b)
}

func (d *doc) clock(server time.Time) {
	if server.IsZero() {
		d.r.add(CheckClock, Warning, "the server sent no Date header: cannot compare clocks", "")
		return
	}
	skew := d.opts.Now().Sub(server).Round(time.Second)
	abs := skew.Abs()
	detail := fmt.Sprintf("local clock is %s %s the server's", abs, map[bool]string{true: "ahead of", false: "behind"}[skew >= 0])
	switch {
	case abs > MaxSkew:
		d.r.add(CheckClock, Failed, detail+": S3 refuses signed requests beyond 15 minutes (RequestTimeTooSkewed)", "synchronise the clock (NTP: timedatectl set-ntp true)")
	case abs > WarnSkew:
		d.r.add(CheckClock, Warning, detail, "synchronise the clock (NTP) before it reaches 15 minutes")
	default:
		d.r.add(CheckClock, OK, "within a minute of the server's ("+abs.String()+")", "")
	}
}

func (d *doc) anonymous(ctx context.Context, b *s3.Backend) {
	status, err := b.AnonymousGet(ctx, cas.EmptyDigest)
	public, _ := strconv.ParseBool(d.cfg.Get(config.PublicLinks))
	u := b.ObjectURL(cas.EmptyDigest)
	switch {
	case err != nil:
		d.r.add(CheckAnonymous, Warning, "could not try an anonymous GET: "+errText(err), "")
	case status == http.StatusOK && public:
		d.r.add(CheckAnonymous, OK, "anyone can read objects ("+u+" answered 200); public_links is enabled, so this is deliberate", "")
	case status == http.StatusOK:
		d.r.add(CheckAnonymous, Warning, "anyone can read objects without credentials: "+u+" answered 200",
			"remove the public bucket policy (mc anonymous set none ALIAS/"+b.Bucket()+"; on AWS turn Block Public Access on), or set public_links=true if it is deliberate")
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		d.r.add(CheckAnonymous, OK, fmt.Sprintf("anonymous users are refused (%d)", status), "")
	case status == http.StatusNotFound && d.written:
		d.r.add(CheckAnonymous, Warning, "an anonymous GET of a stored object answered 404: anonymous users may list the bucket", "remove the anonymous bucket policy")
	default:
		d.r.add(CheckAnonymous, OK, fmt.Sprintf("an anonymous GET answered %d, not the object", status), "")
	}
}

func (d *doc) versioning(ctx context.Context, b *s3.Backend) {
	v, err := b.Versioning(ctx)
	switch {
	case errors.Is(err, cas.ErrAccessDenied):
		d.r.add(CheckVersioning, NotPermitted, errText(err), "")
	case err != nil:
		d.r.add(CheckVersioning, Failed, errText(err), "")
	case v == "Enabled":
		d.r.add(CheckVersioning, OK, "enabled: a plain DELETE only adds a delete marker; the data stays retained", "")
	case v == "Suspended":
		d.r.add(CheckVersioning, Warning, "suspended: a DELETE by another tool removes new blobs for good", "enable versioning again (mc version enable ALIAS/"+b.Bucket()+")")
	default:
		d.r.add(CheckVersioning, OK, "off: only the credentials keep other tools from deleting blobs", "for protection against deletes, create a bucket with Object Lock (casctl init --object-lock)")
	}
}

func (d *doc) objectLock(ctx context.Context, b *s3.Backend) {
	lc, err := b.ObjectLock(ctx)
	mode, period := b.LockMode()
	switch {
	case errors.Is(err, cas.ErrAccessDenied):
		d.r.add(CheckObjectLock, NotPermitted, errText(err), "")
	case err != nil:
		d.r.add(CheckObjectLock, Failed, errText(err), "")
	case !lc.Enabled && mode != "":
		d.r.add(CheckObjectLock, Failed, fmt.Sprintf("object_lock_mode is %s (from %s) but the bucket has no Object Lock: every put is refused", mode, d.cfg.Setting(config.LockMode).Source),
			"Object Lock can only be chosen when a bucket is created: use casctl init --object-lock with a new bucket, or unset object_lock_mode")
	case !lc.Enabled:
		d.r.add(CheckObjectLock, OK, "off", "for WORM retention, create a bucket with casctl init --object-lock")
	case mode != "":
		d.r.add(CheckObjectLock, OK, fmt.Sprintf("enabled; every put carries a %s retention of %s%s", mode, period, bucketDefault(lc)), "")
	case lc.Mode != "":
		d.r.add(CheckObjectLock, OK, "enabled"+bucketDefault(lc), "")
	default:
		d.r.add(CheckObjectLock, Warning, "enabled, but neither the bucket nor the configuration sets a retention: blobs are not locked",
			"set object_lock_mode (governance or compliance) and object_lock_retention (e.g. 365d)")
	}
}

func bucketDefault(lc s3.LockConfig) string {
	if lc.Mode == "" {
		return ""
	}
	return "; bucket default retention " + lc.Mode + " " + lc.Period
}

func (d *doc) lifecycle(ctx context.Context, b *s3.Backend) {
	rules, err := b.ExpiringRules(ctx)
	switch {
	case errors.Is(err, cas.ErrAccessDenied):
		d.r.add(CheckLifecycle, NotPermitted, errText(err), "")
	case err != nil:
		d.r.add(CheckLifecycle, Failed, errText(err), "")
	case len(rules) == 0:
		d.r.add(CheckLifecycle, OK, "no lifecycle rule expires or deletes objects under the prefix", "")
	default:
		var parts []string
		for _, rule := range rules {
			parts = append(parts, fmt.Sprintf("rule %q (prefix %q) %s", rule.ID, rule.Prefix, rule.Action))
		}
		d.r.add(CheckLifecycle, Warning, strings.Join(parts, "; ")+": blobs would disappear, breaking the store's promise to keep them",
			"remove the rule or narrow it to another prefix (mc ilm rule rm --id ID ALIAS/"+b.Bucket()+")")
	}
}

func (d *doc) encryption(ctx context.Context, b *s3.Backend) {
	def, err := b.DefaultEncryption(ctx)
	up := b.UploadEncryption()
	uploads := "uploads ask for " + up.String()
	if up.Algorithm == "" {
		uploads = "uploads ask for none (sse unset)"
	}
	switch {
	case errors.Is(err, cas.ErrAccessDenied) && up.Algorithm != "":
		d.r.add(CheckEncryption, OK, uploads+"; the bucket default could not be read (needs s3:GetEncryptionConfiguration)", "")
	case errors.Is(err, cas.ErrAccessDenied):
		d.r.add(CheckEncryption, NotPermitted, errText(err), "set sse=s3 or sse=kms to encrypt uploads whatever the bucket's default")
	case err != nil:
		d.r.add(CheckEncryption, Failed, errText(err), "")
	case def.Algorithm == "" && up.Algorithm == "":
		d.r.add(CheckEncryption, Warning, "the bucket has no default encryption and "+uploads,
			"set default encryption on the bucket (mc encrypt set sse-s3 ALIAS/"+b.Bucket()+"), or sse=s3 / sse=kms with sse_kms_key_id")
	default:
		d.r.add(CheckEncryption, OK, "bucket default "+def.String()+"; "+uploads, "")
	}
}
