package index_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/index/indextest"
	"github.com/casstore/casstore/internal/testenv"
)

// testSwitchWaitsForRecords has one handle record a blob and stop inside
// its transaction, between the check that the index still belongs to its
// store and the commit, while another handle switches the store. The
// switch must not commit in that gap: it waits, then counts the new blob
// as unchecked and refuses. blocked reports that the switch is waiting.
func testSwitchWaitsForRecords(t *testing.T, loc string, blocked func(ctx context.Context) bool) {
	ctx := context.Background()
	writer := indextest.MustOpen(t, loc)
	indextest.MustRecord(t, writer, indextest.Att("T", "a", "alpha"))
	switcher := indextest.MustOpen(t, loc)
	st, err := switcher.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}

	inTx, release := make(chan struct{}), make(chan struct{})
	recorded := make(chan error, 1)
	go func() {
		recorded <- index.RecordPaused(ctx, writer, []cas.Attachment{indextest.Att("T", "b", "beta")}, func() {
			close(inTx)
			<-release
		})
	}()
	<-inTx
	switched := make(chan error, 1)
	go func() { switched <- switcher.SwitchStore(ctx, indextest.Store, "s3://elsewhere/", st.Blobs) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if len(switched) > 0 || blocked(ctx) || time.Now().After(deadline) {
			break
		}
	}
	close(release)
	if err := <-recorded; err != nil {
		t.Fatalf("record: %v", err)
	}
	if err := <-switched; !errors.Is(err, cas.ErrConflict) {
		t.Fatalf("switch with a record in flight: %v, want ErrConflict (a blob recorded after the check)", err)
	}
	if cur, err := switcher.Store(ctx); err != nil || cur != indextest.Store {
		t.Fatalf("store after the refused switch: %q, %v", cur, err)
	}
}

func TestSwitchWaitsForRecordsSQLite(t *testing.T) {
	// BEGIN IMMEDIATE: the switch cannot even start its transaction; give
	// it time to try.
	var first time.Time
	testSwitchWaitsForRecords(t, newLocation(t), func(context.Context) bool {
		if first.IsZero() {
			first = time.Now()
		}
		return time.Since(first) > 300*time.Millisecond
	})
}

func TestSwitchWaitsForRecordsPostgres(t *testing.T) {
	pg := testenv.Postgres(t)
	loc := pg.NewDatabase(t, "")
	admin := indextest.MustOpen(t, loc)
	testSwitchWaitsForRecords(t, loc, func(ctx context.Context) bool {
		var waiting int
		err := index.QueryRow(admin, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`, &waiting)
		return err == nil && waiting > 0
	})
}
