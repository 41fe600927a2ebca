package index

import "context"

// Exec runs a raw statement on ix, its error classified as the index
// classifies errors: for tests that try what the API never does.
func Exec(ix *Index, query string, args ...any) error {
	_, err := ix.db.ExecContext(context.Background(), ix.d.rebind(query), args...)
	return ix.d.classify(err)
}
