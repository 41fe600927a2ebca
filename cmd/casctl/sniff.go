package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
)

// sniff returns the content type of r's first bytes (http.DetectContentType)
// and a reader that still yields all of r. A regular file is read with
// ReadAt and returned as it is, so it is still hashed and uploaded in place.
func sniff(r io.Reader) (io.Reader, string, error) {
	head := make([]byte, 512)
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			n, err := f.ReadAt(head, 0)
			if err != nil && err != io.EOF {
				return nil, "", err
			}
			return f, http.DetectContentType(head[:n]), nil
		}
	}
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, "", err
	}
	return io.MultiReader(bytes.NewReader(head[:n]), r), http.DetectContentType(head[:n]), nil
}
