package cas_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
)

func TestParseIsStrict(t *testing.T) {
	good := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	d, err := cas.Parse(good)
	require.NoError(t, err)
	assert.Equal(t, cas.EmptyDigest, d)
	assert.Equal(t, good, d.String())
	assert.Equal(t, good[:12], d.Short())

	for _, bad := range []string{
		"", strings.ToUpper(good), good[:63], good + "0", "../" + good[3:],
		"e3b0c442/8fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		" " + good[1:], good[:63] + "g", "sha256:" + good,
	} {
		_, err := cas.Parse(bad)
		assert.ErrorIs(t, err, cas.ErrInvalidDigest, "%q", bad)
	}
}

func TestDigestText(t *testing.T) {
	d := cas.Sum([]byte("abc"))
	b, err := json.Marshal(map[string]cas.Digest{"d": d})
	require.NoError(t, err)
	assert.JSONEq(t, `{"d":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}`, string(b))
	var back map[string]cas.Digest
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, d, back["d"])
	assert.False(t, d.IsZero())
	assert.True(t, cas.Digest{}.IsZero())
	assert.Error(t, json.Unmarshal([]byte(`{"d":"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"}`), &back))
	assert.Equal(t, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", d.Base64())
}

func TestAttachmentJSONKeepsExactName(t *testing.T) {
	for _, name := range []string{"plain.txt", "résumé 📎.pdf", "a/b\\c", "line\nbreak", "bad\xff\xfeutf8"} {
		a := cas.Attachment{Txn: "T1", Digest: cas.EmptyDigest, Name: name}
		b, err := json.Marshal(a)
		require.NoError(t, err)
		var back cas.Attachment
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, name, back.Name)
	}
}

func TestSafeName(t *testing.T) {
	assert.Equal(t, "résumé.pdf", cas.SafeName("résumé.pdf"))
	assert.Equal(t, `two\nlines`, cas.SafeName("two\nlines"))
	assert.Equal(t, `bad\xff`, cas.SafeName("bad\xff"))
	assert.Equal(t, `esc\x1b[31m`, cas.SafeName("esc\x1b[31m"))
}
