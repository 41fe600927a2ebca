// Command index-bench measures the transaction index on SQLite and on
// PostgreSQL side by side: attachment rows recorded in batches, single-row
// records by 1 and by 8 writer processes (each one this program again, in
// child mode), and blob lookups. bench/index/run.sh starts a throwaway
// PostgreSQL and runs it; see there.
package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"

	_ "github.com/jackc/pgx/v5/stdlib" // for creating the databases
)

const store = "file:///bench/blobs"

func main() {
	sqliteDir := flag.String("sqlite-dir", "", "directory for the SQLite index files")
	pgURL := flag.String("pg", "", "PostgreSQL URL of a role that may create databases (casstore_bench_* are created)")
	rows := flag.Int("rows", 200000, "rows recorded in batches of 1000")
	secs := flag.Float64("seconds", 3, "duration of each timed phase")
	child := flag.String("child", "", "internal: child mode (single)")
	loc := flag.String("loc", "", "internal: index location")
	id := flag.Int("id", 0, "internal: writer id")
	start := flag.Int64("start", 0, "internal: when a child starts writing, unix ns")
	until := flag.Int64("until", 0, "internal: when a child stops, unix ns")
	flag.Parse()
	if *child != "" {
		n, err := singleWriter(*loc, *id, time.Unix(0, *start), time.Unix(0, *until))
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		fmt.Println(n)
		return
	}
	dur := time.Duration(*secs * float64(time.Second))
	var results []map[string]string
	var names []string
	if *sqliteDir != "" {
		names = append(names, "SQLite")
		results = append(results, run(func(phase string) string { return filepath.Join(*sqliteDir, phase+".db") }, *rows, dur))
	}
	if *pgURL != "" {
		names = append(names, "PostgreSQL")
		admin, err := sql.Open("pgx", *pgURL)
		must(err)
		results = append(results, run(func(phase string) string {
			db := "casstore_bench_" + phase
			_, err := admin.Exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)")
			must(err)
			_, err = admin.Exec("CREATE DATABASE " + db)
			must(err)
			return withDB(*pgURL, db)
		}, *rows, dur))
		admin.Close()
	}
	fmt.Printf("%-34s", "")
	for _, n := range names {
		fmt.Printf("%16s", n)
	}
	fmt.Println()
	for _, k := range []string{"batched rows/s", "batched rows per CPU-second", "single-row inserts/s, 1 process", "single-row inserts/s, 8 processes", "8 vs 1 writer", "lost rows (8 processes)", "lookups/s, 1 goroutine", "lookups/s, 4 goroutines", "lookups/s, 16 goroutines"} {
		fmt.Printf("%-34s", k)
		for _, r := range results {
			fmt.Printf("%16s", r[k])
		}
		fmt.Println()
	}
}

// withDB replaces the database of a PostgreSQL URL.
func withDB(u, db string) string {
	base, query, _ := strings.Cut(u, "?")
	base = base[:strings.LastIndex(base, "/")+1] + db
	if query != "" {
		base += "?" + query
	}
	return base
}

func digestN(n int) cas.Digest {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	return cas.Sum(b[:])
}

func att(txn string, n int) cas.Attachment {
	return cas.Attachment{Txn: txn, Name: "file-" + strconv.Itoa(n) + ".pdf", Digest: digestN(n), Size: int64(1000 + n), ContentType: "application/pdf"}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "index-bench:", err)
		os.Exit(1)
	}
}

func run(loc func(string) string, rows int, dur time.Duration) map[string]string {
	ctx := context.Background()
	out := map[string]string{}

	// Batched rows.
	ix, err := index.Open(ctx, loc("batch"), store)
	must(err)
	batch := make([]cas.Attachment, 1000)
	cpu0 := cpuSeconds()
	t0 := time.Now()
	for n := 0; n < rows; {
		for j := range batch {
			batch[j] = att("txn-"+strconv.Itoa(n/10), n)
			n++
		}
		_, err := ix.Record(ctx, batch)
		must(err)
	}
	out["batched rows/s"] = rate(float64(rows) / time.Since(t0).Seconds())
	out["batched rows per CPU-second"] = rate(float64(rows) / (cpuSeconds() - cpu0))

	// Lookups of known blobs.
	for _, g := range []int{1, 4, 16} {
		var total atomic.Int64
		end := time.Now().Add(dur)
		var wg sync.WaitGroup
		t0 := time.Now()
		for w := range g {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 7))
				n := 0
				for ; n%256 != 0 || time.Now().Before(end); n++ {
					if _, ok, err := ix.LookupBlob(ctx, digestN(r.IntN(rows))); err != nil || !ok {
						must(fmt.Errorf("lookup: %v %v", ok, err))
					}
				}
				total.Add(int64(n))
			})
		}
		wg.Wait()
		out[fmt.Sprintf("lookups/s, %d goroutine%s", g, map[bool]string{true: "s"}[g > 1])] = rate(float64(total.Load()) / time.Since(t0).Seconds())
	}
	ix.Close()

	// Single-row records by writer processes.
	var one float64
	for _, procs := range []int{1, 8} {
		l := loc(fmt.Sprintf("single%d", procs))
		ix, err := index.Open(ctx, l, store) // migrate before the clock starts
		must(err)
		begin := time.Now().Add(1500 * time.Millisecond)
		end := begin.Add(dur)
		cmds := make([]*exec.Cmd, procs)
		outs := make([]strings.Builder, procs)
		for i := range cmds {
			cmds[i] = exec.Command(os.Args[0], "-child", "single", "-loc", l, "-id", strconv.Itoa(i),
				"-start", strconv.FormatInt(begin.UnixNano(), 10), "-until", strconv.FormatInt(end.UnixNano(), 10))
			cmds[i].Stdout, cmds[i].Stderr = &outs[i], os.Stderr
			must(cmds[i].Start())
		}
		var sum int64
		for i, c := range cmds {
			must(c.Wait())
			n, err := strconv.ParseInt(strings.TrimSpace(outs[i].String()), 10, 64)
			must(err)
			sum += n
		}
		st, err := ix.Stats(ctx)
		must(err)
		ix.Close()
		r := float64(sum) / dur.Seconds()
		out[fmt.Sprintf("single-row inserts/s, %d process%s", procs, map[bool]string{true: "es"}[procs > 1])] = rate(r)
		if procs == 1 {
			one = r
		} else {
			out["8 vs 1 writer"] = fmt.Sprintf("%.2fx", r/one)
			out["lost rows (8 processes)"] = strconv.FormatInt(sum-st.Attachments, 10)
		}
	}
	return out
}

// singleWriter records one attachment per call from start until end and
// returns how many it recorded, each a new attachment of a new blob.
func singleWriter(loc string, id int, start, end time.Time) (int64, error) {
	ctx := context.Background()
	ix, err := index.Open(ctx, loc, store)
	if err != nil {
		return 0, err
	}
	defer ix.Close()
	time.Sleep(time.Until(start))
	var n int64
	for i := 0; time.Now().Before(end); i++ {
		a := att("w"+strconv.Itoa(id), 1_000_000*(id+1)+i)
		if _, err := ix.Record(ctx, []cas.Attachment{a}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func rate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

// pgPID is the PostgreSQL server's postmaster, whose processes' CPU time
// counts with ours.
var pgPID = flag.Int("pg-pid", 0, "process id of the PostgreSQL postmaster, if it runs here (for CPU accounting)")

// cpuSeconds is the processor time used so far by this process and by the
// PostgreSQL server's processes (-pg-pid and its children): a throughput
// per CPU-second depends less on what else the machine runs.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		open, close := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
		if open < 0 || close < open || *pgPID == 0 {
			continue
		}
		f := strings.Fields(string(b[close+2:]))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:open])))
		if len(f) < 13 || (pid != *pgPID && f[1] != strconv.Itoa(*pgPID)) {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		total += (ut + st) / 100 // clock ticks; 100 per second on Linux
	}
	return total
}
