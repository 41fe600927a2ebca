package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Key names a setting. The string is its name in casctl's config file.
type Key string

// The settings casctl knows.
const (
	Store        Key = "store"         // file:///dir or s3://bucket/prefix
	Index        Key = "index"         // path, sqlite:///path or postgres://...
	Endpoint     Key = "endpoint"      // S3 endpoint URL
	Region       Key = "region"        // S3 region
	PathStyle    Key = "path_style"    // true: path-style URLs; false: virtual-hosted; empty: automatic
	Profile      Key = "profile"       // AWS profile for the shared files
	AccessKey    Key = "access_key_id" // AWS access key id
	SecretKey    Key = "secret_access_key"
	SessionToken Key = "session_token"
	PublicLinks  Key = "public_links" // true: the bucket is deliberately public; url may print plain links
	SSE          Key = "sse"          // "", "s3" or "kms": server-side encryption of uploads
	SSEKMSKeyID  Key = "sse_kms_key_id"
	LockMode     Key = "object_lock_mode"      // "", "governance" or "compliance"
	LockPeriod   Key = "object_lock_retention" // a duration such as 720h or 30d
	GatewayURL   Key = "gateway_url"           // base URL of a casctl serve gateway, for signed links
	GatewayKey   Key = "gateway_key_file"      // the gateway's link-signing key file
	UploadToken  Key = "upload_token"          // bearer token for gateway uploads
	TempDir      Key = "temp_dir"              // where streamed input is spooled
)

// spec says where a setting may come from.
type spec struct {
	flag    string   // command-line flag name, if any
	env     []string // environment variables, first wins
	awsConf string   // key in the profile's section of ~/.aws/config
	awsCred string   // key in the profile's section of ~/.aws/credentials
	secret  bool     // never printed
}

var specs = map[Key]spec{
	Store:        {flag: "store", env: []string{"CASCTL_STORE"}},
	Index:        {flag: "index", env: []string{"CASCTL_INDEX"}},
	Endpoint:     {flag: "endpoint", env: []string{"CASCTL_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}, awsConf: "endpoint_url"},
	Region:       {flag: "region", env: []string{"CASCTL_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"}, awsConf: "region"},
	PathStyle:    {flag: "path-style", env: []string{"CASCTL_PATH_STYLE"}},
	Profile:      {flag: "profile", env: []string{"AWS_PROFILE"}},
	AccessKey:    {env: []string{"AWS_ACCESS_KEY_ID"}, awsCred: "aws_access_key_id"},
	SecretKey:    {env: []string{"AWS_SECRET_ACCESS_KEY"}, awsCred: "aws_secret_access_key", secret: true},
	SessionToken: {env: []string{"AWS_SESSION_TOKEN"}, awsCred: "aws_session_token", secret: true},
	PublicLinks:  {env: []string{"CASCTL_PUBLIC_LINKS"}},
	SSE:          {flag: "sse", env: []string{"CASCTL_SSE"}},
	SSEKMSKeyID:  {flag: "sse-kms-key-id", env: []string{"CASCTL_SSE_KMS_KEY_ID"}},
	LockMode:     {flag: "object-lock-mode", env: []string{"CASCTL_OBJECT_LOCK_MODE"}},
	LockPeriod:   {flag: "object-lock-retention", env: []string{"CASCTL_OBJECT_LOCK_RETENTION"}},
	GatewayURL:   {flag: "gateway-url", env: []string{"CASCTL_GATEWAY_URL"}},
	GatewayKey:   {env: []string{"CASCTL_GATEWAY_KEY_FILE"}},
	UploadToken:  {env: []string{"CASCTL_UPLOAD_TOKEN"}, secret: true},
	TempDir:      {env: []string{"CASCTL_TEMP_DIR", "TMPDIR"}},
}

// FlagName returns the command-line flag that sets k, or "".
func FlagName(k Key) string { return specs[k].flag }

// Setting is one resolved value and where it came from.
type Setting struct {
	Value  string `json:"value,omitempty"`
	Source string `json:"source"` // "flag --region", "env AWS_REGION", "file /home/u/.config/casctl/config", "default", ...
	Secret bool   `json:"secret,omitempty"`
}

// String shows the value, or only that a secret is set.
func (s Setting) String() string {
	if s.Secret && s.Value != "" {
		return "(secret, from " + s.Source + ")"
	}
	return s.Value
}

// MarshalJSON writes the setting with a secret's value left out.
func (s Setting) MarshalJSON() ([]byte, error) {
	type plain Setting
	if s.Secret {
		s.Value = ""
	}
	return json.Marshal(plain(s))
}

// Config is a resolved configuration. The zero value has nothing set.
type Config struct {
	settings map[Key]Setting
	files    []string // files read, for messages
	env      Env
	home     string
}

// environment returns the Env and home directory Load used (the process's
// for a Config built by hand).
func (c *Config) environment() (Env, string) {
	if c.env == nil {
		home, _ := os.UserHomeDir()
		return os.LookupEnv, home
	}
	return c.env, c.home
}

// String lists the settings with their sources, secrets masked, so a
// Config can be printed or logged.
func (c *Config) String() string {
	var b strings.Builder
	for i, k := range c.Keys() {
		if i > 0 {
			b.WriteString(" ")
		}
		s := c.settings[k]
		fmt.Fprintf(&b, "%s=%q (%s)", k, s.String(), s.Source)
	}
	return b.String()
}

// GoString is String, so %#v shows no secret either.
func (c *Config) GoString() string { return c.String() }

// Get returns the setting's value ("" when unset).
func (c *Config) Get(k Key) string { return c.settings[k].Value }

// Setting returns the setting with its source.
func (c *Config) Setting(k Key) Setting {
	s, ok := c.settings[k]
	if !ok {
		return Setting{Source: "unset", Secret: specs[k].secret}
	}
	return s
}

// Set overrides a setting (source "set by program"), for library users and
// tests.
func (c *Config) Set(k Key, v string) {
	if c.settings == nil {
		c.settings = map[Key]Setting{}
	}
	c.settings[k] = Setting{Value: v, Source: "set by program", Secret: specs[k].secret}
}

// Report lists every setting that has a value, secrets masked, sorted by
// key: what doctor shows.
func (c *Config) Report() map[Key]Setting {
	out := map[Key]Setting{}
	for k, s := range c.settings {
		if s.Secret && s.Value != "" {
			s.Value = ""
		}
		out[k] = s
	}
	return out
}

// Keys returns the keys that have a value, sorted.
func (c *Config) Keys() []Key {
	var ks []Key
	for k := range c.settings {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

// Env looks up an environment variable; os.LookupEnv in production.
type Env func(string) (string, bool)

// Load resolves the configuration. flags holds the command-line flags the
// user set, by flag name; env reads the environment.
func Load(flags map[string]string, env Env) (*Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	home, _ := os.UserHomeDir()
	c := &Config{settings: map[Key]Setting{}, env: env, home: home}

	fileVals := map[string]string{}
	path, explicit := configFilePath(env, home)
	if path != "" {
		vals, err := readKeyValueFile(path)
		switch {
		case err == nil:
			fileVals = vals
			c.files = append(c.files, path)
			for k := range vals {
				if _, ok := specs[Key(k)]; !ok {
					return nil, fmt.Errorf("config: %s: unknown setting %q", path, k)
				}
			}
		case os.IsNotExist(err) && !explicit:
		default:
			return nil, fmt.Errorf("config: %w", err)
		}
	}

	// Flags, environment and casctl's file first; the profile is needed to
	// read the AWS files.
	resolve := func(k Key) bool {
		sp := specs[k]
		if sp.flag != "" {
			if v, ok := flags[sp.flag]; ok {
				c.settings[k] = Setting{Value: v, Source: "flag --" + sp.flag, Secret: sp.secret}
				return true
			}
		}
		for _, name := range sp.env {
			if v, ok := env(name); ok && v != "" {
				c.settings[k] = Setting{Value: v, Source: "env " + name, Secret: sp.secret}
				return true
			}
		}
		if v, ok := fileVals[string(k)]; ok {
			c.settings[k] = Setting{Value: v, Source: "file " + path, Secret: sp.secret}
			return true
		}
		return false
	}
	for k := range specs {
		resolve(k)
	}

	profile := c.Get(Profile)
	if profile == "" {
		profile = "default"
	}
	awsConf := envOr(env, "AWS_CONFIG_FILE", filepath.Join(home, ".aws", "config"))
	awsCred := envOr(env, "AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, ".aws", "credentials"))
	confSection := "profile " + profile
	if profile == "default" {
		confSection = "default"
	}
	confVals, _ := readINISection(awsConf, confSection)
	credVals, credErr := readINISection(awsCred, profile)
	if c.Get(Profile) != "" && credErr != nil && confVals == nil {
		return nil, fmt.Errorf("config: AWS profile %q (from %s) is not in %s or %s", profile, c.Setting(Profile).Source, awsCred, awsConf)
	}

	for k, sp := range specs {
		if _, ok := c.settings[k]; ok {
			continue
		}
		if sp.awsConf != "" {
			if v, ok := confVals[sp.awsConf]; ok && v != "" {
				c.settings[k] = Setting{Value: v, Source: fmt.Sprintf("profile %s (%s)", profile, awsConf), Secret: sp.secret}
				continue
			}
		}
		if sp.awsCred != "" {
			if v, ok := credVals[sp.awsCred]; ok && v != "" {
				c.settings[k] = Setting{Value: v, Source: fmt.Sprintf("profile %s (%s)", profile, awsCred), Secret: sp.secret}
			}
		}
	}
	// A session token belongs to its key pair: a stale token in a profile
	// is not combined with keys from the environment.
	if t, a := c.settings[SessionToken], c.settings[AccessKey]; t.Value != "" && a.Value != "" && sourceKind(t.Source) != sourceKind(a.Source) {
		delete(c.settings, SessionToken)
	}
	// A key pair comes from one place: an access key from the environment
	// with a secret from a file would be a mix-up, not a credential.
	if a, s := c.settings[AccessKey], c.settings[SecretKey]; a.Value != "" && s.Value != "" && sourceKind(a.Source) != sourceKind(s.Source) {
		return nil, fmt.Errorf("config: access key id (from %s) and secret access key (from %s) come from different places; set both in one", a.Source, s.Source)
	}

	if _, ok := c.settings[Store]; !ok {
		c.settings[Store] = Setting{Value: "file://" + filepath.ToSlash(DefaultStoreDir(env, home)), Source: "default"}
	}
	return c, nil
}

func sourceKind(src string) string {
	kind, _, _ := strings.Cut(src, " ")
	if kind == "profile" {
		return src
	}
	return kind
}

func envOr(env Env, name, def string) string {
	if v, ok := env(name); ok && v != "" {
		return v
	}
	return def
}

// configFilePath returns casctl's config file, and whether the user named
// it explicitly (then it must exist).
func configFilePath(env Env, home string) (string, bool) {
	if v, ok := env("CASCTL_CONFIG"); ok && v != "" {
		return v, true
	}
	return filepath.Join(xdgDir(env, "XDG_CONFIG_HOME", home, ".config"), "casctl", "config"), false
}

// DataDir returns casstore's data directory: $XDG_DATA_HOME/casstore, or
// ~/.local/share/casstore.
func DataDir(env Env, home string) string {
	return filepath.Join(xdgDir(env, "XDG_DATA_HOME", home, filepath.Join(".local", "share")), "casstore")
}

// ConfigDir returns casctl's configuration directory ($XDG_CONFIG_HOME/casctl).
func ConfigDir(env Env, home string) string {
	return filepath.Join(xdgDir(env, "XDG_CONFIG_HOME", home, ".config"), "casctl")
}

// Dir returns casctl's configuration directory as this configuration
// resolves it (see ConfigDir).
func (c *Config) Dir() string {
	env, home := c.environment()
	return ConfigDir(env, home)
}

// DefaultStoreDir is the disk store used when nothing is configured.
func DefaultStoreDir(env Env, home string) string {
	return filepath.Join(DataDir(env, home), "blobs")
}

func xdgDir(env Env, name, home, fallback string) string {
	if v, ok := env(name); ok && filepath.IsAbs(v) {
		return v
	}
	return filepath.Join(home, fallback)
}
