#!/bin/sh
# Installs the Debian packages that building, testing and the demo need.
# Idempotent: installs only what is missing. As non-root, prints the exact
# apt-get line and stops. Usage: scripts/install-deps.sh [build|test|bench]
set -eu

# build: compiler, BLAS (OpenMP flavour: one thread pool for BLAS and our loops;
# the engine loads it by path, src/engine/blas_select.c),
# zlib (gzipped IDX), jansson (JSON), GnuTLS (the one TLS stack: certificates,
# mutual TLS 1.3), libmicrohttpd (HTTPS server, built on GnuTLS), libcurl's
# GnuTLS flavour (HTTPS client), SQLite (the coordinator's store), libsodium
# (X25519, ChaCha20 and AEAD for secure aggregation), Fashion-MNIST, Chart.js
# (the dashboard's plots, served by the coordinator).
PKGS="build-essential pkg-config libopenblas-openmp-dev zlib1g-dev libjansson-dev libgnutls28-dev libmicrohttpd-dev libcurl4-gnutls-dev libsqlite3-dev libsodium-dev dataset-fashion-mnist libjs-chart.js"
case "${1:-build}" in
  # ASan/UBSan/libFuzzer runtime; certtool; JSON checks in test scripts;
  # a real single-node Slurm with accounting (munge, MariaDB, slurmdbd) for the
  # Slurm executor's tests; headless Chromium and Selenium for the dashboard's.
  # libopenblas0-pthread: the BLAS tests also cover both OpenBLAS builds installed.
  test)  PKGS="$PKGS libopenblas0-pthread clang libclang-rt-14-dev gnutls-bin python3 slurm-wlm slurmctld slurmd slurmdbd slurm-client munge mariadb-server chromium chromium-driver python3-selenium" ;;
  # PyTorch peer and reference scripts; HTTP load; OpenBLAS's pthreads build,
  # which Debian's alternatives then prefer for libopenblas.so.0 (as
  # python3-numpy/python3-torch may install it): the engine must still run
  # the OpenMP build (bench/blas_autoselect.sh, tests/test_blas_select.c).
  bench) PKGS="$PKGS python3-torch python3-numpy wrk libopenblas0-pthread" ;;
esac

missing=""
for p in $PKGS; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "missing packages; run as root:" >&2
  echo "  apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
