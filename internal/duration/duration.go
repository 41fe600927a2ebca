// Package duration parses the periods casctl's settings and flags take: a
// Go duration ("36h", "90m") or a whole number of days ("7d").
package duration

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxDays keeps a day count from overflowing time.Duration (about 292
// years).
const maxDays = 100 * 365

// Parse reads a positive period: "7d" or anything time.ParseDuration
// takes.
func Parse(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > maxDays {
			return 0, fmt.Errorf("%q: want a positive number of days (7d) or a duration (36h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive number of days (7d) or a duration (36h)", s)
	}
	return d, nil
}
