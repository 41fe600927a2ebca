#!/usr/bin/env bash
# bench/gateway/run.sh — casctl serve side by side with nginx, both serving
# the same disk store directory on loopback; load from wrk and curl.
#
# Usage: bench/gateway/run.sh        (from anywhere; needs go, curl, nginx, wrk)
# Knobs: N_SMALL (2000 blobs of 4 KiB), CONNS (64), DURATION (5 s per wrk
#        run), SMALL_PAIRS (5 gateway/nginx pairs), BIG_MIB (1024; 0 skips
#        the large download and upload), RUNS (5 timed runs of each large
#        transfer).
#
# Prints: requests/s for 4 KiB blobs by signed link (every body verified by
# the gateway; nginx ignores the query), MB/s for one BIG_MIB blob against
# this machine's SHA-256 rate, upload time of a BIG_MIB file with curl
# against `casctl put`, and the gateway's peak RSS. Medians of RUNS.
set -euo pipefail

N_SMALL=${N_SMALL:-2000}
CONNS=${CONNS:-64}
DURATION=${DURATION:-5}
BIG_MIB=${BIG_MIB:-1024}
RUNS=${RUNS:-5}
SMALL_PAIRS=${SMALL_PAIRS:-5}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for tool in curl nginx wrk go sha256sum; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found (apt-get install -y nginx wrk curl)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/casstore-gwbench.XXXXXX")
serve_pid= nginx_pid=
cleanup() {
	[[ -n "$serve_pid" ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
	[[ -n "$nginx_pid" ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

log() { printf 'bench: %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { local p; while :; do p=$((20000 + RANDOM % 30000)); port_open "$p" || { echo "$p"; return; }; done; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

export XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data TMPDIR=$work/tmp
export CASCTL_STORE=file://$work/store CASCTL_UPLOAD_TOKEN=bench-token-$RANDOM$RANDOM
mkdir -p "$TMPDIR" "$work/small"
casctl=$work/casctl
log "building casctl"
(cd "$root" && go build -o "$casctl" ./cmd/casctl && go build -o "$work/sha256rate" ./bench/gateway/sha256rate)

log "making $N_SMALL blobs of 4 KiB and one of $BIG_MIB MiB"
for i in $(seq 1 "$N_SMALL"); do head -c 4096 /dev/urandom >"$work/small/$i"; done
(cd "$work/small" && ls | xargs "$casctl" put >/dev/null)
if ((BIG_MIB > 0)); then
	head -c $((BIG_MIB << 20)) /dev/urandom >"$work/big"
	"$casctl" put "$work/big" >/dev/null
	big=$(sha256sum "$work/big" | cut -c1-64)
fi

# ------------------------------------------------------------ servers
gport=$(free_port)
"$casctl" serve --listen "127.0.0.1:$gport" 2>"$work/serve.log" &
serve_pid=$!
export CASCTL_GATEWAY_URL=http://127.0.0.1:$gport

nport=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
user root;
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log $work/nginx/access.log;
	sendfile on;
	tcp_nopush on;
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	fastcgi_temp_path $work/nginx/fastcgi;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$nport;
		root $work/store;
		location ~ "^/blobs/([0-9a-f]{3})([0-9a-f]{3})([0-9a-f]{58})\$" {
			try_files /\$1/\$2/\$3 =404;
		}
	}
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
for _ in $(seq 1 100); do port_open "$gport" && port_open "$nport" && break; sleep 0.1; done

# Signed links for every small blob (computed locally by casctl url).
(cd "$work/small" && sha256sum * | cut -c1-64) >"$work/digests"
xargs "$casctl" url <"$work/digests" | sed "s#^http://127.0.0.1:$gport##" >"$work/links"
first=$(head -1 "$work/links")
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gport$first") == 200 ]] || { log "gateway refused $first"; exit 1; }
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$nport$first") == 200 ]] || { log "nginx refused $first"; exit 1; }
cat >"$work/links.lua" <<LUA
local paths = {}
for line in io.lines("$work/links") do paths[#paths + 1] = line end
local i = math.random(#paths)
request = function()
	i = i % #paths + 1
	return wrk.format("GET", paths[i])
end
LUA

wrk_rps() { # PORT -> requests/s; non-2xx responses fail the run
	local out
	out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$work/links.lua" "http://127.0.0.1:$1")
	if grep -q "Non-2xx" <<<"$out"; then log "errors: $out"; exit 1; fi
	awk '/Requests\/sec/ {print $2}' <<<"$out"
}

echo "== 4 KiB blobs, signed links, $CONNS connections, ${DURATION}s each (wrk -t2), $SMALL_PAIRS pairs alternating"
ratios=()
for r in $(seq 1 "$SMALL_PAIRS"); do
	g=$(wrk_rps "$gport"); n=$(wrk_rps "$nport")
	ratio=$(awk "BEGIN {printf \"%.2f\", $g/$n}")
	ratios+=("$ratio")
	echo "pair $r: gateway $g req/s, nginx $n req/s, ratio $ratio"
done
echo "median ratio gateway/nginx: $(printf '%s\n' "${ratios[@]}" | median)"

if ((BIG_MIB > 0)); then
echo "== one $BIG_MIB MiB blob (curl -o /dev/null), each run: Go SHA-256 of as many bytes in memory, gateway, nginx"
glink=$("$casctl" url "$big")
mbs() { awk "BEGIN {printf \"%.0f\", $BIG_MIB*1.048576/($1/1000)}"; }
shares=()
for r in $(seq 1 "$RUNS"); do
	s=$(now_ms); "$work/sha256rate" "$BIG_MIB" >/dev/null; h=$(($(now_ms) - s))
	s=$(now_ms); curl -sf -o /dev/null "$glink"; g=$(($(now_ms) - s))
	s=$(now_ms); curl -sf -o /dev/null "http://127.0.0.1:$nport/blobs/$big"; n=$(($(now_ms) - s))
	share=$(awk "BEGIN {printf \"%.2f\", $h/$g}")
	shares+=("$share")
	echo "run $r: SHA-256 $(mbs "$h") MB/s, gateway (verified) $(mbs "$g") MB/s = $share of it, nginx (sendfile, ceiling) $(mbs "$n") MB/s"
done
echo "median gateway/SHA-256: $(printf '%s\n' "${shares[@]}" | median)"

echo "== $BIG_MIB MiB upload: curl POST /blobs vs casctl put (fresh store each run)"
head -c $((BIG_MIB << 20)) /dev/urandom >"$work/up"
up=$(sha256sum "$work/up" | cut -c1-64)
upath="$work/store/${up:0:3}/${up:3:3}/${up:6}"
ratios=()
for r in $(seq 1 "$RUNS"); do
	rm -f "$upath"
	s=$(now_ms)
	code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -T "$work/up" -H "Authorization: Bearer $CASCTL_UPLOAD_TOKEN" \
		-H "X-Content-SHA256: $up" "http://127.0.0.1:$gport/blobs")
	c=$(($(now_ms) - s))
	[[ $code == 201 ]] || { log "upload answered $code"; exit 1; }
	s=$(now_ms)
	"$casctl" put --store "file://$work/put$r" "$work/up" >/dev/null
	p=$(($(now_ms) - s))
	rm -rf "$work/put$r" "$work/put$r.index.db"*
	ratio=$(awk "BEGIN {printf \"%.2f\", $c/$p}")
	ratios+=("$ratio")
	echo "run $r: curl $c ms, casctl put $p ms, ratio $ratio"
done
echo "median curl/casctl put: $(printf '%s\n' "${ratios[@]}" | median)"
fi

echo "== gateway peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$serve_pid/status")"
