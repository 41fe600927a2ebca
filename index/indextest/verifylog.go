package indextest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"
)

// runVerifyLog runs the cases of the verification log and EachBlob.
func runVerifyLog(t *testing.T, h Harness) {
	t.Run("EachBlob", func(t *testing.T) { testEachBlob(t, h) })
	t.Run("VerifyLog", func(t *testing.T) { testVerifyLog(t, h) })
	t.Run("VerifyLogAppendOnly", func(t *testing.T) { testVerifyLogAppendOnly(t, h) })
}

func testEachBlob(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	if err := ix.EachBlob(ctx, func(cas.Digest, int64) error { t.Fatal("blob in an empty index"); return nil }); err != nil {
		t.Fatal(err)
	}
	// More than one page, some blobs shared by several attachments.
	const n = 2345
	atts := make([]cas.Attachment, 0, n+10)
	sizes := map[cas.Digest]int64{}
	for i := range n {
		a := Att("T"+strconv.Itoa(i%50), "f"+strconv.Itoa(i), "content "+strconv.Itoa(i))
		atts = append(atts, a)
		sizes[a.Digest] = a.Size
	}
	atts = append(atts, Att("other", "again", "content 7"))
	MustRecord(t, ix, atts...)

	var prev string
	seen := 0
	err := ix.EachBlob(ctx, func(d cas.Digest, size int64) error {
		if d.String() <= prev {
			t.Fatalf("%s after %s: not in digest order", d, prev)
		}
		prev = d.String()
		if want, ok := sizes[d]; !ok || want != size {
			t.Fatalf("blob %s size %d, want %d (known %v)", d.Short(), size, want, ok)
		}
		seen++
		return nil
	})
	if err != nil || seen != n {
		t.Fatalf("saw %d blobs, %v; want %d", seen, err, n)
	}
	stop := errors.New("stop")
	seen = 0
	err = ix.EachBlob(ctx, func(cas.Digest, int64) error {
		seen++
		if seen == 3 {
			return stop
		}
		return nil
	})
	if err != stop || seen != 3 {
		t.Fatalf("stopped after %d with %v", seen, err)
	}
	// fn may write to the index.
	err = ix.EachBlob(ctx, func(d cas.Digest, _ int64) error {
		return ix.RecordVerifications(ctx, []cas.Verification{{Digest: d, Time: time.Now(), Method: cas.MethodSize, Outcome: cas.OutcomeOK}})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testVerifyLog(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	a, b := cas.Sum([]byte("alpha")), cas.Sum([]byte("beta"))
	if last, err := ix.LastVerifiedOK(ctx, a, false); err != nil || !last.IsZero() {
		t.Fatalf("never verified: %v, %v", last, err)
	}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	log := []cas.Verification{
		{Digest: a, Time: t0, Method: cas.MethodContent, Outcome: cas.OutcomeOK},
		{Digest: a, Time: t0.Add(time.Hour), Method: cas.MethodSize, Outcome: cas.OutcomeOK},
		{Digest: a, Time: t0.Add(2 * time.Hour), Method: cas.MethodContent, Outcome: cas.OutcomeCorrupt, Detail: "content hashes to 0123"},
		{Digest: b, Time: t0, Method: cas.MethodChecksum, Outcome: cas.OutcomeMissing},
	}
	if err := ix.RecordVerifications(ctx, log); err != nil {
		t.Fatal(err)
	}
	// A later problem voids earlier OKs; deep asks for content checks.
	for _, c := range []struct {
		d    cas.Digest
		deep bool
		want time.Time
	}{{a, false, time.Time{}}, {a, true, time.Time{}}, {b, false, time.Time{}}} {
		got, err := ix.LastVerifiedOK(ctx, c.d, c.deep)
		if err != nil || !got.Equal(c.want) {
			t.Fatalf("last OK of %s (deep %v) = %v, %v; want %v", c.d.Short(), c.deep, got, err, c.want)
		}
	}
	// Fixed and checked again: the newest OK counts.
	if err := ix.RecordVerifications(ctx, []cas.Verification{{Digest: a, Time: t0.Add(3 * time.Hour), Method: cas.MethodSize, Outcome: cas.OutcomeOK}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d    cas.Digest
		deep bool
		want time.Time
	}{{a, false, t0.Add(3 * time.Hour)}, {a, true, time.Time{}}} {
		got, err := ix.LastVerifiedOK(ctx, c.d, c.deep)
		if err != nil || !got.Equal(c.want) {
			t.Fatalf("last OK of %s (deep %v) = %v, %v; want %v", c.d.Short(), c.deep, got, err, c.want)
		}
	}
	hist, err := ix.Verifications(ctx, a)
	if err != nil || len(hist) != 4 {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	for i, v := range hist[:3] {
		if !v.Time.Equal(log[i].Time) || v.Digest != log[i].Digest || v.Method != log[i].Method ||
			v.Outcome != log[i].Outcome || v.Detail != log[i].Detail {
			t.Fatalf("entry %d = %+v, want %+v", i, v, log[i])
		}
	}
	// Nothing of a refused batch is recorded.
	for _, bad := range []cas.Verification{
		{Time: t0, Method: cas.MethodContent, Outcome: cas.OutcomeOK},
		{Digest: b, Time: t0, Method: "glance", Outcome: cas.OutcomeOK},
		{Digest: b, Time: t0, Method: cas.MethodContent, Outcome: "fine"},
		{Digest: b, Method: cas.MethodContent, Outcome: cas.OutcomeOK},
	} {
		good := cas.Verification{Digest: b, Time: t0, Method: cas.MethodContent, Outcome: cas.OutcomeOK}
		if err := ix.RecordVerifications(ctx, []cas.Verification{good, bad}); err == nil {
			t.Fatalf("recorded %+v", bad)
		}
	}
	if got, _ := ix.LastVerifiedOK(ctx, b, false); !got.IsZero() {
		t.Fatalf("a refused batch left %v", got)
	}
	// Any detail text is kept storable.
	odd := cas.Verification{Digest: b, Time: t0, Method: cas.MethodSize, Outcome: cas.OutcomeOK, Detail: "bad \xff utf-8 and \x00 nul " + strings.Repeat("x", 5000)}
	if err := ix.RecordVerifications(ctx, []cas.Verification{odd}); err != nil {
		t.Fatal(err)
	}
	if hist, err := ix.Verifications(ctx, b); err != nil || len(hist) != 2 || len(hist[1].Detail) > 1000 {
		t.Fatalf("history of b = %d entries, %v", len(hist), err)
	}
	// A large batch goes in whole.
	many := make([]cas.Verification, 1000)
	for i := range many {
		many[i] = cas.Verification{Digest: cas.Sum([]byte(strconv.Itoa(i))), Time: t0, Method: cas.MethodContent, Outcome: cas.OutcomeOK}
	}
	if err := ix.RecordVerifications(ctx, many); err != nil {
		t.Fatal(err)
	}
	if got, _ := ix.LastVerifiedOK(ctx, many[999].Digest, true); !got.Equal(t0) {
		t.Fatalf("last of a large batch: %v", got)
	}
	// A check of an earlier store does not vouch for the current one.
	if err := ix.SwitchStore(ctx, Store, "file:///srv/elsewhere", 0); err != nil {
		t.Fatal(err)
	}
	if got, err := ix.LastVerifiedOK(ctx, a, false); err != nil || !got.IsZero() {
		t.Fatalf("after a store switch: last OK %v, %v", got, err)
	}
	if hist, _ := ix.Verifications(ctx, a); len(hist) != 4 {
		t.Fatalf("history lost in a switch: %d entries", len(hist))
	}
	// A read-only index refuses to record.
	ro, err := index.Open(ctx, ix.Path(), "", index.ReadOnly())
	if err == nil {
		defer ro.Close()
		err = ro.RecordVerifications(ctx, log[:1])
		wantIs(t, err, index.ErrReadOnly)
	}
}

func testVerifyLogAppendOnly(t *testing.T, h Harness) {
	if h.Exec == nil {
		t.Skip("the harness has no Exec")
	}
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	d := cas.Sum([]byte("alpha"))
	if err := ix.RecordVerifications(ctx, []cas.Verification{{Digest: d, Time: time.Now(), Method: cas.MethodContent, Outcome: cas.OutcomeCorrupt}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ verb, query string }{
		{"UPDATE", "UPDATE verifications SET outcome = 'ok'"},
		{"DELETE", "DELETE FROM verifications"},
	} {
		err := h.Exec(t, ix, c.query)
		wantIs(t, err, cas.ErrImmutable)
		if msg := "casstore index is append-only: " + c.verb + " on verifications refused"; !strings.Contains(err.Error(), msg) {
			t.Fatalf("%s: error %q lacks %q", c.query, err, msg)
		}
	}
	// An upsert is refused (by the UPDATE trigger) or does nothing.
	upsert := "INSERT INTO verifications (id, store, digest, method, outcome, detail, verified_ns) " +
		"SELECT id, store, digest, method, 'ok', '', 1 FROM verifications WHERE true ON CONFLICT (id) DO UPDATE SET outcome = 'ok'"
	if err := h.Exec(t, ix, upsert); err != nil && !errors.Is(err, cas.ErrImmutable) {
		t.Fatalf("upsert: %v", err)
	}
	hist, err := ix.Verifications(ctx, d)
	if err != nil || len(hist) != 1 || hist[0].Outcome != cas.OutcomeCorrupt {
		t.Fatalf("after refused changes: %+v, %v", hist, err)
	}
}
