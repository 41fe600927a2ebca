package importer_test

import (
	"context"
	"fmt"
	"os"
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
	"github.com/casstore/casstore/cas/s3"
	"github.com/casstore/casstore/importer"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/internal/testenv"
)

// backends runs fn against a disk store and a MinIO bucket.
func backends(t *testing.T, fn func(t *testing.T, b cas.Backend)) {
	t.Run("disk", func(t *testing.T) {
		b, err := disk.New(filepath.Join(t.TempDir(), "blobs"))
		require.NoError(t, err)
		fn(t, b)
	})
	t.Run("minio", func(t *testing.T) {
		m := testenv.MinIO(t)
		b, err := s3.New(context.Background(), s3.Config{Endpoint: m.Endpoint, Region: m.Region, Bucket: m.NewBucket(t),
			PathStyle: true, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
		require.NoError(t, err)
		fn(t, b)
	})
}

// setup opens an index for b and a store with it attached.
func setup(t *testing.T, b cas.Backend) (*cas.Store, *index.Index) {
	ix, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"), b.Location())
	require.NoError(t, err)
	t.Cleanup(func() { ix.Close() })
	return cas.New(b, cas.WithIndex(ix), cas.WithTempDir(t.TempDir())), ix
}

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// writeFiles writes files, by path relative to dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		write(t, filepath.Join(dir, p), c)
	}
}

// blobsIn lists the digests stored in b.
func blobsIn(t *testing.T, b cas.Backend) []string {
	var out []string
	require.NoError(t, b.Walk(context.Background(), func(e cas.Entry) error {
		if e.Valid {
			out = append(out, e.Digest.String())
		}
		return nil
	}))
	sort.Strings(out)
	return out
}

// attachmentsOf returns "txn/name=content" for each attachment of txns.
func attachmentsOf(t *testing.T, ix *index.Index, txns ...string) []string {
	var out []string
	for _, txn := range txns {
		atts, err := ix.Attachments(context.Background(), txn)
		require.NoError(t, err, txn)
		for _, a := range atts {
			out = append(out, fmt.Sprintf("%s/%s=%s", a.Txn, a.Name, a.Digest.Short()))
		}
	}
	sort.Strings(out)
	return out
}

func run(t *testing.T, store *cas.Store, ix *index.Index, src importer.Source, opts importer.Options) importer.Summary {
	t.Helper()
	sum, err := importer.Run(context.Background(), store, ix, src, opts)
	require.NoError(t, err)
	return sum
}

func TestTreeWithDuplicates(t *testing.T) {
	backends(t, func(t *testing.T, b cas.Backend) {
		dir := t.TempDir()
		contents := map[string]string{
			"RT-1/report.pdf":       "%PDF-1.4 report",
			"RT-1/copy-of-report":   "%PDF-1.4 report",
			"RT-2/deep/er/same.pdf": "%PDF-1.4 report",
			"RT-2/notes.txt":        "notes",
			"RT-3/empty":            "",
			"RT-3/notes again.txt":  "notes",
		}
		writeFiles(t, dir, contents)
		store, ix := setup(t, b)
		src, err := importer.Tree(dir, 1)
		require.NoError(t, err)
		sum := run(t, store, ix, src, importer.Options{Jobs: 3})
		assert.EqualValues(t, 6, sum.Files)
		assert.EqualValues(t, 3, sum.NewBlobs, "three distinct contents")
		assert.EqualValues(t, 3, sum.Duplicates)
		assert.Zero(t, sum.Failed, sum.Problems)
		assert.EqualValues(t, 15*3+5*2, sum.BytesRead)
		assert.Len(t, blobsIn(t, b), 3, "each content stored once")
		got := attachmentsOf(t, ix, "RT-1", "RT-2", "RT-3")
		assert.Len(t, got, 6, "every file indexed: %v", got)
		assert.Contains(t, got, "RT-2/same.pdf="+cas.Sum([]byte("%PDF-1.4 report")).Short(), "the name is the base name")
		a, err := ix.Find(context.Background(), "RT-1", "report.pdf")
		require.NoError(t, err)
		assert.Equal(t, "application/pdf", a.ContentType, "sniffed")

		// A rerun reads nothing and records nothing.
		again := run(t, store, ix, src, importer.Options{})
		assert.EqualValues(t, 6, again.AlreadyImported)
		assert.Zero(t, again.BytesRead)
		assert.Zero(t, again.NewBlobs+again.Duplicates)
		assert.Equal(t, got, attachmentsOf(t, ix, "RT-1", "RT-2", "RT-3"))

		// Another depth: the same files, known unchanged, become other
		// attachments without being read.
		deep, err := importer.Tree(dir, 2)
		require.NoError(t, err)
		d2 := run(t, store, ix, deep, importer.Options{})
		assert.Zero(t, d2.BytesRead)
		assert.EqualValues(t, 1, d2.Duplicates) // RT-2/deep/er/same.pdf -> txn RT-2/deep
		assert.EqualValues(t, 5, d2.Failed, "the others sit above depth 2: %v", d2.Problems)
		_, err = ix.Find(context.Background(), "RT-2/deep", "same.pdf")
		require.NoError(t, err)

		// A changed file is read again and gets a new row; the newest wins.
		p := filepath.Join(dir, "RT-2", "notes.txt")
		write(t, p, "notes, edited")
		require.NoError(t, os.Chtimes(p, time.Now(), time.Now().Add(time.Hour)))
		// (same.pdf was last recorded for depth 2: at depth 1 it is recorded
		// again, from what is known, without reading it.)
		ch := run(t, store, ix, src, importer.Options{})
		assert.EqualValues(t, 4, ch.AlreadyImported)
		assert.EqualValues(t, 1, ch.Duplicates)
		assert.EqualValues(t, 1, ch.NewBlobs)
		assert.EqualValues(t, len("notes, edited"), ch.BytesRead)
		rec, ok, err := ix.ImportedFile(context.Background(), p)
		require.True(t, ok)
		require.NoError(t, err)
		assert.Equal(t, cas.Sum([]byte("notes, edited")), rec.Attachment.Digest)
	})
}

func TestManifestOddNames(t *testing.T) {
	backends(t, func(t *testing.T, b cas.Backend) {
		dir := t.TempDir()
		files := map[string]string{
			"files/résumé 📎.pdf":     "résumé",
			"files/with,comma\".txt": "comma",
			"files/line\nbreak":      "newline",
			"files/日本語.txt":          "日本語",
			"files/ space ":          "spaces",
		}
		writeFiles(t, dir, files)
		csv := "path,txn,name,content_type\n" +
			"files/résumé 📎.pdf,Ticket #1,résumé 📎.pdf,application/pdf\n" +
			"\"files/with,comma\"\".txt\",Ticket #1,,\n" +
			"\"files/line\nbreak\",Ticket #1,\"shown\nname\",text/plain\n"
		jsonl := `{"txn":"チケット-2","path":"files/日本語.txt"}` + "\n\n" +
			`{"txn":"チケット-2","path":"` + filepath.Join(dir, "files", " space ") + `","name":"../../etc/passwd"}` + "\n"
		store, ix := setup(t, b)
		items, err := importer.ParseManifest(strings.NewReader(csv), importer.CSV, dir)
		require.NoError(t, err)
		more, err := importer.ParseManifest(strings.NewReader(jsonl), importer.FormatOf("m.jsonl"), dir)
		require.NoError(t, err)
		sum := run(t, store, ix, importer.Items(append(items, more...)), importer.Options{Jobs: 2})
		require.Zero(t, sum.Failed, sum.Problems)
		assert.EqualValues(t, 5, sum.NewBlobs)

		ctx := context.Background()
		a, err := ix.Find(ctx, "Ticket #1", "résumé 📎.pdf")
		require.NoError(t, err)
		assert.Equal(t, "application/pdf", a.ContentType)
		a, err = ix.Find(ctx, "Ticket #1", "with,comma\".txt")
		require.NoError(t, err, "a missing name is the file's base name")
		assert.Equal(t, "text/plain; charset=utf-8", a.ContentType, "a missing type is sniffed")
		_, err = ix.Find(ctx, "Ticket #1", "shown\nname")
		require.NoError(t, err)
		a, err = ix.Find(ctx, "チケット-2", "../../etc/passwd")
		require.NoError(t, err, "a name is only a name")
		assert.Equal(t, cas.Sum([]byte("spaces")), a.Digest)
		_, err = ix.Find(ctx, "チケット-2", "日本語.txt")
		require.NoError(t, err)
	})
}

func TestManifestErrors(t *testing.T) {
	for name, c := range map[string]struct {
		format importer.Format
		text   string
		line   string
	}{
		"csv missing path":   {importer.CSV, "T1,a\nT2\n", "line 2"},
		"csv too many":       {importer.CSV, "T1,a,b,c,d\n", "line 1"},
		"csv empty txn":      {importer.CSV, "txn,path\n,a\n", "line 2"},
		"jsonl unknown key":  {importer.JSONL, `{"txn":"T","path":"a","nmae":"x"}`, "line 1"},
		"jsonl not json":     {importer.JSONL, "{\"txn\":\"T\",\"path\":\"a\"}\nT,a\n", "line 2"},
		"jsonl missing path": {importer.JSONL, `{"txn":"T"}`, "line 1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := importer.ParseManifest(strings.NewReader(c.text), c.format, ".")
			require.ErrorIs(t, err, importer.ErrManifest)
			assert.Contains(t, err.Error(), c.line)
		})
	}
}

// TestUnreadableFiles: files that are dangling links, FIFOs, gone before
// they are read, or unreadable directories are reported with their path
// and the rest is imported. (The tests run as root, which reads any file
// whatever its mode, so those stand in for a file without permission.)
func TestUnreadableFiles(t *testing.T) {
	backends(t, func(t *testing.T, b cas.Backend) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "T1", "good.txt"), "good")
		write(t, filepath.Join(dir, "T2", "also good.txt"), "also good")
		require.NoError(t, os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "T1", "dangling")))
		require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "T2", "fifo"), 0o644))
		vanished := filepath.Join(dir, "T2", "vanished.txt")
		write(t, vanished, "here when listed")

		store, ix := setup(t, b)
		tree, err := importer.Tree(dir, 1)
		require.NoError(t, err)
		// The file vanishes between the listing and the reading.
		src := func(ctx context.Context, yield func(importer.Item) error) error {
			return tree(ctx, func(it importer.Item) error {
				if it.Path == vanished {
					require.NoError(t, os.Remove(vanished))
				}
				return yield(it)
			})
		}
		var reported []string
		sum := run(t, store, ix, src, importer.Options{Jobs: 1, OnFile: func(o importer.Outcome) {
			if o.Action == importer.Failed {
				reported = append(reported, o.Item.Path+": "+o.Err.Error())
			}
		}})
		assert.EqualValues(t, 2, sum.NewBlobs)
		assert.EqualValues(t, 3, sum.Failed)
		require.Len(t, sum.Problems, 3)
		sort.Strings(reported)
		assert.Contains(t, reported[0], filepath.Join(dir, "T1", "dangling")+": stat: no such file")
		assert.Contains(t, reported[1], filepath.Join(dir, "T2", "fifo")+": not a regular file")
		assert.Contains(t, reported[2], vanished+": stat: no such file")
		assert.Equal(t, []string{"T1/good.txt=" + cas.Sum([]byte("good")).Short()}, attachmentsOf(t, ix, "T1"))
		assert.Len(t, attachmentsOf(t, ix, "T2"), 1)
	})
}

func TestDryRunWritesNothing(t *testing.T) {
	b, err := disk.New(filepath.Join(t.TempDir(), "blobs"))
	require.NoError(t, err)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "T", "a"), "a")
	write(t, filepath.Join(dir, "T", "b"), "b")
	store, ix := setup(t, b)
	src, err := importer.Tree(dir, 1)
	require.NoError(t, err)
	sum := run(t, store, ix, src, importer.Options{DryRun: true})
	assert.EqualValues(t, 2, sum.WouldImport)
	assert.Zero(t, sum.BytesRead)
	_, err = os.Stat(b.Root())
	assert.ErrorIs(t, err, os.ErrNotExist, "no blob stored")
	_, err = ix.Attachments(context.Background(), "T")
	assert.ErrorIs(t, err, cas.ErrNotFound, "nothing recorded")
}

func TestCancelledRunRecordsWhatIsStored(t *testing.T) {
	b, err := disk.New(filepath.Join(t.TempDir(), "blobs"))
	require.NoError(t, err)
	dir := t.TempDir()
	for i := range 50 {
		write(t, filepath.Join(dir, "T", fmt.Sprint(i)), strings.Repeat(fmt.Sprint(i), 1000))
	}
	store, ix := setup(t, b)
	src, err := importer.Tree(dir, 1)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err = importer.Run(ctx, store, ix, src, importer.Options{Jobs: 1, OnFile: func(importer.Outcome) {
		if n++; n == 10 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	sum := run(t, store, ix, src, importer.Options{})
	assert.Zero(t, sum.Failed)
	assert.EqualValues(t, 50, sum.Files)
	assert.GreaterOrEqual(t, sum.AlreadyImported, int64(9), "what the cancelled run stored was recorded")
	assert.Len(t, attachmentsOf(t, ix, "T"), 50)
}
