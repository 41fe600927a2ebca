#!/usr/bin/env bash
# bench/core.sh — casctl put/get against the MinIO client, side by side.
#
# Starts a throwaway MinIO on loopback (the binaries scripts/test installs),
# writes a SIZE_MIB random file, and runs each pair alternately RUNS times:
#   fresh put        casctl put (new prefix each run)  vs  mc cp
#   repeated put     casctl put (already stored)        vs  mc cp
#   get              casctl get > file                  vs  mc cat > file
#   put from a pipe  cat FILE | casctl put -            (peak RSS)
# printing the median wall time of each, their ratio, and peak RSS (GNU time).
# Usage: bench/core.sh [SIZE_MIB (1024)] [RUNS (5)]
set -euo pipefail
size_mib=${1:-1024}
runs=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
tools=${CASSTORE_TOOLS:-$HOME/.cache/casstore-tools}/bin
[[ -x $tools/minio && -x $tools/mc ]] || { echo "run scripts/test once first (it installs minio and mc)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "needs GNU time: apt-get install -y time" >&2; exit 2; }

tmp=$(mktemp -d)
minio_pid=
trap '[[ -n $minio_pid ]] && kill $minio_pid && wait $minio_pid 2>/dev/null; rm -rf "$tmp"' EXIT
port=$((20000 + RANDOM % 20000))
user=bench$RANDOM pass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass MINIO_BROWSER=off \
	"$tools/minio" server --quiet --address 127.0.0.1:$port "$tmp/data" >"$tmp/minio.log" 2>&1 &
minio_pid=$!
until curl -sf "http://127.0.0.1:$port/minio/health/live" >/dev/null; do sleep 0.2; done

export MC_CONFIG_DIR=$tmp/mc MC_HOST_b=http://$user:$pass@127.0.0.1:$port
export AWS_ACCESS_KEY_ID=$user AWS_SECRET_ACCESS_KEY=$pass AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port AWS_REGION=us-east-1 CASCTL_PATH_STYLE=true
export XDG_DATA_HOME=$tmp/xdg
"$tools/mc" mb -q b/cas b/mcbench >/dev/null
(cd "$root" && go build -o "$tmp/casctl" ./cmd/casctl)
head -c $((size_mib << 20)) /dev/urandom >"$tmp/file"
digest=$("$tmp/casctl" put --store s3://cas/fixed/ "$tmp/file" | cut -d' ' -f1)
"$tools/mc" cp -q "$tmp/file" b/mcbench/file >/dev/null

# measure CMD...: prints "wall_seconds peak_kib".
measure() { /usr/bin/time -f '%e %M' -o "$tmp/t" "$@" >/dev/null 2>&1; cat "$tmp/t"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

pair() { # name, command A (ours), command B (theirs or "")
	local name=$1 a=$2 b=$3 i
	: >"$tmp/a" ; : >"$tmp/b"; : >"$tmp/r"
	for ((i = 0; i < runs; i++)); do
		read -r wa ma < <(measure bash -c "$a")
		echo "$wa $ma" >>"$tmp/a"
		if [[ -n $b ]]; then
			read -r wb mb < <(measure bash -c "$b")
			echo "$wb $mb" >>"$tmp/b"
			awk -v x="$wa" -v y="$wb" 'BEGIN {print (y > 0 ? x / y : 0)}' >>"$tmp/r"
		fi
	done
	printf '%-16s casctl %6.2fs  peak %4d MiB' "$name" "$(cut -d' ' -f1 "$tmp/a" | median)" $(($(cut -d' ' -f2 "$tmp/a" | sort -n | tail -1) / 1024))
	if [[ -n $b ]]; then
		printf '   mc %6.2fs  peak %4d MiB   ratio (median of pairs) %.2f' "$(cut -d' ' -f1 "$tmp/b" | median)" \
			$(($(cut -d' ' -f2 "$tmp/b" | sort -n | tail -1) / 1024)) "$(median <"$tmp/r")"
	fi
	echo
}

echo "file: $size_mib MiB, $runs runs each, MinIO on loopback"
pair "fresh put" "$tmp/casctl put --store s3://cas/run\$RANDOM\$RANDOM/ $tmp/file" "$tools/mc cp -q $tmp/file b/mcbench/file"
pair "repeated put" "$tmp/casctl put --store s3://cas/fixed/ $tmp/file" "$tools/mc cp -q $tmp/file b/mcbench/file"
pair "get" "$tmp/casctl get --store s3://cas/fixed/ $digest >$tmp/out" "$tools/mc cat b/mcbench/file >$tmp/out"
pair "put from pipe" "cat $tmp/file | $tmp/casctl put --store s3://cas/pipe\$RANDOM\$RANDOM/ -" ""
