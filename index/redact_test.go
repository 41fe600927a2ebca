package index

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRedactHidesEveryPasswordForm(t *testing.T) {
	for _, loc := range []string{
		"postgres://app:hunter2secret@db.example/casstore",
		"postgres://app@db.example/casstore?password=hunter2secret",
		"postgresql://db.example/casstore?sslmode=require&sslpassword=hunter2secret",
		"postgres://app@db.example/casstore?PASSWORD=hunter2secret",
		"postgres://app:hunter2secret@db[/casstore", // url.Parse refuses it, pgx does not
		"sqlite://app:hunter2secret@[x/index.db",
	} {
		if got := redact(loc); strings.Contains(got, "hunter2secret") {
			t.Errorf("redact(%q) = %q", loc, got)
		}
	}
	if got := redact("/var/lib/casstore/index.db"); got != "/var/lib/casstore/index.db" {
		t.Errorf("a path is left as it is, got %q", got)
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, loc := range []string{
		"postgres://app:hunter2secret@db[/casstore",
		"postgres://app:hunter2secret@db:99999/casstore",
		"sqlite://app:hunter2secret@host/index.db",
		"sqlite://app:hunter2secret@[x/index.db",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ix, err := Open(ctx, loc, "")
		cancel()
		if err == nil {
			ix.Close()
			t.Errorf("Open(%q) opened", loc)
		} else if strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("Open(%q) = %v", loc, err)
		}
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
