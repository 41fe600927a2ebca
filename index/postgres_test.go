package index_test

import (
	"testing"

	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/index/indextest"
	"github.com/casstore/casstore/internal/testenv"
)

// pgLocation returns a fresh database on the test server.
func pgLocation(tb testing.TB) string {
	tb.Helper()
	return testenv.Postgres(tb).NewDatabase(tb, "")
}

func TestPostgres(t *testing.T) {
	testenv.Postgres(t)
	indextest.Run(t, indextest.Harness{
		NewLocation: pgLocation,
		Exec: func(tb testing.TB, ix *index.Index, query string, args ...any) error {
			return index.Exec(ix, query, args...)
		},
	})
}
