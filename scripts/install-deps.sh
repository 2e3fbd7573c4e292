#!/bin/sh
# Installs the Debian packages that building, testing and the demo need.
# Idempotent: installs only what is missing. As non-root, prints the exact
# apt-get line and stops. Usage: scripts/install-deps.sh [build|test|bench]
set -eu

# build: compiler, BLAS (OpenMP flavour: one thread pool for BLAS and our loops),
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
  test)  PKGS="$PKGS clang libclang-rt-14-dev gnutls-bin python3 slurm-wlm slurmctld slurmd slurmdbd slurm-client munge mariadb-server chromium chromium-driver python3-selenium" ;;
  bench) PKGS="$PKGS python3-torch python3-numpy wrk" ;;   # PyTorch peer and reference scripts; HTTP load
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
