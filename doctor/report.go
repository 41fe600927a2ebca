package doctor

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/casstore/casstore/config"
	"github.com/casstore/casstore/index"
)

// Status is a check's outcome.
type Status string

// The outcomes. Only Failed makes a report fail.
const (
	OK           Status = "ok"
	Warning      Status = "warning"
	Failed       Status = "failed"
	NotPermitted Status = "not permitted" // the credential may not make this request
)

// Check is one finding.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`           // what was found
	Advice string `json:"advice,omitempty"` // one line: what to do
}

// Setting is one resolved setting and its source; a secret has no value.
type Setting struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Source string `json:"source"`
	Secret bool   `json:"secret,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	Store    string    `json:"store"`
	Settings []Setting `json:"settings"`
	Checks   []Check   `json:"checks"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return r.Count(Failed) > 0 }

// Count returns how many checks have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Check returns the check named name, if any.
func (r *Report) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func (r *Report) add(name string, s Status, detail, advice string) {
	r.Checks = append(r.Checks, Check{Name: name, Status: s, Detail: detail, Advice: advice})
}

// settings lists every resolved setting, secrets reduced to their source.
func settings(cfg *config.Config) []Setting {
	rep := cfg.Report()
	out := make([]Setting, 0, len(rep))
	for k, s := range rep {
		// A location may carry a password (postgres://u:pw@h/db).
		out = append(out, Setting{Key: string(k), Value: index.Redact(s.Value), Source: s.Source, Secret: s.Secret})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "store %s\n\nsettings:\n", r.Store)
	for _, s := range r.Settings {
		v := s.Value
		if s.Secret {
			v = "(secret, not shown)"
		}
		fmt.Fprintf(w, "  %-22s %-40s from %s\n", s.Key, v, s.Source)
	}
	fmt.Fprintln(w, "\nchecks:")
	for _, c := range r.Checks {
		fmt.Fprintf(w, "  %-16s %-15s %s\n", "["+string(c.Status)+"]", c.Name, oneLine(c.Detail))
		if c.Advice != "" {
			fmt.Fprintf(w, "  %-16s %-15s → %s\n", "", "", oneLine(c.Advice))
		}
	}
	fmt.Fprintf(w, "\n%d ok, %d warnings, %d failed, %d not permitted\n",
		r.Count(OK), r.Count(Warning), r.Count(Failed), r.Count(NotPermitted))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
