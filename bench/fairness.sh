#!/bin/sh
# Fair share of the local executor under saturation.
#
# What it measures: three tenants with fair-share shares 30, 60 and 10 keep
# the coordinator's local executor (--cores 2, a short fair-share half-life)
# saturated with short 1-core central jobs for DURATION seconds. Each tenant
# has a submitter loop that polls GET /v1/jobs with the tenant's member token
# and tops the tenant's queue up to DEPTH queued jobs, so every tenant always
# has work waiting. At the end the queued jobs are cancelled, the running
# ones finish, and the usage ledger (GET /v1/usage: each job's started_at,
# wall_s and core_s) gives the core-seconds delivered to each tenant in
# every window of time: the part of each job's run [started_at, started_at
# + wall_s] that falls in the window, times its cores. The split of the
# delivered core-seconds is compared with the split of the shares over the
# settled part of the run (after the first SETTLE seconds) and printed for
# the whole run and per WINDOW-second window. Goal: over the settled part,
# each tenant's delivered share within +-5 percentage points of its share.
#
# Also printed: the cores' utilisation, cpu_s / core_s per tenant (how much
# of the allocated core time the jobs actually got on a CPU), and what the
# CPU pinning of the running jobs looked like (sampled once a second from
# /proc/PID/status of the coordinator's children: whether two 1-core jobs
# were pinned to the same CPU while the other one had no job).
#
#   bench/fairness.sh [DURATION_S] [SETTLE_S]        (defaults: 240 60)
#
# Environment (optional): GF (the gf binary, default build/gf), HALF_LIFE
# (fair-share half-life in s, default 60), DEPTH (queued jobs kept per
# tenant, default 4), MODEL (default mlp:784-256-128-10), EPOCHS (per job,
# default 3: about 2.5 s of a core), WINDOW (s, default 30), POLL (seconds
# between a submitter's polls, default 0.5), DIR (work folder, default
# build/bench-fairness; kept afterwards: coordinator.log, usage.json, ...).
# EXECUTOR=slurm runs the same against a private real Slurm
# (scripts/slurm-local.sh: one node with 2 CPUs, Slurm's multifactor
# priority with its own fair share; the tenants become Slurm accounts with
# the same shares) and reports Slurm's split; the half-life is then Slurm's
# PriorityDecayHalfLife of that configuration (5 minutes).
# MIX=program mixes program jobs (docs/program-jobs.md; local executor only,
# needs /usr/bin/bwrap) into every tenant's queue: the submitters alternate
# a gf train job and a program job, a /usr/bin/python3 loop in its sandbox
# that spins until it has used PROGRAM_CPU_S (default 2.5) seconds of CPU
# and writes what it did to its output folder. The report then adds, per
# tenant, the core-seconds of each kind and the split of measured CPU time
# (the ledger's cpu_s: the job's cgroup for program jobs, rusage for gf
# train, spread evenly over each job's run), and checks that the
# coordinator's fair-share usage equals the ledger's core_s decayed.
# Exit status 0 when every tenant is within +-5 points over the settled part.
set -eu
cd "$(dirname "$0")/.."
GF=${GF:-build/gf}
DURATION=${1:-240}
SETTLE=${2:-60}
HALF_LIFE=${HALF_LIFE:-60}
DEPTH=${DEPTH:-4}
MODEL=${MODEL:-mlp:784-256-128-10}
EPOCHS=${EPOCHS:-3}
WINDOW=${WINDOW:-30}
POLL=${POLL:-0.5}
EXECUTOR=${EXECUTOR:-local}
MIX=${MIX:-central}
PROGRAM_CPU_S=${PROGRAM_CPU_S:-2.5}
DIR=${DIR:-build/bench-fairness-$EXECUTOR}
CORES=2
TENANTS="t30:30 t60:60 t10:10"

[ -x "$GF" ] || { echo "fairness.sh: $GF missing; run make build/gf first" >&2; exit 1; }
case "$DURATION$SETTLE" in *[!0-9]*|"") echo "usage: bench/fairness.sh [DURATION_S] [SETTLE_S]" >&2; exit 2 ;; esac
[ "$DURATION" -gt "$SETTLE" ] || { echo "fairness.sh: DURATION_S must be larger than SETTLE_S" >&2; exit 2; }
case "$MIX" in
  central) ;;
  program)
    [ "$EXECUTOR" = local ] || { echo "fairness.sh: MIX=program needs EXECUTOR=local (program jobs run on the local executor only)" >&2; exit 2; }
    [ -x /usr/bin/bwrap ] || { echo "fairness.sh: MIX=program needs /usr/bin/bwrap (program jobs' sandbox)" >&2; exit 1; } ;;
  *) echo "fairness.sh: MIX must be central or program, not '$MIX'" >&2; exit 2 ;;
esac

now() { date +%s.%N; }

CO_PID=""
BG_PIDS=""
cleanup() {
  touch "$DIR/stop" 2>/dev/null || true
  for p in $BG_PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $BG_PIDS; do wait "$p" 2>/dev/null || true; done
  BG_PIDS=""
  if [ -n "$CO_PID" ]; then
    # SIGTERM: the coordinator stops its running jobs itself and records them
    kids=$(ps -o pid= --ppid "$CO_PID" 2>/dev/null || true)
    kill -TERM "$CO_PID" 2>/dev/null || true
    i=0
    while kill -0 "$CO_PID" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done
    if kill -0 "$CO_PID" 2>/dev/null; then
      echo "fairness.sh: the coordinator did not stop within 15 s of SIGTERM; killing it and its jobs" >&2
      kill -KILL "$CO_PID" 2>/dev/null || true
      for k in $kids; do kill -KILL -- "-$k" 2>/dev/null || kill -KILL "$k" 2>/dev/null || true; done
    fi
    wait "$CO_PID" 2>/dev/null || true
    CO_PID=""
  fi
  if [ "$EXECUTOR" = slurm ]; then scripts/slurm-local.sh stop "$DIR/slurm" > /dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

rm -rf "$DIR"
mkdir -p "$DIR"
"$GF" provision --out "$DIR/pki" --coordinator 127.0.0.1 --sites s1 > /dev/null
if [ "$EXECUTOR" = slurm ]; then
  scripts/slurm-local.sh start "$DIR/slurm" > "$DIR/slurm.log" 2>&1 || { echo "fairness.sh: Slurm did not start:" >&2; tail -20 "$DIR/slurm.log" >&2; exit 1; }
  . "$DIR/slurm/env.sh"
  set -- --executor slurm --slurm-conf "$SLURM_CONF"
else
  set -- --cores "$CORES" --fairshare-half-life "$HALF_LIFE"
fi
"$GF" coordinator --data "$DIR/data" --listen 127.0.0.1:0 --tls "$DIR/pki" --port-file "$DIR/port" \
    "$@" >> "$DIR/coordinator.log" 2>&1 &
CO_PID=$!
i=0
while [ ! -s "$DIR/port" ]; do
  sleep 0.05; i=$((i+1))
  if [ $i -gt 200 ] || ! kill -0 "$CO_PID" 2>/dev/null; then
    echo "fairness.sh: the coordinator did not start:" >&2; tail -5 "$DIR/coordinator.log" >&2; exit 1
  fi
done
URL=https://127.0.0.1:$(cat "$DIR/port")
CA=$DIR/pki/coordinator/ca.crt
OP=$(cat "$DIR/data/operator.token")

# api TOKEN METHOD PATH [BODY_FILE]: the body on stdout; fails unless 2xx
api() {
  if [ $# -ge 4 ]; then
    curl -sS -f -m 20 --cacert "$CA" -H "Authorization: Bearer $1" -X "$2" \
         -H 'Content-Type: application/json' --data-binary @"$4" "$URL$3"
  else
    curl -sS -f -m 20 --cacert "$CA" -H "Authorization: Bearer $1" -X "$2" "$URL$3"
  fi
}

SHARES=""
for tn in $TENANTS; do
  name=${tn%%:*}; sh=${tn#*:}
  "$GF" tenant add "$name" --shares "$sh" --coordinator "$URL" --ca "$CA" --token "$OP" > /dev/null
  "$GF" token create --tenant "$name" --coordinator "$URL" --ca "$CA" --token "$OP" > "$DIR/token-$name" 2> /dev/null
  cat > "$DIR/job-$name.json" <<SPEC
{"kind": "central", "name": "fair-$name", "model": "$MODEL", "dataset": "fashion-mnist",
 "epochs": $EPOCHS, "batch": 64, "optim": {"name": "adamw", "lr": 0.001}, "seed": 1,
 "resources": {"cores": 1, "gpus": 0, "memory_mb": 2048, "time_limit_s": 600}}
SPEC
  cat > "$DIR/prog-$name.json" <<SPEC
{"kind": "program", "name": "fair-prog-$name", "command": ["/usr/bin/python3", "burn.py", "$PROGRAM_CPU_S"],
 "resources": {"cores": 1, "gpus": 0, "memory_mb": 256, "time_limit_s": 600}}
SPEC
  SHARES="$SHARES${SHARES:+,}$name:$sh"
done
# the program jobs' files: a pure-Python loop that stops after a fixed CPU time
mkdir -p "$DIR/prog"
cat > "$DIR/prog/burn.py" <<'PY'
import json, os, sys, time
limit = float(sys.argv[1])
n, x = 0, 1
while time.process_time() < limit:
    for _ in range(10000):
        x = (x * 1103515245 + 12345) % 2147483648
    n += 1
out = {"cpu_s": time.process_time(), "blocks": n, "x": x}
with open(os.path.join(os.environ["GF_OUTPUT"], "burn.json"), "w") as f:
    json.dump(out, f)
with open(os.environ["GF_METRICS"], "a") as f:
    f.write(json.dumps({"step": n, "cpu_s": out["cpu_s"]}) + "\n")
PY

# submit TENANT TOKEN: one job; with MIX=program every other one is a program job
submit() {
  if [ "$MIX" = program ] && [ $((nsub % 2)) -eq 1 ]; then
    "$GF" submit "$DIR/prog-$1.json" --files "$DIR/prog" --coordinator "$URL" --ca "$CA" --token "$2" > /dev/null
  else
    api "$2" POST /v1/jobs "$DIR/job-$1.json" > /dev/null
  fi
}

# submitter TENANT: keeps DEPTH of the tenant's jobs queued until $DIR/stop exists
submitter() {
  tok=$(cat "$DIR/token-$1")
  nsub=0
  while [ ! -e "$DIR/stop" ]; do
    if api "$tok" GET /v1/jobs > "$DIR/list-$1.json" 2>> "$DIR/submit-errors-$1.log"; then
      q=$(grep -o '"state":"queued"' "$DIR/list-$1.json" | wc -l)
      while [ "$q" -lt "$DEPTH" ] && [ ! -e "$DIR/stop" ]; do
        if submit "$1" "$tok" 2>> "$DIR/submit-errors-$1.log"; then
          echo x >> "$DIR/submitted-$1"
          nsub=$((nsub + 1))
        else
          break
        fi
        q=$((q+1))
      done
    fi
    sleep "$POLL"
  done
}

# monitor: once a second, each running job's pid and the CPUs it may run on
monitor() {
  while [ ! -e "$DIR/stop" ]; do
    t=$(now)
    for p in $(ps -o pid= --ppid "$CO_PID" 2>/dev/null); do
      c=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$p/status" 2>/dev/null || true)
      [ -n "$c" ] && echo "$t $p $c"
    done
    sleep 1
  done >> "$DIR/pinning.log"
}

echo "fairness: tenants $SHARES (shares), $CORES cores, half-life ${HALF_LIFE} s, ${DURATION} s (settled after ${SETTLE} s)"
echo "jobs: $MODEL, $EPOCHS epochs, 1 core each; $DEPTH kept queued per tenant; coordinator $URL, work folder $DIR"
[ "$MIX" = program ] && echo "mix: every other job of each tenant is a program job (python3 loop, ${PROGRAM_CPU_S} s of CPU, 1 core)"
T0=$(now)
for tn in $TENANTS; do
  submitter "${tn%%:*}" &
  BG_PIDS="$BG_PIDS $!"
done
: > "$DIR/pinning.log"
monitor &
BG_PIDS="$BG_PIDS $!"

elapsed() { awk -v a="$(now)" -v b="$T0" 'BEGIN { printf "%d\n", a - b }'; }
next=30
while :; do
  e=$(elapsed)
  [ "$e" -ge "$DURATION" ] && break
  if [ "$e" -ge "$next" ]; then
    api "$OP" GET /v1/usage 2>/dev/null | python3 -c '
import json, sys
t = {x["tenant"]: x for x in json.load(sys.stdin)["totals"]}
print("  t=%4s s  finished jobs / core-s so far: %s" % (sys.argv[1], "  ".join(
    "%s %d / %.0f" % (k, t[k]["jobs"], t[k]["core_s"]) for k in sorted(t))))' "$e" || true
    next=$((next + 30))
  fi
  sleep 1
done
TEND=$(now)

# stop: no more submissions; cancel what is queued; let the running jobs end
touch "$DIR/stop"
for p in $BG_PIDS; do wait "$p" 2>/dev/null || true; done
BG_PIDS=""
i=0
while :; do
  api "$OP" GET /v1/jobs > "$DIR/jobs.json"
  left=$(python3 - "$DIR/jobs.json" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
q = [j["id"] for j in jobs if j["state"] == "queued"]
r = [j["id"] for j in jobs if j["state"] == "running"]
print(len(q) + len(r), " ".join(map(str, q)))
PY
)
  set -- $left
  [ "$1" -eq 0 ] && break
  shift
  for id in "$@"; do api "$OP" POST "/v1/jobs/$id/cancel" > /dev/null 2>&1 || true; done
  i=$((i+1))
  [ $i -gt 240 ] && { echo "fairness.sh: jobs still queued or running 120 s after the end:" >&2; cat "$DIR/jobs.json" >&2; exit 1; }
  sleep 0.5
done
api "$OP" GET /v1/usage > "$DIR/usage.json"
api "$OP" GET /v1/fairshare > "$DIR/fairshare.json"
TFS=$(now)
api "$OP" GET /v1/jobs > "$DIR/jobs.json"
for tn in $TENANTS; do
  n=$(wc -l < "$DIR/submitted-${tn%%:*}" 2>/dev/null || echo 0)
  e=$(cat "$DIR/submit-errors-${tn%%:*}.log" 2>/dev/null | wc -l)
  if [ "$e" -gt 0 ]; then e=", $e error lines in $DIR/submit-errors-${tn%%:*}.log"; else e=""; fi
  echo "  ${tn%%:*}: $n jobs submitted$e"
done

python3 - "$DIR" "$T0" "$TEND" "$SETTLE" "$WINDOW" "$CORES" "$SHARES" "$EXECUTOR" "$HALF_LIFE" "$TFS" <<'PY'
import datetime, json, sys
d, t0, tend, settle, window, cores, shares = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), \
    float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
executor, half_life, tfs = sys.argv[8], float(sys.argv[9]), float(sys.argv[10])
shares = [(x.split(":")[0], int(x.split(":")[1])) for x in shares.split(",")]
names = [n for n, _ in shares]
total_sh = sum(s for _, s in shares)

def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()

usage = json.load(open(d + "/usage.json"))
runs = []          # (tenant, start, end, cores, core_s, cpu_s, ended_at - started_at - wall_s, kind, ended_at)
for e in usage["entries"]:
    if e["kind"] not in ("central", "program") or not e["started_at"] or e["wall_s"] <= 0:
        continue
    s = ts(e["started_at"])
    c = e["core_s"] / e["wall_s"]
    runs.append((e["tenant"], s, s + e["wall_s"], c, e["core_s"], e["cpu_s"], ts(e["ended_at"]) - s - e["wall_s"],
                 e["kind"], ts(e["ended_at"])))
kinds = sorted(set(x[7] for x in runs))

def delivered(a, b, cpu=False):
    """core-s (or with cpu, CPU-s spread evenly over each run) in [a, b] per tenant"""
    out = {n: 0.0 for n in names}
    for t, s, e, c, core_s, cpu_s, *_ in runs:
        ov = min(e, b) - max(s, a)
        if ov > 0 and t in out:
            out[t] += (cpu_s / (e - s) if cpu else c) * ov
    return out

def table(title, a, b, cpu=False):
    dl = delivered(a, b, cpu)
    tot = sum(dl.values())
    cap = cores * (b - a)
    what = "CPU-s" if cpu else "core-s"
    print("\n%s: %.0f..%.0f s, %.1f %s %s of %.1f core-s (%.1f %%)"
          % (title, a - t0, b - t0, tot, what, "used" if cpu else "delivered", cap, 100 * tot / cap if cap else 0))
    print("| tenant | shares %% | %s %s | %s %% | difference (points) | ratio to share | within +-5 |"
          % ("used" if cpu else "delivered", what, "used" if cpu else "delivered"))
    print("|---|---|---|---|---|---|---|")
    ok = True
    for n, sh in shares:
        want = 100.0 * sh / total_sh
        got = 100.0 * dl[n] / tot if tot else 0.0
        within = abs(got - want) <= 5.0
        ok = ok and within
        print("| %s | %.1f | %.1f | %.1f | %+.1f | %.2f | %s |" % (n, want, dl[n], got, got - want, got / want,
                                                                 "yes" if within else "NO"))
    return ok

ok = table("settled part", t0 + settle, tend)
table("whole run", t0, tend)
if "program" in kinds:
    print("\nmeasured CPU time (ledger cpu_s: cgroup for program jobs, rusage for gf train; spread evenly over each run)")
    ok_cpu = table("settled part, CPU time", t0 + settle, tend, cpu=True)
    print("every tenant's CPU time within +-5 points over the settled part: %s" % ("yes" if ok_cpu else "NO"))

print("\nper %.0f s window (delivered %% of the window's core-s; utilisation):" % window)
print("| window (s) | " + " | ".join(names) + " | utilisation % |")
print("|---|" + "---|" * len(names) + "---|")
a = t0
while a < tend - 1.0:                    # no row for the last fraction of a second
    b = min(a + window, tend)
    dl = delivered(a, b)
    tot = sum(dl.values())
    print("| %3.0f-%3.0f | " % (a - t0, b - t0) + " | ".join("%.1f" % (100 * dl[n] / tot if tot else 0) for n in names)
          + " | %.1f |" % (100 * tot / (cores * (b - a))))
    a = b

print("\nledger: per tenant and kind (all jobs, including the part after the end):")
print("| tenant | kind | jobs | mean wall s | core_s | cpu_s | cpu_s / core_s |")
print("|---|---|---|---|---|---|---|")
for n in names:
    for k in kinds + (["all"] if len(kinds) > 1 else []):
        r = [x for x in runs if x[0] == n and (k == "all" or x[7] == k)]
        cs, cpu = sum(x[4] for x in r), sum(x[5] for x in r)
        print("| %s | %s | %d | %.2f | %.1f | %.1f | %.2f |" % (n, k, len(r),
              sum(x[2] - x[1] for x in r) / len(r) if r else 0, cs, cpu, cpu / cs if cs else 0))
gap = [x[6] for x in runs]
if gap:
    print("ledger check, ended_at - started_at - wall_s over the jobs: min %.3f s, mean %.3f s, max %.3f s"
          % (min(gap), sum(gap) / len(gap), max(gap)))
tot = {x["tenant"]: x["core_s"] for x in usage["totals"]}
for n in names:
    s = sum(x[4] for x in runs if x[0] == n)
    if abs(tot.get(n, 0) - s) > 1e-6 * max(1, s):
        print("ledger: %s's total core_s %.3f differs from the sum of its entries %.3f" % (n, tot.get(n, 0), s))

# pinning samples: time -> list of CPU lists of the running jobs
samples = {}
for line in open(d + "/pinning.log"):
    p = line.split()
    if len(p) == 3:
        samples.setdefault(p[0], []).append(p[2])
two = [v for v in samples.values() if len(v) == cores]
same = [v for v in two if len(set(v)) == 1]
print("\npinning: %d samples; %d with %d jobs running; in %d of those (%.1f %%) both jobs were pinned to the same CPU (%s)"
      % (len(samples), len(two), cores, len(same), 100.0 * len(same) / len(two) if two else 0,
         ", ".join(sorted(set(v[0] for v in same))) or "-"))

fs = json.load(open(d + "/fairshare.json"))
print("fair-share tree at the end: " + "; ".join("%s shares %s usage %.1f core-s fairshare %.3f"
      % (x["tenant"], x["shares"], x["usage_core_s"], x["fairshare"]) for x in fs["tenants"]))
if executor == "local":
    # what the scheduler charged: every finished job's core_s, decayed from its end to the
    # scheduler's last pass (within 0.25 s before the fetch at tfs)
    print("fair-share usage against the ledger (sum of core_s x 2^-(t - ended)/half-life), per kind:")
    for x in fs["tenants"]:
        n = x["tenant"]
        part = {k: sum(r[4] * 2 ** (-(tfs - r[8]) / half_life) for r in runs if r[0] == n and r[7] == k)
                for k in kinds}
        want = sum(part.values())
        print("  %s: fair-share %.2f, ledger %.2f (%s), difference %+.2f %%" % (n, x["usage_core_s"], want,
              ", ".join("%s %.2f" % kv for kv in part.items()), 100 * (x["usage_core_s"] - want) / want if want else 0))
print("\nresult: every tenant within +-5 points over the settled part: %s" % ("yes" if ok else "NO"))
sys.exit(0 if ok else 1)
PY
