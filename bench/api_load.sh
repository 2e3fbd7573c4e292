#!/bin/sh
# API load against a running federation: how many requests per second the
# coordinator serves on its job routes, at what latency, and what that load
# costs the rounds of a federated job running meanwhile.
#
# What it measures: a coordinator and 2 gf site processes over TLS on
# 127.0.0.1 run a federated job that does almost no training (mlp:784-32-10,
# FedAvg, local steps 1, batch 32, up to 1e6 rounds: each round is a few
# milliseconds of long-poll wake-up, model download, update upload and
# aggregation). Five jobs of that same shape run one after the other, each
# cancelled at the end of its window, so that every window under load has a
# window without load on either side (the machine's other work drifts):
#   1. no load, QUIET_S seconds;
#   2. wrk against GET /v1/jobs for LOAD_S seconds;
#   3. no load, QUIET_S seconds;
#   4. wrk against GET /v1/jobs/ID of this (running) job for LOAD_S seconds;
#   5. no load, QUIET_S seconds.
# wrk: --latency, THREADS threads, CONNS connections, an operator API token
# as Bearer (wrk does not verify the certificate). Each job is started
# before its window and runs 3 rounds before the window opens.
# Reported: requests/s and latency percentiles of each wrk run (and any
# non-2xx answers or socket errors) and the size of the answers; for each
# window the federated job's rounds that opened and closed inside it: their
# count and mean duration_s (GET /v1/jobs/ID rounds[]: a round's opening to
# its close; before the recorder thread, bdec054, to its checkpoint written,
# so older figures are larger by the checkpoint's write); for each load window the ratio of its mean round to the
# mean of the two windows without load beside it (the rounds of both
# pooled); and the CPU use in each window: the coordinator, the two sites,
# wrk, and the whole machine (both CPUs; anything else running counts too).
# Goal: rounds under load at most 10 % slower (ratio <= 1.10).
#
#   bench/api_load.sh [LOAD_S] [QUIET_S]        (defaults: 20 20)
#
# Environment (optional): GF (the gf binary, default build/gf), CONNS (wrk
# connections, default 4), THREADS (wrk threads, default 1), DELAY_MS (each
# wrk connection waits this long between its requests, through a wrk Lua
# script: a paced load such as dashboards polling instead of a saturating
# one; default 0 = as fast as the coordinator answers), STATUS_QUERY (appended
# to the status route, e.g. "?rounds_limit=10": what a poller that has the
# older rounds asks for; default none: the last 1000 rounds).
# Exit status 0 when both wrk windows meet the goal.
set -eu
cd "$(dirname "$0")/.."
GF=${GF:-build/gf}
LOAD_S=${1:-20}
QUIET_S=${2:-20}
CONNS=${CONNS:-4}
THREADS=${THREADS:-1}
[ -x "$GF" ] || { echo "api_load.sh: $GF missing; run make build/gf first" >&2; exit 1; }
command -v wrk > /dev/null || { echo "api_load.sh: wrk is not installed" >&2; exit 1; }
case "$LOAD_S$QUIET_S$CONNS$THREADS" in *[!0-9]*) echo "usage: bench/api_load.sh [LOAD_S] [QUIET_S]" >&2; exit 2 ;; esac
. tests/cli_lib.sh
. scripts/fed_local.sh
DIR=$TMP
WRK_PID=""
cleanup() {
  [ -n "$WRK_PID" ] && { kill "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; }
  fed_down
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

now() { date +%s.%N; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
machine() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat; }

small_idx "$DIR/d" 3000 500
fed_provision "$DIR" 2
fed_coordinator "$DIR" --quiet || exit 1
for i in 0 1; do
  fed_site "$DIR" s$i --data "idx:$DIR/d" --partition iid --shard $i/2 --val-fraction 0 --threads 1 --quiet
done
OP=$(cat "$DIR/data/operator.token")
CA=$DIR/pki/coordinator/ca.crt
URL=${FED_URL%/}
get() { curl -sS -f -m 30 --cacert "$CA" -H "Authorization: Bearer $OP" "$URL$1"; }

cat > "$DIR/job.json" <<SPEC
{"name": "api-load", "model": "mlp:784-32-10", "dataset": "fashion-mnist", "strategy": {"name": "fedavg"},
 "rounds": 1000000, "sites": "all", "fraction": 1.0, "min_sites": 2, "round_deadline_s": 60,
 "local": {"epochs": 1, "steps": 1, "batch": 32, "optim": {"name": "sgd", "lr": 0.05}}, "seed": 1}
SPEC

# start_job: submits the job, waits for its 3rd round; prints the id
start_job() {
  id=$("$GF" submit "$DIR/job.json" --coordinator "$URL" --ca "$CA" --token "$OP")
  t=0
  until [ "$(get "/v1/jobs/$id" | python3 -c 'import json, sys; print(json.load(sys.stdin)["round"])')" -ge 3 ]; do
    sleep 0.2; t=$((t+1))
    [ $t -gt 300 ] && { echo "api_load.sh: job $id has not completed 3 rounds in 60 s" >&2; tail -5 "$DIR"/site-*.log >&2; exit 1; }
  done
  echo "$id"
}
stop_job() { "$GF" cancel "$1" --coordinator "$URL" --ca "$CA" --token "$OP" > /dev/null; }

# mark WINDOW EDGE: time and CPU ticks (coordinator, sites, machine busy and total) at a window's edge
mark() {
  echo "$1 $2 $(now) $(ticks "$FED_CO_PID") $(( $(ticks "$FED_SITE_PID_s0") + $(ticks "$FED_SITE_PID_s1") )) $(machine)" \
    >> "$DIR/windows"
}

# wrk_run WINDOW PATH: LOAD_S seconds of wrk; output in $DIR/wrk-WINDOW.txt, its CPU ticks in $DIR/wrk-WINDOW.ticks
wrk_run() {
  pace=""
  if [ "${DELAY_MS:-0}" -gt 0 ]; then
    printf 'function delay()\n  return %d\nend\n' "$DELAY_MS" > "$DIR/pace.lua"
    pace="-s $DIR/pace.lua"
  fi
  # shellcheck disable=SC2086  # $pace: empty or two words
  wrk -t "$THREADS" -c "$CONNS" -d "${LOAD_S}s" --timeout 10s --latency $pace \
      -H "Authorization: Bearer $OP" "$URL$2" > "$DIR/wrk-$1.txt" 2>&1 &
  WRK_PID=$!
  w=0
  while kill -0 "$WRK_PID" 2>/dev/null; do
    t=$(ticks "$WRK_PID"); [ "$t" -gt 0 ] && w=$t
    sleep 0.25
  done
  echo "$w" > "$DIR/wrk-$1.ticks"
  wait "$WRK_PID" || { echo "api_load.sh: wrk failed:" >&2; cat "$DIR/wrk-$1.txt" >&2; exit 1; }
  WRK_PID=""
}

# quiet WINDOW: a job for QUIET_S seconds without load
quiet() {
  id=$(start_job)
  echo "$1 $id" >> "$DIR/jobs"
  mark "$1" begin; sleep "$QUIET_S"; mark "$1" end
  stop_job "$id"
  echo "  $1: job $id, ${QUIET_S} s without load"
}

# loaded WINDOW PATH: a job for LOAD_S seconds of wrk on PATH (JOB in it: this job's id)
loaded() {
  id=$(start_job)
  echo "$1 $id" >> "$DIR/jobs"
  path=$(echo "$2" | sed "s/JOB/$id/")
  get "$path" | wc -c > "$DIR/size-$1.begin"
  mark "$1" begin; wrk_run "$1" "$path"; mark "$1" end
  get "$path" | wc -c > "$DIR/size-$1.end"
  stop_job "$id"
  echo "$path" > "$DIR/path-$1"
  echo "  $1: job $id, ${LOAD_S} s of wrk on GET $path"
}

: > "$DIR/windows"
: > "$DIR/jobs"
echo "api load: coordinator and 2 sites on 127.0.0.1 (TLS); wrk $THREADS thread(s), $CONNS connections, ${LOAD_S} s per route"
quiet q1
loaded list /v1/jobs
quiet q2
loaded job "/v1/jobs/JOB${STATUS_QUERY:-}"
quiet q3
while read -r w id; do get "/v1/jobs/$id?rounds_limit=1000000000" > "$DIR/job-$w.json"; done < "$DIR/jobs"   # every round

python3 - "$DIR" "$(getconf CLK_TCK)" "$CONNS" "$THREADS" <<'PY'
import datetime, json, re, statistics, sys
d, hz, conns, threads = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]

def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()

edges = {}
for line in open(d + "/windows"):
    w, edge, *v = line.split()
    edges[(w, edge)] = [float(x) for x in v]
jobs = dict(line.split() for line in open(d + "/jobs"))

def window(w):
    (a, co0, si0, mb0, mt0), (b, co1, si1, mb1, mt1) = edges[(w, "begin")], edges[(w, "end")]
    r = [x for x in json.load(open("%s/job-%s.json" % (d, w)))["rounds"]
         if ts(x["started_at"]) >= a and ts(x["closed_at"]) <= b]
    dur = sorted(1000 * x["duration_s"] for x in r)
    try:
        wrk_cpu = 100 * float(open("%s/wrk-%s.ticks" % (d, w)).read()) / hz / (b - a)
    except OSError:
        wrk_cpu = 0.0
    return {"job": jobs[w], "s": b - a, "n": len(r), "dur": dur,
            "mean": statistics.mean(dur) if dur else float("nan"),
            "median": statistics.median(dur) if dur else float("nan"),
            "p99": dur[min(len(dur) - 1, int(0.99 * len(dur)))] if dur else float("nan"),
            "co": 100 * (co1 - co0) / hz / (b - a), "sites": 100 * (si1 - si0) / hz / (b - a), "wrk": wrk_cpu,
            "machine": 100 * (mb1 - mb0) / (mt1 - mt0) if mt1 > mt0 else float("nan")}

def wrk(w):
    t = open("%s/wrk-%s.txt" % (d, w)).read()
    def ms(v):
        m = re.match(r"([\d.]+)(us|ms|s)$", v)
        return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
    out = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)),
           "n": int(re.search(r"(\d+) requests in", t).group(1))}
    for p in ("50", "90", "99"):
        out["p" + p] = ms(re.search(r"^\s+%s%%\s+(\S+)" % p, t, re.M).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    out["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", t)
    out["sockerr"] = m.group(1).strip() if m else "none"
    out["path"] = open("%s/path-%s" % (d, w)).read().strip()
    out["size"] = (int(open("%s/size-%s.begin" % (d, w)).read()), int(open("%s/size-%s.end" % (d, w)).read()))
    return out

W = {w: window(w) for w in ("q1", "list", "q2", "job", "q3")}
print("\nwrk (%s thread(s), %s connections, operator token):" % (threads, conns))
print("| route | requests | requests/s | p50 ms | p90 ms | p99 ms | non-2xx | socket errors | answer size (begin / end) |")
print("|---|---|---|---|---|---|---|---|---|")
for w in ("list", "job"):
    x = wrk(w)
    print("| GET %s%s | %d | %.0f | %.2f | %.2f | %.2f | %d | %s | %d B / %d B |"
          % (x["path"], " (the running job)" if w == "job" else "", x["n"], x["rps"], x["p50"], x["p90"], x["p99"],
             x["non2xx"], x["sockerr"], x["size"][0], x["size"][1]))

print("\nfederated job rounds (2 sites, mlp:784-32-10, local steps 1); rounds opened and closed in the window;"
      "\nCPU in % of one CPU, the machine's in % of both:")
print("| window | job | s | rounds | rounds/s | mean round ms | median ms | p99 ms | mean / no-load beside it "
      "| coordinator CPU | sites CPU | wrk CPU | machine busy |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
ok = True
names = {"q1": "no load", "list": "wrk GET /v1/jobs", "q2": "no load", "job": "wrk GET /v1/jobs/ID", "q3": "no load"}
near = {"list": ("q1", "q2"), "job": ("q2", "q3")}
for w in ("q1", "list", "q2", "job", "q3"):
    x = W[w]
    ratio = ""
    if w in near:
        base = statistics.mean(W[near[w][0]]["dur"] + W[near[w][1]]["dur"])
        r = x["mean"] / base
        ok = ok and r <= 1.10
        ratio = "%.3f (%.2f ms)" % (r, base)
    print("| %s | %s | %.1f | %d | %.1f | %.2f | %.2f | %.2f | %s | %.0f | %.0f | %.0f | %.0f |"
          % (names[w], x["job"], x["s"], x["n"], x["n"] / x["s"], x["mean"], x["median"], x["p99"], ratio,
             x["co"], x["sites"], x["wrk"], x["machine"]))
q = W["q1"]["dur"] + W["q2"]["dur"] + W["q3"]["dur"]
print("\nno-load mean round over the three quiet windows: %.2f ms (window means %s ms)"
      % (statistics.mean(q), " / ".join("%.2f" % W[w]["mean"] for w in ("q1", "q2", "q3"))))
print("result: rounds under load within 10 %% of the no-load rounds beside them: %s" % ("yes" if ok else "NO"))
sys.exit(0 if ok else 1)
PY
