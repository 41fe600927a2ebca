package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/config"
	"github.com/casstore/casstore/importer"
	"github.com/casstore/casstore/index"
)

// importTree writes files files of size bytes each under dir, in txns
// transactions, every third a copy of an earlier one.
func importTree(t *testing.T, dir string, files, txns, size int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var contents [][]byte
	for i := range files {
		var b []byte
		if i%3 == 2 {
			b = contents[rng.IntN(len(contents))]
		} else {
			b = make([]byte, size)
			for j := range b {
				b[j] = byte(rng.UintN(256))
			}
			copy(b, fmt.Sprintf("file %d\n", i))
		}
		contents = append(contents, b)
		p := filepath.Join(dir, fmt.Sprintf("TXN-%d", i%txns), fmt.Sprintf("attachment %03d.bin", i))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
}

// snapshot is what a store and its index hold, without ids and times.
type snapshot struct {
	Blobs       []string
	Attachments []string
	Imported    []string
}

func takeSnapshot(t *testing.T, c *harness, store, idx string) snapshot {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(map[string]string{"store": store}, c.lookup)
	require.NoError(t, err)
	b, err := openBackend(ctx, cfg)
	require.NoError(t, err)
	var s snapshot
	require.NoError(t, b.Walk(ctx, func(e cas.Entry) error {
		if !e.Valid && strings.HasPrefix(filepath.Base(e.Name), disk.TempPrefix) {
			return nil // a SIGKILL leaves the disk backend's temporary file: not a blob
		}
		require.True(t, e.Valid, e.Name)
		s.Blobs = append(s.Blobs, e.Digest.String())
		return nil
	}))
	ix, err := index.Open(ctx, idx, b.Location(), index.ReadOnly())
	require.NoError(t, err)
	defer ix.Close()
	require.NoError(t, ix.ImportedFiles(ctx, func(f index.ImportedFile) error {
		a := f.Attachment
		s.Imported = append(s.Imported, fmt.Sprintf("%s %d %d -> %s", f.Path, f.Size, f.ModTime.UnixNano(), a.Digest.Short()))
		return nil
	}))
	require.NoError(t, ix.Blobs(ctx, func(r index.BlobRecord) error {
		atts, err := ix.AttachmentsOf(ctx, r.Digest)
		for _, a := range atts {
			s.Attachments = append(s.Attachments, fmt.Sprintf("%s|%s|%s|%s|%d", a.Txn, a.Name, a.Digest.Short(), a.ContentType, a.Size))
		}
		return err
	}))
	sort.Strings(s.Blobs)
	sort.Strings(s.Attachments)
	return s
}

// lookup is the harness's environment as a config.Env.
func (c *harness) lookup(k string) (string, bool) { v, ok := c.vars[k]; return v, ok }

// TestImportKilledAndResumed kills a real casctl import process with
// SIGKILL part-way, runs the import again, and compares the store and the
// index with those of an uninterrupted import of the same tree.
func TestImportKilledAndResumed(t *testing.T) {
	if os.Getenv("CASCTL_TEST_CHILD") == "1" {
		return
	}
	for _, kind := range []string{"disk", "minio"} {
		t.Run(kind, func(t *testing.T) {
			var c *harness
			var store, other string
			if kind == "minio" {
				cc, m, bucket := s3CLI(t)
				c, store, other = cc, "s3://"+bucket, "s3://"+m.NewBucket(t)
			} else {
				c = newCLI(t)
				store, other = filepath.Join(c.dir, "blobs"), filepath.Join(c.dir, "blobs-uninterrupted")
			}
			tree := filepath.Join(c.dir, "tree")
			const files = 240
			importTree(t, tree, files, 6, 96<<10)
			idx := filepath.Join(c.dir, "index.db")

			cmd := exec.Command(os.Args[0], "-test.run=^TestMainChild$", "--", "import", "--jobs", "1",
				"--store", store, "--index", idx, tree)
			cmd.Env = append(os.Environ(), "CASCTL_TEST_CHILD=1")
			for k, v := range c.vars {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			require.NoError(t, cmd.Start())
			// Kill it once some files are recorded, well before the end.
			deadline := time.Now().Add(30 * time.Second)
			recorded := 0
			for recorded == 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				recorded = countImported(idx)
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			err := cmd.Wait()
			require.Error(t, err, "the import was killed")
			assert.Equal(t, "signal: killed", err.Error())
			recorded = countImported(idx)
			require.Positive(t, recorded, "killed before it recorded anything")
			require.Less(t, recorded, files, "killed after the end: make the tree larger")
			before := takeSnapshot(t, c, store, idx)

			var sum importer.Summary
			require.NoError(t, json.Unmarshal([]byte(c.ok("import", "--json", "--store", store, "--index", idx, tree)), &sum))
			assert.EqualValues(t, files, sum.Files)
			assert.Zero(t, sum.Failed)
			assert.EqualValues(t, recorded, sum.AlreadyImported, "recorded files are not read again")
			resumed := takeSnapshot(t, c, store, idx)
			// The killed import (--jobs 1) may have had one upload in
			// flight whose bytes had all reached MinIO: the server can
			// finish storing it after the snapshot, and the rerun then
			// finds it stored rather than uploading it.
			added := int64(len(resumed.Blobs) - len(before.Blobs))
			assert.Contains(t, []int64{sum.NewBlobs, sum.NewBlobs + 1}, added,
				"blobs stored before the kill are not uploaded again: %d new, %d added", sum.NewBlobs, added)

			otherIdx := filepath.Join(c.dir, "uninterrupted.db")
			c.ok("import", "--store", other, "--index", otherIdx, tree)
			want := takeSnapshot(t, c, other, otherIdx)
			assert.Equal(t, want, resumed, "the same store and index as an uninterrupted import")
			assert.Len(t, resumed.Attachments, files)
			assert.Len(t, resumed.Imported, files)

			// And a third run does nothing.
			require.NoError(t, json.Unmarshal([]byte(c.ok("import", "--json", "--store", store, "--index", idx, tree)), &sum))
			assert.EqualValues(t, files, sum.AlreadyImported)
			assert.Zero(t, sum.BytesRead)
		})
	}
}

func countImported(idx string) int {
	ix, err := index.Open(context.Background(), idx, "", index.ReadOnly())
	if err != nil {
		return 0
	}
	defer ix.Close()
	n := 0
	ix.ImportedFiles(context.Background(), func(index.ImportedFile) error { n++; return nil })
	return n
}

func TestImportCommand(t *testing.T) {
	c := newCLI(t)
	tree := filepath.Join(c.dir, "tree")
	for p, content := range map[string]string{"T1/a.txt": "same", "T1/b.txt": "same", "T2/sub/c.pdf": "%PDF-1.4", "stray": "x"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(tree, p), []byte(content), 0o644))
	}
	require.NoError(t, os.Symlink("nowhere", filepath.Join(tree, "T2", "dangling")))

	r := c.run(nil, "import", "--dry-run", tree)
	assert.Equal(t, exitProblems, r.code, r.stderr)
	assert.Contains(t, r.stdout, "would import\tT2\tc.pdf\t"+filepath.Join(tree, "T2", "sub", "c.pdf"))
	r = c.run(nil, "ls", "T1")
	assert.Equal(t, exitNotFound, r.code, "a dry run records nothing")

	r = c.run(nil, "import", tree)
	assert.Equal(t, exitProblems, r.code, "done with failures: %s", r.stderr)
	assert.Contains(t, r.stderr, filepath.Join(tree, "T2", "dangling")+": stat: no such file or directory")
	assert.Contains(t, r.stderr, filepath.Join(tree, "stray")+": the file is above the transaction depth")
	assert.Contains(t, r.stderr, "2 of 5 files failed")
	assert.Contains(t, r.stdout, "new blobs 2, duplicates skipped 1, already imported 0, failed 2")
	assert.Len(t, strings.Split(strings.TrimSpace(c.ok("ls", "T1")), "\n"), 2)

	require.NoError(t, os.Remove(filepath.Join(tree, "T2", "dangling")))
	require.NoError(t, os.Remove(filepath.Join(tree, "stray")))
	var sum importer.Summary
	require.NoError(t, json.Unmarshal([]byte(c.ok("import", "--json", tree)), &sum))
	assert.Equal(t, importer.Summary{Files: 3, Bytes: 16, AlreadyImported: 3}, importer.Summary{Files: sum.Files, Bytes: sum.Bytes, AlreadyImported: sum.AlreadyImported})

	// A manifest from stdin, paths relative to the working directory.
	man := `{"txn":"M-1","path":"` + filepath.Join(tree, "T1", "a.txt") + `","name":"renamed.txt","content_type":"text/x-custom"}` + "\n"
	r = c.run(strings.NewReader(man), "import", "--manifest", "-", "--format", "jsonl")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, c.ok("ls", "M-1"), "renamed.txt\ttext/x-custom")

	r = c.run(strings.NewReader("M-2\n"), "import", "--manifest", "-")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "line 1")
	r = c.run(nil, "import", filepath.Join(c.dir, "no-such-dir"))
	assert.Equal(t, exitUsage, r.code)
}
