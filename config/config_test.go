package config_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/config"
)

// fakeEnv returns an Env over vars, with HOME-like dirs pointed into dir.
func fakeEnv(dir string, vars map[string]string) config.Env {
	base := map[string]string{
		"XDG_CONFIG_HOME":             filepath.Join(dir, "config"),
		"XDG_DATA_HOME":               filepath.Join(dir, "data"),
		"AWS_CONFIG_FILE":             filepath.Join(dir, "aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws", "credentials"),
	}
	for k, v := range vars {
		base[k] = v
	}
	return func(k string) (string, bool) { v, ok := base[k]; return v, ok }
}

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

func TestDefaultIsDiskStoreInDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load(nil, fakeEnv(dir, nil))
	require.NoError(t, err)
	u, err := cfg.StoreURL()
	require.NoError(t, err)
	assert.Equal(t, "file", u.Scheme)
	assert.Equal(t, filepath.Join(dir, "data", "casstore", "blobs"), u.Dir)
	assert.Equal(t, "default", cfg.Setting(config.Store).Source)
	ix, err := cfg.IndexPath()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "data", "casstore", "blobs.index.db"), ix)
}

func TestPrecedenceFlagEnvFileProfile(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "config", "casctl", "config"), "# casctl\nregion = file-region\nstore = s3://from-file/p\nendpoint = http://file:9000\n")
	write(t, filepath.Join(dir, "aws", "config"), "[default]\nregion = profile-region\n[profile work]\nregion = work-region\nendpoint_url = http://work:9000\n")
	write(t, filepath.Join(dir, "aws", "credentials"), "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = defaultsecret\n[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = worksecret\n")

	// Flag beats environment beats file.
	cfg, err := config.Load(map[string]string{"region": "flag-region"}, fakeEnv(dir, map[string]string{"AWS_REGION": "env-region"}))
	require.NoError(t, err)
	assert.Equal(t, "flag-region", cfg.Get(config.Region))
	assert.Equal(t, "flag --region", cfg.Setting(config.Region).Source)

	cfg, err = config.Load(nil, fakeEnv(dir, map[string]string{"AWS_DEFAULT_REGION": "env-region"}))
	require.NoError(t, err)
	assert.Equal(t, "env-region", cfg.Get(config.Region))
	assert.Equal(t, "env AWS_DEFAULT_REGION", cfg.Setting(config.Region).Source)

	cfg, err = config.Load(nil, fakeEnv(dir, nil))
	require.NoError(t, err)
	assert.Equal(t, "file-region", cfg.Get(config.Region))
	assert.Equal(t, "s3://from-file/p", cfg.Get(config.Store))
	assert.Equal(t, "AKIDDEFAULT", cfg.Get(config.AccessKey))
	assert.Contains(t, cfg.Setting(config.SecretKey).Source, "profile default")

	// The profile supplies what nothing earlier set.
	write(t, filepath.Join(dir, "config", "casctl", "config"), "store = s3://b\n")
	cfg, err = config.Load(nil, fakeEnv(dir, map[string]string{"AWS_PROFILE": "work"}))
	require.NoError(t, err)
	assert.Equal(t, "work-region", cfg.Get(config.Region))
	assert.Equal(t, "http://work:9000", cfg.Get(config.Endpoint))
	assert.Equal(t, "AKIDWORK", cfg.Get(config.AccessKey))

	// AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL.
	cfg, err = config.Load(nil, fakeEnv(dir, map[string]string{"AWS_ENDPOINT_URL": "http://generic", "AWS_ENDPOINT_URL_S3": "http://s3only"}))
	require.NoError(t, err)
	assert.Equal(t, "http://s3only", cfg.Get(config.Endpoint))
}

func TestSecretsNeverShown(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load(nil, fakeEnv(dir, map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value", "AWS_SESSION_TOKEN": "tok3n-value"}))
	require.NoError(t, err)
	assert.Equal(t, "s3cr3t-value", cfg.Get(config.SecretKey))
	var all strings.Builder
	for k, s := range cfg.Report() {
		all.WriteString(string(k) + "=" + s.Value + " " + s.String() + " " + s.Source + "\n")
	}
	all.WriteString(cfg.Setting(config.SecretKey).String())
	js, err := json.Marshal(cfg.Report())
	require.NoError(t, err)
	all.Write(js)
	js, err = json.Marshal(cfg.Setting(config.SecretKey))
	require.NoError(t, err)
	all.Write(js)
	all.WriteString(fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg))
	assert.NotContains(t, all.String(), "s3cr3t-value")
	assert.NotContains(t, all.String(), "tok3n-value")
	assert.Contains(t, all.String(), "env AWS_SECRET_ACCESS_KEY")
}

func TestMixedKeyPairRefused(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "aws", "credentials"), "[default]\naws_secret_access_key = filesecret\n")
	_, err := config.Load(nil, fakeEnv(dir, map[string]string{"AWS_ACCESS_KEY_ID": "AKID"}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "filesecret")
}

func TestUnknownSettingAndProfile(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "config", "casctl", "config"), "regoin = typo\n")
	_, err := config.Load(nil, fakeEnv(dir, nil))
	assert.ErrorContains(t, err, `unknown setting "regoin"`)

	_, err = config.Load(nil, fakeEnv(t.TempDir(), map[string]string{"AWS_PROFILE": "nope"}))
	assert.ErrorContains(t, err, `AWS profile "nope"`)

	_, err = config.Load(nil, fakeEnv(t.TempDir(), map[string]string{"CASCTL_CONFIG": "/nonexistent/casctl.conf"}))
	assert.Error(t, err, "a config file named explicitly must exist")
}

func TestParseStoreURL(t *testing.T) {
	u, err := config.ParseStoreURL("s3://my-bucket/uploads")
	require.NoError(t, err)
	assert.Equal(t, config.StoreURL{Scheme: "s3", Bucket: "my-bucket", Prefix: "uploads/"}, u)
	assert.Equal(t, "s3://my-bucket/uploads/", u.String())
	u, err = config.ParseStoreURL("s3://my-bucket")
	require.NoError(t, err)
	assert.Equal(t, "", u.Prefix)
	u, err = config.ParseStoreURL("file:///srv/att")
	require.NoError(t, err)
	assert.Equal(t, "/srv/att", u.Dir)
	for _, bad := range []string{"", "s3://UPPER/x", "s3://b/../x", "ftp://x/y", "file://host/x", "s3://a"} {
		_, err := config.ParseStoreURL(bad)
		assert.Error(t, err, bad)
	}
}

func TestS3IndexPathNamedAfterBucketAndPrefix(t *testing.T) {
	cfg := &config.Config{}
	cfg.Set(config.Store, "s3://att-bucket/pbx/calls")
	p, err := cfg.IndexPath()
	require.NoError(t, err)
	assert.Equal(t, "att-bucket%2Fpbx%2Fcalls.index.db", filepath.Base(p))
	cfg.Set(config.Store, "s3://att-bucket/pbx_calls")
	q, err := cfg.IndexPath()
	require.NoError(t, err)
	assert.NotEqual(t, p, q)
}

func TestSessionTokenBelongsToItsKeyPair(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "aws", "credentials"), "[default]\naws_session_token = stale-token\n")
	cfg, err := config.Load(nil, fakeEnv(dir, map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"}))
	require.NoError(t, err)
	assert.Empty(t, cfg.Get(config.SessionToken))
}
