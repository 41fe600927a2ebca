package s3

import (
	"context"
	"testing"
	"time"

	"github.com/casstore/casstore/cas"
)

// BenchmarkPresign signs links with the region configured, through a
// Transport that fails on any request: pure CPU. It reports links/s.
func BenchmarkPresign(b *testing.B) {
	be, nn := offlineBackend(b, Config{Region: "eu-west-1", Bucket: "cas-links", Prefix: "attachments"})
	ctx := context.Background()
	opts := cas.LinkOptions{Expires: time.Hour, Name: "Überweisung März.pdf", ContentType: "application/pdf"}
	d := testDigest
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.Link(ctx, d, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "links/s")
	if nn.n.Load() != 0 {
		b.Fatal("requests made")
	}
}
