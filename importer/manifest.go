package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Format is a manifest's format.
type Format string

const (
	CSV   Format = "csv"   // txn,path[,name[,content_type]], with or without that header
	JSONL Format = "jsonl" // one {"txn","path","name","content_type"} object per line
)

// ErrManifest: a manifest line cannot be read. The message names the line.
var ErrManifest = errors.New("malformed manifest")

// FormatOf guesses a manifest's format from its file name: .jsonl, .ndjson
// and .json are JSON Lines, anything else CSV.
func FormatOf(name string) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".ndjson", ".json":
		return JSONL
	}
	return CSV
}

// manifestLine is one JSON Lines record.
type manifestLine struct {
	Txn         string `json:"txn"`
	Path        string `json:"path"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
}

// ParseManifest reads a whole manifest, so that a malformed one is refused
// before anything is imported (the error wraps ErrManifest and names the
// line). Relative paths are taken relative to base; a missing name is the
// path's base name.
//
// CSV: columns txn, path, name, content_type, the last two optional. A
// first row naming the columns (txn and path at least, in any order;
// "transaction" and "type" are accepted too) is a header and may order them
// otherwise. JSON Lines: one object per line with the same keys; blank
// lines are skipped, unknown keys refused.
func ParseManifest(r io.Reader, format Format, base string) ([]Item, error) {
	base, err := filepath.Abs(base)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var lines []manifestLine
	var where []int
	switch format {
	case CSV:
		lines, where, err = parseCSV(r)
	case JSONL:
		lines, where, err = parseJSONL(r)
	default:
		return nil, fmt.Errorf("manifest: format %q: want csv or jsonl: %w", format, ErrManifest)
	}
	if err != nil {
		return nil, err
	}
	items := make([]Item, 0, len(lines))
	for i, l := range lines {
		if l.Txn == "" || l.Path == "" {
			return nil, fmt.Errorf("manifest: line %d: txn and path are required: %w", where[i], ErrManifest)
		}
		p := l.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		p = filepath.Clean(p)
		if l.Name == "" {
			l.Name = filepath.Base(p)
		}
		items = append(items, Item{Txn: l.Txn, Path: p, Name: l.Name, ContentType: l.ContentType,
			Where: fmt.Sprintf("manifest line %d", where[i])})
	}
	return items, nil
}

func parseCSV(r io.Reader) ([]manifestLine, []int, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cols := map[string]int{"txn": 0, "path": 1, "name": 2, "content_type": 3}
	var lines []manifestLine
	var where []int
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			return lines, where, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("manifest: %w: %w", err, ErrManifest)
		}
		line, _ := cr.FieldPos(0)
		if first {
			if hdr, ok := csvHeader(rec); ok {
				cols = hdr
				continue
			}
		}
		field := func(name string) string {
			if i, ok := cols[name]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		if len(rec) > 4 || len(rec) < 2 {
			return nil, nil, fmt.Errorf("manifest: line %d: %d fields, want 2 to 4 (txn, path, name, content_type): %w", line, len(rec), ErrManifest)
		}
		lines = append(lines, manifestLine{Txn: field("txn"), Path: field("path"), Name: field("name"), ContentType: field("content_type")})
		where = append(where, line)
	}
}

// csvHeader recognises a header row and returns the columns it names.
func csvHeader(rec []string) (map[string]int, bool) {
	cols := map[string]int{}
	for i, f := range rec {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(f, "\ufeff"))) {
		case "txn", "transaction":
			cols["txn"] = i
		case "path", "file":
			cols["path"] = i
		case "name":
			cols["name"] = i
		case "content_type", "content-type", "type":
			cols["content_type"] = i
		default:
			return nil, false
		}
	}
	_, t := cols["txn"]
	_, p := cols["path"]
	return cols, t && p
}

func parseJSONL(r io.Reader) ([]manifestLine, []int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var lines []manifestLine
	var where []int
	for n := 1; sc.Scan(); n++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var l manifestLine
		if err := dec.Decode(&l); err != nil {
			return nil, nil, fmt.Errorf("manifest: line %d: %w: %w", n, err, ErrManifest)
		}
		if dec.More() {
			return nil, nil, fmt.Errorf("manifest: line %d: more than one object: %w", n, ErrManifest)
		}
		lines = append(lines, l)
		where = append(where, n)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("manifest: %w", err)
	}
	return lines, where, nil
}
