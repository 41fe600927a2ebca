package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
)

func TestAttachListShowGetByName(t *testing.T) {
	c := newCLI(t)
	img := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...)
	names := []string{"résumé 📎.png", "with\nnewline.txt", "a/b\\c.txt", "bad\xffutf8.bin"}
	for _, n := range names {
		c.ok("put", "--txn", "ticket-42", "--name", n, c.file("img.png", img))
	}
	c.ok("put", "--txn", "ticket-43", "--type", "application/x-custom", c.file("other.txt", []byte("other")))

	var atts []cas.Attachment
	require.NoError(t, json.Unmarshal([]byte(c.ok("ls", "--json", "ticket-42")), &atts))
	require.Len(t, atts, len(names))
	for i, a := range atts {
		assert.Equal(t, names[i], a.Name, "--json round-trips the exact name")
		assert.Equal(t, "image/png", a.ContentType, "sniffed")
		assert.Equal(t, cas.Sum(img), a.Digest)
		assert.Equal(t, int64(len(img)), a.Size)
	}
	text := c.ok("ls", "ticket-42")
	assert.Equal(t, len(names), strings.Count(text, "\n"), "one line per attachment, whatever the names hold")
	assert.Contains(t, text, `with\nnewline.txt`)
	assert.Contains(t, text, `bad\xffutf8.bin`)

	var shown showResult
	require.NoError(t, json.Unmarshal([]byte(c.ok("show", "--json", cas.Sum(img).String())), &shown))
	assert.Equal(t, int64(len(img)), shown.Size)
	assert.Len(t, shown.Attachments, len(names))

	assert.Equal(t, string(img), c.ok("get", "--txn", "ticket-42", "--name", "résumé 📎.png"))
	assert.Equal(t, "other", c.ok("get", "--txn", "ticket-43", "--name", "other.txt"))

	// Attaching the same file to the same transaction again adds no row.
	c.ok("put", "--txn", "ticket-43", "--type", "application/x-custom", c.file("other.txt", []byte("other")))
	require.NoError(t, json.Unmarshal([]byte(c.ok("ls", "--json", "ticket-43")), &atts))
	assert.Len(t, atts, 1)
	assert.Equal(t, "application/x-custom", atts[0].ContentType)
}

func TestIndexBadInput(t *testing.T) {
	c := newCLI(t)
	f := c.file("x", []byte("x"))
	r := c.run(nil, "put", "--txn", "", f)
	assert.Equal(t, exitUsage, r.code, r.stderr)
	assert.Contains(t, r.stderr, "transaction id is empty")

	c.ok("put", "--txn", "T1", f)
	r = c.run(nil, "ls", "no-such-txn")
	assert.Equal(t, exitNotFound, r.code, r.stderr)
	assert.Contains(t, r.stderr, "no-such-txn")

	r = c.run(nil, "show", cas.Sum([]byte("unknown")).String())
	assert.Equal(t, exitNotFound, r.code, r.stderr)

	r = c.run(nil, "get", "--txn", "T1", "--name", "nope")
	assert.Equal(t, exitNotFound, r.code, r.stderr)
}

func TestIndexRefusesAnotherStore(t *testing.T) {
	c := newCLI(t)
	idx := filepath.Join(c.dir, "shared.index.db")
	c.ok("put", "--index", idx, "--txn", "T", c.file("x", []byte("x")))
	r := c.run(nil, "ls", "--index", idx, "--store", filepath.Join(c.dir, "other-store"), "T")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "file://"+filepath.ToSlash(c.storeDir()), "the message names the store the index belongs to")
}

// TestTwoProcessesAttachAtOnce runs two casctl processes (this test binary
// re-executed) that attach files to one index at the same time.
func TestTwoProcessesAttachAtOnce(t *testing.T) {
	if os.Getenv("CASCTL_TEST_CHILD") == "1" {
		return
	}
	c := newCLI(t)
	const perProcess = 40
	var files [2][]string
	for p := range 2 {
		for i := range perProcess {
			files[p] = append(files[p], c.file(fmt.Sprintf("p%d-%d", p, i), []byte(fmt.Sprintf("process %d file %d", p, i))))
		}
	}
	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	for p := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append([]string{"-test.run=^TestMainChild$", "--", "put", "--txn", fmt.Sprintf("T%d", p)}, files[p]...)
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), "CASCTL_TEST_CHILD=1")
			for k, v := range c.vars {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			outs[p], errs[p] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for p := range 2 {
		require.NoError(t, errs[p], "%s", outs[p])
		var atts []cas.Attachment
		require.NoError(t, json.Unmarshal([]byte(c.ok("ls", "--json", fmt.Sprintf("T%d", p))), &atts))
		assert.Len(t, atts, perProcess)
	}
}

// TestMainChild is casctl itself when re-executed by a test: it runs the
// arguments after "--" and exits with casctl's code.
func TestMainChild(t *testing.T) {
	if os.Getenv("CASCTL_TEST_CHILD") != "1" {
		t.Skip("runs only as a child process")
	}
	args := []string{"casctl"}
	for i, a := range os.Args {
		if a == "--" {
			args = append(args, os.Args[i+1:]...)
			break
		}
	}
	code := run(t.Context(), args, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookup: os.LookupEnv})
	os.Exit(code)
}

func TestInvalidTransactionIDStoresNothing(t *testing.T) {
	c := newCLI(t)
	data := []byte("never stored")
	r := c.run(nil, "put", "--txn", "bad\xffid", c.file("f", data))
	assert.Equal(t, exitUsage, r.code, r.stderr)
	_, err := os.Stat(filepath.Join(c.storeDir(), cas.Sum(data).String()[:3]))
	assert.ErrorIs(t, err, os.ErrNotExist, "the label is checked before the blob is stored")
}

func TestPutCheckStoreRestoresALostBlob(t *testing.T) {
	c := newCLI(t)
	data := []byte("a blob that will be lost")
	f := c.file("f", data)
	c.ok("put", "--txn", "T", f)
	b, err := disk.New(c.storeDir())
	require.NoError(t, err)
	require.NoError(t, os.Remove(b.Path(cas.Sum(data))))

	r := c.run(nil, "verify")
	assert.Equal(t, exitProblems, r.code, r.stdout+r.stderr)
	// The index knows the blob, so a plain put uploads nothing...
	assert.Contains(t, c.ok("put", "--txn", "T", f), "stored")
	_, err = os.Stat(b.Path(cas.Sum(data)))
	assert.ErrorIs(t, err, os.ErrNotExist)
	// ...and --check-store asks the store, which stores it again.
	assert.Contains(t, c.ok("put", "--check-store", "--txn", "T", f), "new")
	c.ok("verify")
}
