package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/cas/s3"
	"github.com/casstore/casstore/config"
	"github.com/casstore/casstore/index"
)

// openBackend builds the configured backend. It makes no request when the
// region is known.
func openBackend(ctx context.Context, cfg *config.Config) (cas.Backend, error) {
	u, err := cfg.StoreURL()
	if err != nil {
		return nil, usageError{err}
	}
	switch u.Scheme {
	case "file":
		return disk.New(u.Dir)
	case "s3":
		sc, err := s3Config(cfg, u)
		if err != nil {
			return nil, err
		}
		b, err := s3.New(ctx, sc)
		if err != nil {
			return nil, usageError{err} // New makes no request: a setting is wrong
		}
		return b, nil
	}
	return nil, usageError{fmt.Errorf("store %s: unsupported", u)}
}

// s3Config maps resolved settings onto the S3 backend's configuration.
func s3Config(cfg *config.Config, u config.StoreURL) (s3.Config, error) {
	sc := s3.Config{
		Endpoint:     cfg.Get(config.Endpoint),
		Region:       cfg.Get(config.Region),
		Bucket:       u.Bucket,
		Prefix:       u.Prefix,
		AccessKey:    cfg.Get(config.AccessKey),
		SecretKey:    cfg.Get(config.SecretKey),
		SessionToken: cfg.Get(config.SessionToken),
	}
	if sc.Region == "" {
		sc.Region = "us-east-1"
	}
	sc.SSE, sc.SSEKMSKeyID, sc.LockMode = cfg.Get(config.SSE), cfg.Get(config.SSEKMSKeyID), cfg.Get(config.LockMode)
	var err error
	if sc.LockRetention, err = s3.ParseRetention(cfg.Get(config.LockPeriod)); err != nil {
		return s3.Config{}, usageError{fmt.Errorf("object_lock_retention (from %s): %w", cfg.Setting(config.LockPeriod).Source, err)}
	}
	if sc.PathStyle, err = boolSetting(cfg, config.PathStyle); err != nil {
		return s3.Config{}, err
	}
	if sc.PublicLinks, err = boolSetting(cfg, config.PublicLinks); err != nil {
		return s3.Config{}, err
	}
	return sc, nil
}

// boolSetting parses a true/false setting; unset is false.
func boolSetting(cfg *config.Config, k config.Key) (bool, error) {
	v := cfg.Get(k)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, usageError{fmt.Errorf("%s %q (from %s): want true or false", k, v, cfg.Setting(k).Source)}
	}
	return b, nil
}

// openLinker returns what hands out direct links to backend's blobs: the
// backend itself where it can (S3). Otherwise the error wraps
// cas.ErrNotSupported.
func openLinker(ctx context.Context, cfg *config.Config, backend cas.Backend) (cas.Linker, error) {
	if cfg.Get(config.GatewayURL) != "" {
		return gatewayLinker(cfg)
	}
	if l, ok := backend.(cas.Linker); ok {
		return l, nil
	}
	return nil, fmt.Errorf("direct links need an S3 store, or a gateway: see casctl serve (store %s): %w", backend.Location(), cas.ErrNotSupported)
}

// openStore resolves the configuration and returns a store without an
// index.
func openStore(c *cli.Context, e *env) (*cas.Store, *config.Config, error) {
	cfg, err := loadConfig(c, e)
	if err != nil {
		return nil, nil, err
	}
	b, err := openBackend(c.Context, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cas.New(b, cas.WithTempDir(cfg.Get(config.TempDir))), cfg, nil
}

// openIndex opens the configured index, bound to backend's store: an index
// that belongs to another store is refused.
func openIndex(ctx context.Context, cfg *config.Config, backend cas.Backend) (*index.Index, error) {
	loc, err := cfg.IndexPath()
	if err != nil {
		return nil, usageError{err}
	}
	ix, err := index.Open(ctx, loc, backend.Location())
	if err != nil {
		return nil, err
	}
	return ix, nil
}

// openStoreWithIndex returns a store with its index attached.
func openStoreWithIndex(c *cli.Context, e *env) (*cas.Store, *index.Index, *config.Config, error) {
	store, cfg, err := openStore(c, e)
	if err != nil {
		return nil, nil, nil, err
	}
	store, ix, err := attachIndex(c.Context, cfg, store)
	if err != nil {
		return nil, nil, nil, err
	}
	return store, ix, cfg, nil
}

// attachIndex opens the configured index and returns store with it
// attached.
func attachIndex(ctx context.Context, cfg *config.Config, store *cas.Store) (*cas.Store, *index.Index, error) {
	ix, err := openIndex(ctx, cfg, store.Backend())
	if err != nil {
		return nil, nil, err
	}
	return cas.New(store.Backend(), cas.WithIndex(ix), cas.WithTempDir(cfg.Get(config.TempDir))), ix, nil
}
