package index

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/casstore/casstore/cas"
)

// SwitchStore moves the index from store from to store to by appending to
// its store history; the rows of the old stores stay. It refuses, with an
// error wrapping cas.ErrStoreMismatch, when the current store is not from,
// and with cas.ErrConflict when the index holds more than checked blobs:
// the caller checked that checked blobs (all of them, from one Blobs walk)
// are at the destination, and any blob recorded since is unchecked. Whether
// the blobs are really at to is the caller's job; this only records.
func (ix *Index) SwitchStore(ctx context.Context, from, to string, checked int64) error {
	if from == "" || to == "" {
		return fmt.Errorf("index: switch store: empty store location: %w", ErrInvalid)
	}
	if from == to {
		return fmt.Errorf("index: switch store: the index already belongs to %s: %w", to, ErrInvalid)
	}
	if err := ix.switchStore(ctx, from, to, checked); err != nil {
		return fmt.Errorf("index: switch store from %s to %s: %w", from, to, ix.d.classify(err))
	}
	if p := ix.store.Load(); p != nil && *p == from {
		ix.store.CompareAndSwap(p, &to) // this handle follows its own switch
	}
	return nil
}

func (ix *Index) switchStore(ctx context.Context, from, to string, checked int64) error {
	return ix.write(ctx, func(tx *sql.Tx) error { return ix.switchStoreTx(ctx, tx, from, to, checked) })
}

func (ix *Index) switchStoreTx(ctx context.Context, tx *sql.Tx, from, to string, checked int64) error {
	if err := ix.d.lockTx(ctx, tx); err != nil {
		return err
	}
	cur, err := currentStore(ctx, tx)
	if err != nil {
		return err
	}
	if cur != from {
		return fmt.Errorf("the index belongs to store %q: %w", cur, cas.ErrStoreMismatch)
	}
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM blobs`).Scan(&n); err != nil {
		return err
	}
	if n != checked {
		return fmt.Errorf("the index holds %d blobs, %d were checked: blobs were recorded meanwhile; check again: %w", n, checked, cas.ErrConflict)
	}
	return ix.appendStore(ctx, tx, to)
}
