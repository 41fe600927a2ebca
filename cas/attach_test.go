package cas_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/index"
)

func TestAttachRecordsAfterTheBlob(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := disk.New(filepath.Join(dir, "blobs"))
	require.NoError(t, err)
	ixPath := filepath.Join(dir, "index.db")
	ix, err := index.Open(ctx, ixPath, b.Location())
	require.NoError(t, err)

	s := cas.New(b, cas.WithIndex(ix))
	att, res, err := s.Attach(ctx, strings.NewReader("first"), cas.Attachment{Txn: "T", Name: "a.txt"}, cas.PutOptions{})
	require.NoError(t, err)
	assert.True(t, res.New)
	assert.Equal(t, cas.Sum([]byte("first")), att.Digest)

	// The index write fails after the blob was stored (here: the index is
	// gone): the blob stays, as a harmless orphan, and no row points at
	// anything missing.
	require.NoError(t, ix.Close())
	_, res, err = s.Attach(ctx, strings.NewReader("second"), cas.Attachment{Txn: "T", Name: "b.txt"}, cas.PutOptions{})
	require.Error(t, err)
	assert.True(t, res.New, "the blob was stored before the index write failed")
	_, err = b.Stat(ctx, cas.Sum([]byte("second")))
	require.NoError(t, err)

	ix, err = index.Open(ctx, ixPath, b.Location())
	require.NoError(t, err)
	defer ix.Close()
	atts, err := ix.Attachments(ctx, "T")
	require.NoError(t, err)
	require.Len(t, atts, 1, "only the attachment whose row was written")
	for _, a := range atts {
		_, err := b.Stat(ctx, a.Digest)
		assert.NoError(t, err, "every row points at a stored blob")
	}

	_, _, err = cas.New(b).Attach(ctx, strings.NewReader("x"), cas.Attachment{Txn: "T"}, cas.PutOptions{})
	assert.Error(t, err, "attach needs an index")
	_, _, err = s.Attach(ctx, strings.NewReader("x"), cas.Attachment{}, cas.PutOptions{})
	assert.ErrorIs(t, err, cas.ErrEmptyTxn)
}
