#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this).
#
#   scripts/test.sh
#
# Installs what it needs (Python tools into .venv), then runs: rustfmt and
# clippy checks; the FarmHash reference vectors regenerated with Google's C++
# code and compared with the committed ones; cargo test (unit tests,
# sql/*.slt, integration tests, fuzzers); the S3 integration tests (with the
# fault-injection run through a proxy in the test code) against a local
# moto server and the Azure tests against a local Azurite server (npm), which
# it starts and stops; and the Python package (python/), built into .venv
# with maturin and tested with pytest.
#
# Compiled crates go to $CARGO_TARGET_DIR (default ~/.cache/mlfusion/target),
# shared by every checkout, so only the first run builds DataFusion.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mlfusion/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

step "python tools (.venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements-test.txt

step "rustfmt"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "layering: the models crate has no DataFusion dependency; no table function imports another's module"
if cargo tree -p mlfusion-models -e normal,build,dev --prefix none | grep -i '^datafusion'; then
    echo "mlfusion-models depends on DataFusion (above)"; exit 1
fi
# A function module may use functions/common, its group's shared module
# (training/shared.rs, validation/anomalies.rs) and the layers below, never
# another function's module.
if grep -rnE 'crate::functions::(split|training|inference|validation|registry)|^use super::(train|tune|predict|evaluate|confusion_matrix|roc_curve|describe|drift|skew|schema|models|deploy)\b' src/functions; then
    echo "a table function imports another's module (above)"; exit 1
fi
echo "ok"

step "FarmHash reference vectors regenerate identically from Google's C++ FarmHash"
tmp=$(mktemp -d)
moto_pid=""
azurite_pid=""
# Stops a server: SIGTERM, then SIGKILL if it is still there after 10 s
# (Azurite once ignored SIGTERM, and the run waited on it for minutes).
stop() {
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.2
    done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    for pid in $moto_pid $azurite_pid; do
        stop "$pid"
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
.venv/bin/python scripts/gen_farmhash_vectors.py "$tmp/vectors.tsv" >/dev/null
cmp "$tmp/vectors.tsv" udfs/tests/data/farmhash_vectors.tsv
echo "identical: udfs/tests/data/farmhash_vectors.tsv"

# Every cargo command here selects the whole workspace, so that all of them
# share one set of crate features (the python crate adds some to arrow) and
# DataFusion is compiled once for them (and once more for the extension).
step "cargo test (unit, sql/*.slt, integration)"
cargo test --workspace 2>&1 | tee "$tmp/cargo-test.log"

step "S3 integration tests against a local moto server"
port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
moto_pid=$!
endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/')" 2>/dev/null; then
        break
    fi
    sleep 0.2
done
bucket=mlfusion-test
.venv/bin/python -c "import urllib.request; urllib.request.urlopen(urllib.request.Request('$endpoint/$bucket', method='PUT'))"
MLFUSION_TEST_S3_ENDPOINT="$endpoint" MLFUSION_TEST_S3_BUCKET="$bucket" \
    cargo test --workspace --test s3 --test ballista --test faults -- --ignored --nocapture 2>&1 | tee -a "$tmp/cargo-test.log"

step "Azure integration tests against a local Azurite server"
[ -x .tools/node_modules/.bin/azurite-blob ] ||
    npm install --prefix .tools --no-audit --no-fund --silent azurite@3.37.0
free_port() { .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
az_port=$(free_port)
.tools/node_modules/.bin/azurite-blob --blobHost 127.0.0.1 --blobPort "$az_port" \
    --inMemoryPersistence --skipApiVersionCheck >"$tmp/azurite.log" 2>&1 &
azurite_pid=$!
az_url="http://127.0.0.1:$az_port"
container=mlfusion-test
.venv/bin/python - "$az_url" "$container" <<'PY'
import sys, time
from azure.storage.blob import BlobServiceClient
url, container = sys.argv[1], sys.argv[2]
key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
conn = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};BlobEndpoint={url}/devstoreaccount1;"
for attempt in range(100):
    try:
        BlobServiceClient.from_connection_string(conn, retry_total=0).create_container(container)
        break
    except Exception:
        if attempt == 99:
            raise
        time.sleep(0.2)
PY
MLFUSION_TEST_AZURITE_URL="$az_url" MLFUSION_TEST_AZURE_CONTAINER="$container" \
    cargo test --workspace --test azure -- --ignored 2>&1 | tee -a "$tmp/cargo-test.log"

step "Python package: the extension built into .venv (maturin develop), then pytest"
(cd python && VIRTUAL_ENV="$PWD/../.venv" ../.venv/bin/maturin develop --quiet)
# The Ballista tests start a cluster from the binary cargo test built.
MLFUSION_BIN="$CARGO_TARGET_DIR/debug/mlfusion" \
    .venv/bin/python -m pytest -q -p no:cacheprovider python/tests 2>&1 | tee "$tmp/pytest.log"

# One closing line over every test run above: cargo's "test result:" lines,
# and pytest's last line ("7 passed, 1 failed, 2 errors in 3s").
cargo_counts=$(awk '/^test result:/ { p += $4; f += $6 } END { print p + 0, f + 0 }' "$tmp/cargo-test.log")
pytest_counts=$(tail -n 1 "$tmp/pytest.log" | awk '{ for (i = 2; i <= NF; i++) {
    if ($i ~ /^passed/) p += $(i - 1); if ($i ~ /^(failed|errors?)/) f += $(i - 1) } }
    END { print p + 0, f + 0 }')
read -r cargo_passed cargo_failed <<<"$cargo_counts"
read -r pytest_passed pytest_failed <<<"$pytest_counts"
echo "summary: $((cargo_passed + pytest_passed)) passed, $((cargo_failed + pytest_failed)) failed"
