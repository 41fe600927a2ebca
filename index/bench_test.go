package index_test

import (
	"context"
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index/indextest"
)

// digestN is a distinct digest per n, cheaper than hashing content.
func digestN(n int) cas.Digest {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	return cas.Sum(b[:])
}

func attN(txn string, n int) cas.Attachment {
	return cas.Attachment{Txn: txn, Name: "file-" + strconv.Itoa(n) + ".pdf", Digest: digestN(n),
		Size: int64(1000 + n), ContentType: "application/pdf"}
}

// BenchmarkRecordBatch records new attachments of new blobs in batches of
// 1000, as an import does. Target: 20,000 rows/s.
func BenchmarkRecordBatch(b *testing.B) {
	ctx := context.Background()
	ix := indextest.MustOpen(b, newLocation(b))
	const batch = 1000
	atts := make([]cas.Attachment, batch)
	n := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range atts {
			atts[j] = attN("txn-"+strconv.Itoa(n/10), n)
			n++
		}
		if _, err := ix.Record(ctx, atts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRecordBatchRetry records batches that are already recorded.
func BenchmarkRecordBatchRetry(b *testing.B) {
	ctx := context.Background()
	ix := indextest.MustOpen(b, newLocation(b))
	const batch = 1000
	atts := make([]cas.Attachment, batch)
	for j := range atts {
		atts[j] = attN("txn-"+strconv.Itoa(j/10), j)
	}
	indextest.MustRecord(b, ix, atts...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ix.Record(ctx, atts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRecordOne records one attachment per call, as Store.Attach does.
func BenchmarkRecordOne(b *testing.B) {
	ctx := context.Background()
	ix := indextest.MustOpen(b, newLocation(b))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ix.Record(ctx, []cas.Attachment{attN("txn", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkLookupBlob looks up blobs, half of them absent, in an index of
// 100,000. Target: 100,000 lookups/s.
func BenchmarkLookupBlob(b *testing.B) {
	ctx := context.Background()
	ix := indextest.MustOpen(b, newLocation(b))
	const blobs = 100_000
	atts := make([]cas.Attachment, 0, 5000)
	for n := 0; n < blobs; n++ {
		atts = append(atts, attN("txn-"+strconv.Itoa(n/10), n))
		if len(atts) == cap(atts) {
			indextest.MustRecord(b, ix, atts...)
			atts = atts[:0]
		}
	}
	probe := make([]cas.Digest, 4096)
	present := make([]bool, len(probe))
	for i := range probe {
		n := i * 97 % (2 * blobs)
		probe[i], present[i] = digestN(n), n < blobs
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(probe)
		if _, ok, err := ix.LookupBlob(ctx, probe[j]); err != nil || ok != present[j] {
			b.Fatalf("lookup %d: %v, %v", j, ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}
