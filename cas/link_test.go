package cas_test

import (
	"mime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/casstore/casstore/cas"
)

func TestContentDisposition(t *testing.T) {
	assert.Equal(t, `attachment; filename="report.pdf"`, cas.ContentDisposition("report.pdf", false))
	assert.Equal(t, `inline; filename="a b.png"`, cas.ContentDisposition("a b.png", true))
	assert.Equal(t, "attachment", cas.ContentDisposition("", false))
	v := cas.ContentDisposition("Résumé 📎.pdf", false)
	assert.Equal(t, `attachment; filename="R_sum_ _.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%F0%9F%93%8E.pdf`, v)
	// A standard parser recovers the exact name.
	for _, name := range []string{"Résumé 📎.pdf", `quo"te\and;semi.txt`, "dir/file.txt", "new\nline", "100%.txt"} {
		_, params, err := mime.ParseMediaType(cas.ContentDisposition(name, false))
		assert.NoError(t, err, name)
		assert.Equal(t, name, params["filename"], name)
	}
}

func TestLinkExpiryBounds(t *testing.T) {
	assert.NoError(t, cas.LinkOptions{Expires: time.Second}.Validate())
	assert.NoError(t, cas.LinkOptions{Expires: 7 * 24 * time.Hour}.Validate())
	assert.Error(t, cas.LinkOptions{Expires: 0}.Validate())
	assert.Error(t, cas.LinkOptions{Expires: 7*24*time.Hour + time.Second}.Validate())
	assert.NoError(t, cas.LinkOptions{Public: true}.Validate())
}
