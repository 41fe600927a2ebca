#!/usr/bin/env bash
# bench/verify/run.sh — casctl verify against the MinIO client, side by side.
#
# Starts a throwaway MinIO on loopback (the binaries scripts/test installs)
# and fills two stores through casctl put --txn:
#   s3://deep   2 GiB of blobs of mixed sizes, 8 KiB to 100 MiB:
#               12 x 100 MiB, 16 x 25 MiB, 60 x 5 MiB, 200 x 512 KiB, 2000 x 4-44 KiB
#   s3://quick  10,000 small blobs
# then runs, alternately, RUNS times each:
#   deep verify     casctl verify --store s3://deep       vs  mc cp --recursive of the same objects to local disk
#   quick verify    casctl verify --store s3://quick --quick
# printing median wall times, the ratio of each pair and the throughputs.
#
# Usage: bench/verify/run.sh [RUNS (5)]
#        bench/verify/run.sh --hold   set up, print the environment to use, wait until interrupted
#                                     (to time the commands with another tool)
set -euo pipefail
hold=
[[ ${1:-} == --hold ]] && { hold=1; shift; }
runs=${1:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
tools=${CASSTORE_TOOLS:-$HOME/.cache/casstore-tools}/bin
[[ -x $tools/minio && -x $tools/mc ]] || { echo "run scripts/test once first (it installs minio and mc)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "needs GNU time: apt-get install -y time" >&2; exit 2; }

tmp=$(mktemp -d)
minio_pid=
cleanup() {
	if [[ -n $minio_pid ]]; then kill "$minio_pid" 2>/dev/null || true; wait "$minio_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
while :; do port=$((20000 + RANDOM % 20000)); port_open $port || break; done
user=bench$RANDOM pass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass MINIO_BROWSER=off \
	"$tools/minio" server --quiet --address 127.0.0.1:$port "$tmp/data" >"$tmp/minio.log" 2>&1 &
minio_pid=$!
until curl -sf "http://127.0.0.1:$port/minio/health/live" >/dev/null; do sleep 0.2; done

cat >"$tmp/env.sh" <<EOF
export MC_CONFIG_DIR=$tmp/mc MC_HOST_b=http://$user:$pass@127.0.0.1:$port
export AWS_ACCESS_KEY_ID=$user AWS_SECRET_ACCESS_KEY=$pass AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port
export AWS_REGION=us-east-1 CASCTL_PATH_STYLE=true XDG_DATA_HOME=$tmp/xdg
EOF
# shellcheck disable=SC1091
source "$tmp/env.sh"
"$tools/mc" mb -q b/deep b/quick >/dev/null
(cd "$root" && go build -o "$tmp/casctl" ./cmd/casctl)

echo "generating blobs..." >&2
mkdir -p "$tmp/in/deep" "$tmp/in/quick"
gen() { # COUNT SIZE_BYTES PREFIX
	local i
	for ((i = 0; i < $1; i++)); do head -c "$2" /dev/urandom >"$tmp/in/deep/$3-$i"; done
}
gen 12 $((100 << 20)) a
gen 16 $((25 << 20)) b
gen 60 $((5 << 20)) c
gen 200 $((512 << 10)) d
head -c $((50 << 20)) /dev/urandom >"$tmp/small"
off=0
for ((i = 0; i < 2000; i++)); do
	n=$((4 + RANDOM % 41)) # KiB
	dd if="$tmp/small" of="$tmp/in/deep/e-$i" bs=1K skip=$off count=$n status=none
	off=$((off + n))
done
for ((i = 0; i < 10000; i++)); do printf 'quick blob %d\n' $i >"$tmp/in/quick/$i"; done
rm "$tmp/small"
(cd "$tmp/in/deep" && "$tmp/casctl" put --store s3://deep --txn deep -- * >/dev/null)
(cd "$tmp/in/quick" && "$tmp/casctl" put --store s3://quick --txn quick -- * >/dev/null)
bytes=$(du -sb --apparent-size "$tmp/in/deep" | cut -f1)
rm -rf "$tmp/in"
echo "stores ready: deep $(ls "$tmp/data/deep" | wc -l) objects, quick $(ls "$tmp/data/quick" | wc -l) objects" >&2

mkdir -p "$tmp/out"
deep="$tmp/casctl verify --store s3://deep"
mirror="$tools/mc cp --quiet --recursive b/deep/ $tmp/out/"
quick="$tmp/casctl verify --store s3://quick --quick"

if [[ -n $hold ]]; then
	echo "source $tmp/env.sh"
	echo "deep:   $deep"
	echo "mc:     $mirror"
	echo "quick:  $quick"
	echo "holding; interrupt to stop MinIO and clean up" >&2
	while :; do sleep 3600 & wait $!; done
fi

measure() { /usr/bin/time -f '%e %M' -o "$tmp/t" "$@" >/dev/null 2>&1 || true; cat "$tmp/t"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: >"$tmp/a"; : >"$tmp/b"; : >"$tmp/r"; : >"$tmp/q"
for ((i = 0; i < runs; i++)); do
	read -r wa _ < <(measure $deep)
	read -r wb _ < <(measure $mirror)
	read -r wq _ < <(measure $quick)
	echo "$wa" >>"$tmp/a"; echo "$wb" >>"$tmp/b"; echo "$wq" >>"$tmp/q"
	awk -v x="$wa" -v y="$wb" 'BEGIN {print (x > 0 ? y / x : 0)}' >>"$tmp/r"
done
ma=$(median <"$tmp/a") mb=$(median <"$tmp/b")
awk -v b="$bytes" -v a="$ma" -v m="$mb" -v r="$(median <"$tmp/r")" 'BEGIN {
	printf "deep verify  %.2fs  %.0f MiB/s\nmc cp        %.2fs  %.0f MiB/s\nverify throughput / mc throughput (median of pairs): %.2f\n", a, b/a/1048576, m, b/m/1048576, r }'
echo "quick verify of 10,000 blobs: $(median <"$tmp/q")s (median of $runs)"
