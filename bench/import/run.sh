#!/usr/bin/env bash
# bench/import/run.sh — casctl import into MinIO, side by side with mc mirror.
#
# Usage: bench/import/run.sh [setup|import|import-again|mirror|mirror-again|env]
#
#   setup         generate the tree (5,000 files, ~170 MB, 1 KiB-1 MiB, 30% duplicate
#                 content, 50 transactions), build casctl, start a throwaway MinIO on a
#                 free loopback port, and write $BENCH/env for the other steps
#   import        casctl import of the tree into a fresh bucket and fresh index
#   import-again  casctl import of the tree again into the last bucket (nothing new)
#   mirror        mc mirror of the tree into a fresh bucket
#   mirror-again  mc mirror again into the last bucket (nothing to do)
#   stop          stop the MinIO that setup started
#
# Each step is one process to time with a wall-clock timer, e.g.
#   hyperfine -w 1 'bench/import/run.sh mirror' 'bench/import/run.sh import'
#   /usr/bin/time -v bench/import/run.sh import
# MinIO and mc come from scripts/test's tool directory
# (${CASSTORE_TOOLS:-$HOME/.cache/casstore-tools}/bin). Work files live in
# $BENCH (default /tmp/casstore-bench-import).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=${BENCH:-/tmp/casstore-bench-import}
tools=${CASSTORE_TOOLS:-$HOME/.cache/casstore-tools}/bin

setup() {
	mkdir -p "$BENCH"
	if [[ ! -f $BENCH/tree.done ]]; then
		rm -rf "$BENCH/tree"
		python3 - "$BENCH/tree" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(7)
n, txns = 5000, 50
# Sizes from 1 KiB to 1 MiB, log-uniform-ish, scaled so unique+dup total ~170 MB.
sizes = [int(1024 * (1024 ** rng.random())) for _ in range(n)]
scale = 170e6 / sum(sizes)
sizes = [max(1024, min(1 << 20, int(s * scale))) for s in sizes]
uniques = []
for i in range(n):
    d = os.path.join(root, "TXN-%03d" % (i % txns))
    os.makedirs(d, exist_ok=True)
    if i % 10 < 3 and uniques:          # 30% duplicate content
        data = rng.choice(uniques)
    else:
        data = os.urandom(sizes[i])
        uniques.append(data)
    with open(os.path.join(d, "file-%05d.bin" % i), "wb") as f:
        f.write(data)
PY
		touch "$BENCH/tree.done"
	fi
	(cd "$root" && go build -o "$BENCH/casctl" ./cmd/casctl)
	if [[ -f $BENCH/minio.pid ]] && kill -0 "$(cat "$BENCH/minio.pid")" 2>/dev/null; then
		echo "MinIO already running (pid $(cat "$BENCH/minio.pid"))"
		return
	fi
	local port user pass
	while :; do
		port=$((20000 + RANDOM % 30000))
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
	done
	user=bench$RANDOM$RANDOM pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	rm -rf "$BENCH/minio-data"
	MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass "$tools/minio" server --quiet \
		--address "127.0.0.1:$port" --console-address "127.0.0.1:$((port + 1))" "$BENCH/minio-data" \
		>"$BENCH/minio.log" 2>&1 &
	echo $! >"$BENCH/minio.pid"
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	cat >"$BENCH/env" <<ENV
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port AWS_REGION=us-east-1 CASCTL_PATH_STYLE=true
export AWS_ACCESS_KEY_ID=$user AWS_SECRET_ACCESS_KEY=$pass
export MC_HOST_bench=http://$user:$pass@127.0.0.1:$port
ENV
	echo "MinIO on 127.0.0.1:$port (pid $(cat "$BENCH/minio.pid")); tree: $(du -sh "$BENCH/tree" | cut -f1)"
}

# bucket KIND new|last: a fresh bucket (made now) or the last one made for
# KIND (import or mirror).
bucket() {
	if [[ $2 == new ]]; then
		local b=bench-$1-$(date +%s%N)
		"$tools/mc" --quiet mb "bench/$b" >/dev/null
		echo "$b" >"$BENCH/bucket-$1"
	fi
	cat "$BENCH/bucket-$1"
}

step=${1:-setup}
[[ $step == setup ]] && { setup; exit; }
[[ $step == stop ]] && { kill "$(cat "$BENCH/minio.pid")"; rm -f "$BENCH/minio.pid"; exit; }
# shellcheck disable=SC1091
source "$BENCH/env"
export XDG_DATA_HOME=$BENCH/xdg XDG_CONFIG_HOME=$BENCH/xdg
case $step in
import)
	b=$(bucket import new)
	exec "$BENCH/casctl" import --store "s3://$b" --index "$BENCH/index-$b.db" "$BENCH/tree" ;;
import-again)
	b=$(bucket import last)
	exec "$BENCH/casctl" import --store "s3://$b" --index "$BENCH/index-$b.db" "$BENCH/tree" ;;
mirror)
	b=$(bucket mirror new)
	exec "$tools/mc" --quiet mirror "$BENCH/tree" "bench/$b" ;;
mirror-again)
	b=$(bucket mirror last)
	exec "$tools/mc" --quiet mirror "$BENCH/tree" "bench/$b" ;;
*)
	echo "unknown step $step" >&2; exit 2 ;;
esac
