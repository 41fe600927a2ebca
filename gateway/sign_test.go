package gateway

import (
	"path/filepath"
	"strings"
	"testing"
)

// A gateway URL with credentials is refused (every link would carry
// them), and no error repeats the password.
func TestNewSignerRefusesCredentials(t *testing.T) {
	keys, err := LoadKeys(filepath.Join(t.TempDir(), KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{"https://user:hunter2@gw.example", "ftp://user:hunter2@gw.example", "user:hunter2@gw.example"} {
		_, err := NewSigner(base, keys, false)
		if err == nil {
			t.Errorf("%s accepted", base)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error shows the password: %v", base, err)
		}
	}
	if _, err := NewSigner("https://gw.example/files/", keys, false); err != nil {
		t.Errorf("plain URL refused: %v", err)
	}
}
