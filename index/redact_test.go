package index

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedactHidesEveryPasswordForm(t *testing.T) {
	for _, loc := range []string{
		"postgres://app:hunter2secret@db.example/casstore",
		"postgres://app@db.example/casstore?password=hunter2secret",
		"postgresql://db.example/casstore?sslmode=require&sslpassword=hunter2secret",
		"postgres://app@db.example/casstore?PASSWORD=hunter2secret",
	} {
		if got := redact(loc); strings.Contains(got, "hunter2secret") {
			t.Errorf("redact(%q) = %q", loc, got)
		}
	}
	if got := redact("/var/lib/casstore/index.db"); got != "/var/lib/casstore/index.db" {
		t.Errorf("a path is left as it is, got %q", got)
	}
}

func TestKeywordStringIsNotAFileName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	loc := "host=db.example password=hunter2secret dbname=casstore"
	_, err := Open(context.Background(), loc, "")
	if err == nil || strings.Contains(err.Error(), "hunter2secret") {
		t.Fatalf("Open(%q) = %v", loc, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("nothing may be created, found %s", filepath.Join(dir, e.Name()))
	}
}
