package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// moveInto never replaces an output file without --force, even one that
// appeared after get checked for it, while the blob was being read.
func TestMoveIntoNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	tmp, out := filepath.Join(dir, ".casctl-get-1"), filepath.Join(dir, "out")
	require.NoError(t, os.WriteFile(tmp, []byte("the blob"), 0o644))

	require.NoError(t, os.WriteFile(out, []byte("written meanwhile"), 0o644))
	err := moveInto(tmp, out, false)
	var usage usageError
	require.ErrorAs(t, err, &usage)
	assert.Contains(t, err.Error(), "use --force")
	got, _ := os.ReadFile(out)
	assert.Equal(t, "written meanwhile", string(got), "the other file is left as it was")

	require.NoError(t, moveInto(tmp, out, true))
	got, _ = os.ReadFile(out)
	assert.Equal(t, "the blob", string(got))
	assert.NoFileExists(t, tmp)

	fresh := filepath.Join(dir, "fresh")
	require.NoError(t, os.WriteFile(tmp, []byte("again"), 0o644))
	require.NoError(t, moveInto(tmp, fresh, false))
	got, _ = os.ReadFile(fresh)
	assert.Equal(t, "again", string(got))
	assert.NoFileExists(t, tmp, "the temporary name is gone once linked")
}
