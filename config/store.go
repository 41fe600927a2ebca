package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

// StoreURL is a parsed store setting: file:///dir or s3://bucket/prefix.
type StoreURL struct {
	Scheme string // "file" or "s3"
	Dir    string // file: the absolute directory
	Bucket string // s3
	Prefix string // s3: key prefix, "" or ending in "/"
}

// String writes the URL back in its canonical form.
func (u StoreURL) String() string {
	if u.Scheme == "file" {
		return "file://" + filepath.ToSlash(u.Dir)
	}
	return "s3://" + u.Bucket + "/" + u.Prefix
}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ParseStoreURL parses a store setting. A plain absolute or relative path
// means a disk store.
func ParseStoreURL(s string) (StoreURL, error) {
	if s == "" {
		return StoreURL{}, fmt.Errorf("store: empty setting")
	}
	if !strings.Contains(s, "://") {
		abs, err := filepath.Abs(s)
		if err != nil {
			return StoreURL{}, fmt.Errorf("store %q: %w", s, err)
		}
		return StoreURL{Scheme: "file", Dir: abs}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return StoreURL{}, fmt.Errorf("store %q: %w", s, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return StoreURL{}, fmt.Errorf("store %q: a file URL names a local directory: file:///path", s)
		}
		if u.Path == "" {
			return StoreURL{}, fmt.Errorf("store %q: no directory", s)
		}
		return StoreURL{Scheme: "file", Dir: filepath.Clean(filepath.FromSlash(u.Path))}, nil
	case "s3":
		if !bucketName.MatchString(u.Host) {
			return StoreURL{}, fmt.Errorf("store %q: %q is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)", s, u.Host)
		}
		prefix := strings.TrimPrefix(u.Path, "/")
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		if strings.Contains(prefix, "//") || strings.Contains(prefix, "..") {
			return StoreURL{}, fmt.Errorf("store %q: malformed prefix %q", s, prefix)
		}
		return StoreURL{Scheme: "s3", Bucket: u.Host, Prefix: prefix}, nil
	}
	return StoreURL{}, fmt.Errorf("store %q: unknown scheme %q (want file:// or s3://)", s, u.Scheme)
}

// StoreURL returns the parsed store setting.
func (c *Config) StoreURL() (StoreURL, error) { return ParseStoreURL(c.Get(Store)) }

// IndexPath returns the index setting, or the default that follows the
// store: beside a disk store (DIR.index.db), and for S3 in the data
// directory, named after the bucket and prefix.
func (c *Config) IndexPath() (string, error) {
	if v := c.Get(Index); v != "" {
		return v, nil
	}
	u, err := c.StoreURL()
	if err != nil {
		return "", err
	}
	if u.Scheme == "file" {
		return u.Dir + ".index.db", nil
	}
	env, home := c.environment()
	// One file per bucket and prefix, escaped so that no two share a name.
	name := url.PathEscape(u.Bucket + "/" + strings.TrimSuffix(u.Prefix, "/"))
	return filepath.Join(DataDir(env, home), "s3", name+".index.db"), nil
}
