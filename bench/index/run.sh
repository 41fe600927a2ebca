#!/usr/bin/env bash
# bench/index/run.sh — the transaction index on SQLite and on PostgreSQL,
# side by side in one run.
#
# Starts a throwaway PostgreSQL (initdb in a temp dir, loopback, free port;
# as the postgres system user when run as root), builds bench/index and
# runs it against a SQLite file in the same temp dir and that server:
#   batched rows/s               Record in batches of 1000 new attachments
#   single-row inserts/s         one new attachment per Record call, by 1 and
#                                by 8 writer PROCESSES at once for SECONDS;
#                                "lost rows" compares what the writers were
#                                told was recorded with what the index holds
#   batched rows per CPU-second  the same, per second of processor time used
#                                by the benchmark and the PostgreSQL server:
#                                what the engines cost, whatever else runs
#   lookups/s                    LookupBlob of known digests, 1, 4 and 16 goroutines
#
# PostgreSQL runs with fsync on and synchronous_commit=off: like SQLite's
# WAL with synchronous=NORMAL (casstore's setting), a crash of the machine
# may lose the newest commits but never corrupts the database.
#
# Usage: bench/index/run.sh [ROWS (200000)] [SECONDS (3)]
set -euo pipefail
rows=${1:-200000}
secs=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[[ -n $pg_bin ]] || { echo "needs PostgreSQL: apt-get install -y postgresql" >&2; exit 2; }

tmp=$(mktemp -d)
pg_pid=
cleanup() {
	if [[ -n $pg_pid ]]; then
		kill -INT "$pg_pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

as_pg=()
if ((EUID == 0)); then as_pg=(runuser -u postgres --); chmod 755 "$tmp"; fi
mkdir -p "$tmp/pg" "$tmp/sqlite"
((EUID == 0)) && chown postgres "$tmp/pg"
port=$( (python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null) || echo $((20000 + RANDOM % 40000)))
"${as_pg[@]}" "$pg_bin/initdb" -D "$tmp/pg/data" -A trust -U casstore >"$tmp/pg/initdb.log" 2>&1 ||
	{ cat "$tmp/pg/initdb.log" >&2; exit 1; }
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/log" -w \
	-o "-p $port -k $tmp/pg -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c max_connections=100 -c shared_buffers=256MB" start >/dev/null ||
	{ cat "$tmp/pg/log" >&2; exit 1; }
pg_pid=$(head -1 "$tmp/pg/data/postmaster.pid")

(cd "$root" && go build -o "$tmp/index-bench" ./bench/index)
echo "index-bench: $rows batched rows, ${secs}s timed phases, $(nproc) cores, PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}')"
"$tmp/index-bench" -sqlite-dir "$tmp/sqlite" -pg "postgres://casstore@127.0.0.1:$port/postgres?sslmode=disable" -pg-pid "$pg_pid" -rows "$rows" -seconds "$secs"
