#!/bin/sh
# Cost of secure aggregation against plain aggregation (build/bench/secagg_cost,
# source bench/secagg_cost.c): per-site and coordinator CPU per phase, bytes
# per site, and a modelled round wall time, for n in {10, 100, 500} sites,
# d in {1e5, 1e6} and dropout 0 %, 10 % after ShareKeys (the server must
# remove the dropped sites' pairwise masks) and 10 % after the masked upload.
# Every configuration checks the secure sum bit for bit against the plain
# uint32 sum of the survivors' quantised inputs and stops on a difference.
# Sites and server run in one process, one after the other; each site's calls
# use one thread, the server's heavy calls COORD_THREADS threads (default:
# all cores). The wall time assumes the sites run in parallel on their own
# machines, at SITE_GBPS per site link and COORD_GBPS at the coordinator,
# with RTT_MS per request/response exchange.
#   bench/secagg_cost.sh                      the full set (about 2.5 minutes on 2 vCPUs)
#   bench/secagg_cost.sh --n 100 --d 1e6 --drop 10    one configuration
# Arguments replace the defaults below (see build/bench/secagg_cost's usage).
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bench/secagg_cost}
[ -x "$BIN" ] || { echo "secagg_cost.sh: $BIN missing; run make build/bench/secagg_cost first" >&2; exit 1; }
SITE_GBPS=${SITE_GBPS:-1}
COORD_GBPS=${COORD_GBPS:-10}
RTT_MS=${RTT_MS:-0}
COORD_THREADS=${COORD_THREADS:-$(nproc)}
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(sed -n 's/^model name[ \t]*: //p' /proc/cpuinfo | head -1))," \
     "libsodium $(pkg-config --modversion libsodium 2>/dev/null || echo '?')"
if [ $# -eq 0 ]; then
  set -- --n 10,100,500 --d 1e5,1e6 --drop 0,10,10u
fi
exec "$BIN" --site-gbps "$SITE_GBPS" --coord-gbps "$COORD_GBPS" --rtt-ms "$RTT_MS" --coord-threads "$COORD_THREADS" "$@"
