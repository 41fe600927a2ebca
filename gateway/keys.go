package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultKeyGrace is how long a rotated-out key still verifies links: the
// longest a link can live, so no link signed before a rotation dies early.
const DefaultKeyGrace = 7 * 24 * time.Hour

// KeyFileName is the key file's name in casctl's configuration directory.
const KeyFileName = "gateway-keys.json"

// key is one HMAC-SHA256 link-signing key.
type key struct {
	ID      string    `json:"id"`
	Secret  []byte    `json:"secret"` // 32 random bytes (base64 in the file)
	Created time.Time `json:"created"`
	// Until is zero for the current key; a rotated-out key verifies links
	// until then.
	Until time.Time `json:"valid_until,omitzero"`
}

type keyFile struct {
	Keys []key `json:"keys"` // current first
}

// Keyring holds the link-signing keys kept in a file (mode 0600): the
// current key, which signs, and rotated-out keys that still verify during
// their grace period. A Keyring notices when another process (casctl serve
// --rotate-key) rewrites the file. Safe for concurrent use.
type Keyring struct {
	path string

	mu      sync.RWMutex
	keys    []key
	modTime time.Time
	size    int64

	lastCheck atomic.Int64 // unix nanoseconds of the last stat of the file
}

// reloadEvery bounds how often a Keyring stats its file.
const reloadEvery = 2 * time.Second

// LoadKeys opens the key file at path, creating it with a fresh key (mode
// 0600, its directory 0700) when it does not exist.
func LoadKeys(path string) (*Keyring, error) {
	k := &Keyring{path: path}
	if err := k.load(); err == nil {
		return k, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	nk, err := newKey(time.Now())
	if err != nil {
		return nil, err
	}
	if err := writeKeyFile(path, keyFile{Keys: []key{nk}}, false); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	// Made here, or by a process that won the race: read what is there.
	if err := k.load(); err != nil {
		return nil, err
	}
	return k, nil
}

// Path returns the key file.
func (k *Keyring) Path() string { return k.path }

// CurrentID returns the id of the key that signs (never the secret).
func (k *Keyring) CurrentID() string { return k.signing().ID }

// Rotate makes a new current key; the previous ones keep verifying for
// grace (0: not at all), and keys whose grace has ended are dropped. It
// returns the new key's id.
func (k *Keyring) Rotate(grace time.Duration) (string, error) {
	if err := k.load(); err != nil {
		return "", err
	}
	now := time.Now()
	nk, err := newKey(now)
	if err != nil {
		return "", err
	}
	k.mu.RLock()
	keys := []key{nk}
	for i, old := range k.keys {
		if i == 0 {
			old.Until = now.Add(grace)
		}
		if old.Until.After(now) {
			keys = append(keys, old)
		}
	}
	k.mu.RUnlock()
	if err := writeKeyFile(k.path, keyFile{Keys: keys}, true); err != nil {
		return "", err
	}
	return nk.ID, k.load()
}

// signing returns the current key.
func (k *Keyring) signing() key {
	k.refresh()
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[0]
}

// verifying returns the key with the given id if it may verify at now.
func (k *Keyring) verifying(id string, now time.Time) ([]byte, bool) {
	k.refresh()
	k.mu.RLock()
	defer k.mu.RUnlock()
	for i, ky := range k.keys {
		if ky.ID == id && (i == 0 || now.Before(ky.Until)) {
			return ky.Secret, true
		}
	}
	return nil, false
}

// refresh reloads the file when it changed, looking at most every
// reloadEvery. A file that became unreadable keeps the keys in memory.
func (k *Keyring) refresh() {
	now := time.Now().UnixNano()
	last := k.lastCheck.Load()
	if now-last < int64(reloadEvery) || !k.lastCheck.CompareAndSwap(last, now) {
		return
	}
	fi, err := os.Stat(k.path)
	if err != nil {
		return
	}
	k.mu.RLock()
	same := fi.ModTime().Equal(k.modTime) && fi.Size() == k.size
	k.mu.RUnlock()
	if !same {
		_ = k.load()
	}
}

func (k *Keyring) load() error {
	f, err := os.Open(k.path)
	if err != nil {
		return fmt.Errorf("gateway keys: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("gateway keys: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("gateway keys: %s is readable by others (mode %v): chmod 600 it", k.path, fi.Mode().Perm())
	}
	var kf keyFile
	if err := json.NewDecoder(f).Decode(&kf); err != nil {
		return fmt.Errorf("gateway keys: %s: %w", k.path, err)
	}
	if len(kf.Keys) == 0 {
		return fmt.Errorf("gateway keys: %s holds no key: restore it, or remove it to start anew (links signed before stop working)", k.path)
	}
	for _, ky := range kf.Keys {
		if len(ky.Secret) < 32 || ky.ID == "" {
			return fmt.Errorf("gateway keys: %s: key %q is malformed: restore the file, or remove it to start anew (links signed before stop working)", k.path, ky.ID)
		}
	}
	k.mu.Lock()
	k.keys, k.modTime, k.size = kf.Keys, fi.ModTime(), fi.Size()
	k.mu.Unlock()
	k.lastCheck.Store(time.Now().UnixNano())
	return nil
}

func newKey(now time.Time) (key, error) {
	secret := make([]byte, 32)
	id := make([]byte, 4)
	if _, err := rand.Read(secret); err != nil {
		return key{}, err
	}
	if _, err := rand.Read(id); err != nil {
		return key{}, err
	}
	return key{ID: hex.EncodeToString(id), Secret: secret, Created: now.UTC()}, nil
}

// writeKeyFile writes kf to a 0600 temporary file beside path and moves it
// into place: with replace false it never replaces an existing file
// (fs.ErrExist then), so two processes creating the first key agree on one.
func writeKeyFile(path string, kf keyFile, replace bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("gateway keys: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".gateway-keys-*")
	if err != nil {
		return fmt.Errorf("gateway keys: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("gateway keys: %w", err)
	}
	enc := json.NewEncoder(tmp)
	enc.SetIndent("", "  ")
	if err := enc.Encode(kf); err != nil {
		tmp.Close()
		return fmt.Errorf("gateway keys: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("gateway keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("gateway keys: %w", err)
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("gateway keys: %w", err)
	}
	return nil
}
