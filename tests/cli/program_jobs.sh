# Program jobs ("kind": "program", src/jobspec/jobspec_program.h) on the
# local executor, in their bubblewrap sandbox (src/facility/sandbox.h), with
# real processes: a Python program sent as a bundle (gf submit --files)
# succeeds, its metrics lines show in gf status and its outputs download;
# from inside, it cannot read the coordinator's store, keys or another
# tenant's job folder or dataset, cannot write outside its folder, sees only
# its own processes, none of the coordinator's environment, and no network
# but its own loopback (each probe would succeed without the sandbox). A
# memory hog ends "out of memory", a fork bomb stops at the pids limit while
# the coordinator answers, a missing command fails saying so, a time limit
# ends the job. Bad bundles and specs get 400 and create nothing.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ] || [ ! -x /usr/bin/bwrap ]; then
  echo "SKIP: program jobs' isolation is tested as root with /usr/bin/bwrap (per-tenant uids, cgroups)"; exit 0
fi

fed_provision "$TMP" 1
export GF_PROBE_CANARY=canary-7f3a      # in the coordinator's environment; no job may see it
fed_coordinator "$TMP" --cores 2 --gpus 0 --max-bundle-mb 1 || { fail "coordinator start"; finish; exit 1; }
unset GF_PROBE_CANARY
URL=${FED_URL%/}
CA="$TMP/pki/coordinator/ca.crt"
export GF_COORDINATOR="$URL" GF_CA="$CA"
unset GF_KIT GF_TOKEN
OP=$(cat "$TMP/data/operator.token")
"$GF" tenant add acme --shares 10 --token "$OP" > /dev/null || fail "tenant acme"
"$GF" tenant add beta --shares 10 --token "$OP" > /dev/null || fail "tenant beta"
TA=$("$GF" token create --tenant acme --token "$OP")
TB=$("$GF" token create --tenant beta --token "$OP")
ACME_ID=$("$GF" tenant list --token "$OP" --json 2>/dev/null | jget '[t["id"] for t in (d["tenants"] if isinstance(d, dict) else d) if t["name"]=="acme"][0]' 2>/dev/null)

# beta's own dataset (readable on the host, granted to beta only)
small_idx "$TMP/regb" 20 10
chmod 755 "$TMP" "$TMP/regb"; chmod 644 "$TMP/regb"/*
"$GF" dataset add betadata --path "$TMP/regb" --tenant beta --token "$OP" > /dev/null || fail "dataset add"

api() {  # api METHOD PATH TOKEN [BODY-FILE]: "STATUS" then the body
  curl -s --path-as-is -o "$TMP/resp" -w '%{http_code}\n' --cacert "$CA" -X "$1" -H "Authorization: Bearer $3" \
       ${4:+--data-binary "@$4"} "$URL$2"
  cat "$TMP/resp"; echo
}
njobs() { api GET /v1/jobs "$OP" | sed 1d | jget 'len(d["jobs"])'; }
wait_end() {  # wait_end ID TOKEN SECONDS: the final state
  _t=0
  while [ $_t -lt $(($3 * 10)) ]; do
    _s=$("$GF" status "$1" --token "$2" --json | jget 'd["state"]')
    case "$_s" in succeeded|failed|cancelled|timed-out) echo "$_s"; return 0 ;; esac
    sleep 0.1; _t=$((_t+1))
  done
  echo "$_s"
}
reason() { "$GF" status "$1" --token "$2" --json | jget 'd["reason"]'; }
spec() {  # spec NAME COMMAND-JSON [MEMORY_MB] [TIME_LIMIT_S] [EXTRA]
  printf '{"kind":"program","name":"%s","command":%s,%s"resources":{"cores":1,"memory_mb":%s,"time_limit_s":%s}}' \
    "$1" "$2" "${5:+$5,}" "${3:-512}" "${4:-60}"
}

# ---- beta's job: leaves a secret in its own folder ---------------------------------
mkdir -p "$TMP/bb"
printf '%s\n' 'open("secret.txt", "w").write("beta-secret-31")' > "$TMP/bb/s.py"
spec bsecret '["/usr/bin/python3","s.py"]' > "$TMP/bjob.json"
BJ=$("$GF" submit "$TMP/bjob.json" --files "$TMP/bb" --token "$TB") || fail "beta submit"
[ "$(wait_end "$BJ" "$TB" 20)" = succeeded ] && ok "beta's job succeeded" || fail "beta's job: $(reason "$BJ" "$TB")"
BSECRET="$TMP/data/jobs/$BJ/work/secret.txt"
# its usage: the ledger's row (core_s = wall x cores, cpu_s from its cgroup)
# is what the fair-share tree charges beta (the half-life is a week: the
# decay over these seconds is below 1e-4)
api GET /v1/usage "$OP" | sed 1d > "$TMP/usage.json"
api GET /v1/fairshare "$OP" | sed 1d > "$TMP/fs.json"
BROW=$(jget "[(e['kind'], e['core_s'], e['cpu_s']) for e in d['entries'] if e['job'] == $BJ]" < "$TMP/usage.json")
BFS=$(jget "[t['usage_core_s'] for t in d['tenants'] if t['tenant'] == 'beta'][0]" < "$TMP/fs.json")
/usr/bin/python3 -c '
import sys; row = eval(sys.argv[1]); fs = float(sys.argv[2])
assert len(row) == 1 and row[0][0] == "program" and row[0][1] > 0 and row[0][2] > 0, row
assert abs(fs - row[0][1]) <= 1e-3 * row[0][1], (fs, row)' "$BROW" "$BFS" \
  && ok "beta's program job: ledger core_s = fair-share usage ($BFS core-s), cgroup cpu_s > 0" \
  || fail "beta's program job's usage in the fair-share tree: ledger $BROW, fair-share $BFS"
[ -f "$BSECRET" ] || fail "beta's secret not written on the host"

# ---- acme's job: trains nothing, probes everything ---------------------------------
mkdir -p "$TMP/ab/lib"
cat > "$TMP/ab/probe.py" <<'PY'
import errno, json, os, socket, sys
sys.path.insert(0, "lib")          # relative paths: the probe also runs (and tells) outside a sandbox
import helper
env = os.environ
r = {}
def attempt(f):
    try:
        f(); return "yes"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
for k in ("PROBE_STORE", "PROBE_KEY", "PROBE_OTHER_JOB", "PROBE_BETA_DATA"):
    r[k] = attempt(lambda: open(env[k], "rb").read(1))
r["list_data"] = attempt(lambda: os.listdir(env["PROBE_DATA"]))
def write_then_remove(p):
    open(p, "w").write("x")
    if not p.startswith(env["PROBE_DATA"]): os.remove(p)   # a broken sandbox must not litter the host
r["writes"] = {p: attempt(lambda: write_then_remove(p)) for p in
               ("/usr/gf-probe", "/etc/gf-probe", env["PROBE_DATA"] + "/gf-probe", "/gf-probe", "/data/gf-probe")}
r["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
r["signal_coordinator"] = attempt(lambda: os.kill(int(env["PROBE_COORD_PID"]), 0))
r["env"] = sorted(env)
r["ifaces"] = sorted(n for _, n in socket.if_nameindex())
r["pid1"] = open("/proc/1/cmdline", "rb").read().split(b"\0")[0].decode(errors="replace")
r["connect_coordinator"] = attempt(lambda: socket.create_connection(("127.0.0.1", int(env["PROBE_PORT"])), timeout=2))
r["uid"] = os.getuid()
r["fashion"] = sorted(os.listdir("/data/fashion-mnist")) if os.path.isdir("/data/fashion-mnist") else []
out = env["GF_OUTPUT"]
os.makedirs(out + "/sub", exist_ok=True)
open(out + "/model.txt", "w").write(helper.weights())
open(out + "/sub/w.bin", "wb").write(bytes(range(256)))
os.symlink("/etc/passwd", out + "/leak")
with open(env["GF_METRICS"], "a") as m:
    for step in range(4):
        m.write(json.dumps({"step": step, "loss": 2.0 / (step + 1), "note": "text is dropped"}) + "\n")
json.dump(r, open(out + "/probe.json", "w"))
PY
printf '%s\n' 'def weights(): return "w 0.25 0.5"' > "$TMP/ab/lib/helper.py"
COORD_PID=$FED_CO_PID
spec probe '["/usr/bin/python3","probe.py"]' 512 60 "\"datasets\":[\"fashion-mnist\"],\"env\":{\"PROBE_STORE\":\"$TMP/data/state.db\",\"PROBE_KEY\":\"$TMP/pki/coordinator/coordinator.key\",\"PROBE_OTHER_JOB\":\"$BSECRET\",\"PROBE_BETA_DATA\":\"$TMP/regb/train-labels-idx1-ubyte\",\"PROBE_DATA\":\"$TMP/data\",\"PROBE_COORD_PID\":\"$COORD_PID\",\"PROBE_PORT\":\"$FED_PORT\"}" > "$TMP/ajob.json"
AJ=$("$GF" submit "$TMP/ajob.json" --files "$TMP/ab" --token "$TA") || fail "acme submit"
[ "$(wait_end "$AJ" "$TA" 30)" = succeeded ] && ok "a Python program job succeeded" \
  || { fail "probe job: $(reason "$AJ" "$TA")"; "$GF" logs "$AJ" --stderr --token "$TA"; }
"$GF" download "$AJ" --out "$TMP/dl" --token "$TA" > "$TMP/dl.log" || fail "gf download: $(cat "$TMP/dl.log")"
[ "$(cat "$TMP/dl/model.txt" 2>/dev/null)" = "w 0.25 0.5" ] && ok "its output (written with a bundled module) downloaded" \
  || fail "model.txt: $(cat "$TMP/dl/model.txt" 2>&1)"
$PY -c 'import sys; sys.exit(open(sys.argv[1],"rb").read() != bytes(range(256)))' "$TMP/dl/sub/w.bin" \
  && ok "a nested binary output downloaded byte for byte" || fail "sub/w.bin differs"
[ ! -e "$TMP/dl/leak" ] && ok "a link among the outputs is not listed nor fetched" || fail "the link was downloaded"
rm -rf "$TMP/one"; "$GF" download "$AJ" --out "$TMP/one" --file sub/w.bin --token "$TA" > /dev/null \
  && [ -f "$TMP/one/sub/w.bin" ] && [ ! -e "$TMP/one/model.txt" ] && ok "--file fetches just that file" || fail "--file"
r=$(api GET "/v1/jobs/$AJ/outputs/leak" "$TA"); case "$r" in 400*link*) ok "outputs/leak (a link): 400" ;; *) fail "leak: $r" ;; esac
r=$(api GET "/v1/jobs/$AJ/outputs/../../stderr.log" "$TA"); case "$r" in 400*) ok "outputs/../..: 400" ;; *) fail "dotdot: $r" ;; esac
r=$(api GET "/v1/jobs/$AJ/outputs/nosuch" "$TA"); case "$r" in 404*) ok "a missing output: 404" ;; *) fail "missing: $r" ;; esac
r=$(api GET "/v1/jobs/$AJ/outputs" "$TB"); case "$r" in 404*) ok "another tenant's outputs: 404" ;; *) fail "beta reads acme's outputs: $r" ;; esac

"$GF" status "$AJ" --token "$TA" > "$TMP/st.txt"
grep -q "metrics  step 3  loss 0.5" "$TMP/st.txt" && ok "metrics lines in gf status" || fail "status: $(cat "$TMP/st.txt")"
"$GF" status "$AJ" --token "$TA" --json | jget '[m for m in d["metrics"]] == [{"step": s, "loss": 2.0/(s+1)} for s in range(4)]' \
  | grep -qx True && ok "metrics in the status JSON: numbers only, in order" || fail "metrics JSON"

P="$TMP/dl/probe.json"
pj() { jget "$1" < "$P"; }
for k in PROBE_STORE PROBE_KEY PROBE_OTHER_JOB PROBE_BETA_DATA; do
  v=$(pj "d['$k']"); [ "$v" = ENOENT ] && ok "cannot read $k ($v)" || fail "$k: $v"
done
v=$(pj "d['list_data']"); [ "$v" = ENOENT ] && ok "cannot see the data folder ($v)" || fail "list data: $v"
pj "[p for p, v in d['writes'].items() if v == 'yes']" | grep -qx '\[\]' && ok "cannot write outside its folder: $(pj "d['writes']")" \
  || fail "writes: $(pj "d['writes']")"
[ ! -e "$TMP/data/gf-probe" ] && ok "nothing written in the coordinator's folder" || fail "a probe file reached the data folder"
v=$(pj "d['pids']"); [ "$(pj "max(d['pids']) <= 4")" = True ] && ok "its /proc shows only its own processes: $v" || fail "pids: $v"
v=$(pj "d['signal_coordinator']"); [ "$v" = ESRCH ] && ok "cannot signal the coordinator ($v)" || fail "kill coordinator: $v"
v=$(pj "[k for k in d['env'] if k not in ('PATH','HOME','GF_OUTPUT','GF_METRICS','OMP_NUM_THREADS','OPENBLAS_NUM_THREADS','MKL_NUM_THREADS','PWD','LC_CTYPE','RANK','WORLD_SIZE','LOCAL_RANK','LOCAL_WORLD_SIZE','MASTER_ADDR','MASTER_PORT') and not k.startswith('PROBE_')]")
[ "$v" = "[]" ] && ok "a clean environment (no GF_PROBE_CANARY, no coordinator variables)" || fail "env: $v"
v=$(pj "d['ifaces']"); [ "$v" = "['lo']" ] && ok "network: loopback only" || fail "ifaces: $v"
v=$(pj "d['connect_coordinator']"); [ "$v" = ECONNREFUSED ] && ok "cannot reach the coordinator's port ($v)" || fail "connect: $v"
v=$(pj "d['uid']"); [ "$v" -ge 200000 ] && ok "runs as uid $v" || fail "uid $v"
[ "$(stat -c %u "$TMP/data/jobs/$AJ/work/output/model.txt")" -ge 200000 ] && ok "its files belong to its uid on the host" \
  || fail "owner $(stat -c %u "$TMP/data/jobs/$AJ/work/output/model.txt")"
v=$(pj "len(d['fashion'])"); [ "$v" = 4 ] && ok "a granted dataset is readable at /data/NAME" || fail "fashion: $v"

# ---- limits ------------------------------------------------------------------------
# 16 MiB at a time, at most 1 GiB (without the limit it would end "succeeded", not eat the machine)
spec hog '["/usr/bin/python3","-c","b = []\nfor i in range(64): b.append(bytearray(16 << 20))"]' 128 > "$TMP/hog.json"
HJ=$("$GF" submit "$TMP/hog.json" --token "$TA")
s=$(wait_end "$HJ" "$TA" 30); rs=$(reason "$HJ" "$TA")
case "$s:$rs" in "failed:out of memory"*) ok "a memory hog: failed, $rs" ;; *) fail "memory hog: $s: $rs" ;; esac
v=$("$GF" status "$HJ" --token "$TA" --json | jget 'd["usage"]["peak_mem_mb"]')
[ "$($PY -c "print($v >= 100)")" = True ] && ok "its usage shows the peak of its processes ($v MiB, from its memory cgroup)" \
  || fail "hog peak_mem_mb $v"
v=$("$GF" status "$AJ" --token "$TA" --json | jget 'd["usage"]["cpu_s"]')
[ "$($PY -c "print($v > 0)")" = True ] && ok "the probe's usage counts its CPU time ($v s)" || fail "probe cpu_s $v"

cat > "$TMP/fork.py" <<'PY'
import os, time
n = 0
try:
    while n < 2000:
        if os.fork() == 0:
            time.sleep(4); os._exit(0)
        n += 1
except OSError:
    pass
open(os.environ["GF_OUTPUT"] + "/forks.txt", "w").write(str(n))
time.sleep(3)
PY
mkdir -p "$TMP/fb" && cp "$TMP/fork.py" "$TMP/fb/"
spec bomb '["/usr/bin/python3","fork.py"]' 1024 > "$TMP/bomb.json"
FJ=$("$GF" submit "$TMP/bomb.json" --files "$TMP/fb" --token "$TA")
healthy=0
for i in $(seq 1 30); do
  sleep 0.2
  [ -e "$TMP/data/jobs/$FJ/work/output/forks.txt" ] || continue
  curl -s -m 5 --cacert "$CA" "$URL/v1/health" | grep -q ok && healthy=1
  break
done
[ $healthy = 1 ] && ok "the coordinator answers /v1/health while the fork bomb holds its processes" || fail "no health answer"
s=$(wait_end "$FJ" "$TA" 30)
n=$(cat "$TMP/data/jobs/$FJ/work/output/forks.txt" 2>/dev/null || echo none)
[ "$s" = succeeded ] && [ "$n" != none ] && [ "$n" -ge 20 ] && [ "$n" -lt 300 ] && ok "a fork bomb stopped at the pids limit ($n forks)" \
  || fail "fork bomb: $s, $n forks"

spec missing '["/job/no-such-program","x"]' > "$TMP/miss.json"
MJ=$("$GF" submit "$TMP/miss.json" --token "$TA")
s=$(wait_end "$MJ" "$TA" 20); rs=$(reason "$MJ" "$TA")
case "$s:$rs" in *"failed:the program could not be started"*"no-such-program"*"No such file"*) ok "a missing command: $rs" ;; *) fail "missing command: $s: $rs" ;; esac

spec slow '["/bin/sleep","30"]' 128 1 > "$TMP/slow.json"
SJ=$("$GF" submit "$TMP/slow.json" --token "$TA")
s=$(wait_end "$SJ" "$TA" 20); rs=$(reason "$SJ" "$TA")
case "$s:$rs" in "timed-out:time limit of 1 s"*) ok "a time limit ends it: $rs" ;; *) fail "time limit: $s: $rs" ;; esac

spec cancelme '["/bin/sleep","30"]' 128 60 > "$TMP/cancel.json"
CJ=$("$GF" submit "$TMP/cancel.json" --token "$TA")
for i in $(seq 1 50); do [ "$("$GF" status "$CJ" --token "$TA" --json | jget 'd["state"]')" = running ] && break; sleep 0.1; done
"$GF" cancel "$CJ" --token "$TA" > /dev/null || fail "gf cancel"
s=$(wait_end "$CJ" "$TA" 20)
[ "$s" = cancelled ] && ok "a running program job is cancelled" || fail "cancel: $s: $(reason "$CJ" "$TA")"
find /sys/fs/cgroup -maxdepth 4 -name "gf-$FED_CO_PID-job-*" 2>/dev/null | grep -q . \
  && fail "cgroups left behind: $(find /sys/fs/cgroup -maxdepth 4 -name "gf-$FED_CO_PID-job-*")" \
  || ok "no job's cgroup left behind once the jobs ended"

# ---- bad bundles and specs: 400, nothing created -----------------------------------
before=$(njobs)
$PY - "$TMP" <<'PY'
import io, sys, tarfile
tmp = sys.argv[1]
spec = b'{"kind":"program","name":"bad","command":["/bin/true"]}'
def tar(path, members, mode="w"):
    with tarfile.open(path, mode) as t:
        i = tarfile.TarInfo("job.json"); i.size = len(spec); t.addfile(i, io.BytesIO(spec))
        for m, data in members:
            t.addfile(m, io.BytesIO(data) if data is not None else None)
def reg(name, data=b"x"):
    i = tarfile.TarInfo(name); i.size = len(data); return (i, data)
def special(name, kind, link=""):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link; return (i, None)
tar(tmp + "/abs.tar", [reg("/files/evil")])
tar(tmp + "/dotdot.tar", [reg("files/../../evil")])
tar(tmp + "/symlink.tar", [special("files/link", tarfile.SYMTYPE, "/etc/passwd"), reg("files/link/x")])
tar(tmp + "/hardlink.tar", [reg("files/a"), special("files/h", tarfile.LNKTYPE, "files/a")])
tar(tmp + "/device.tar", [special("files/null", tarfile.CHRTYPE)])
tar(tmp + "/outside.tar", [reg("evil.txt")])
tar(tmp + "/big.tar.gz", [reg("files/ok.txt"), reg("files/zeros", bytes(2 << 20))], "w:gz")
open(tmp + "/garbage.tar", "wb").write(b"not a tar archive at all" * 100)
PY
for b in abs:absolute dotdot:"not allowed in a path" symlink:symbolic hardlink:hard device:"regular files" outside:outside big:"more than" garbage:tar; do
  f=${b%%:*}; w=${b#*:}; file="$TMP/$f.tar"; [ -f "$file" ] || file="$TMP/$f.tar.gz"
  r=$(api POST /v1/jobs/bundle "$TA" "$file")
  if echo "$r" | head -1 | grep -qx 400 && echo "$r" | grep -q "$w"; then ok "bundle $f: $(echo "$r" | sed 1d | head -c 140)"
  else fail "bundle $f: $r"; fi
done
[ "$(njobs)" = "$before" ] && ok "no job was created by a bad bundle" || fail "jobs: $before -> $(njobs)"
ls -a "$TMP/data/jobs" | grep -q '^\.bundle' && fail "a bundle folder was left behind" || ok "no bundle folder left behind"
[ ! -e "$TMP/evil" ] && [ ! -e "$TMP/data/evil" ] && [ ! -e /files/evil ] && ok "nothing written outside" || fail "evil file written"
"$GF" submit --bundle "$TMP/hardlink.tar" --token "$TA" 2> "$TMP/err" >/dev/null; grep -q "400.*hard links" "$TMP/err" \
  && ok "gf submit --bundle shows the reason" || fail "gf submit --bundle: $(cat "$TMP/err")"
ln -s /etc/passwd "$TMP/bb/link"
expect_error "gf submit --files refuses a folder holding a link" "symbolic link" -- "$GF" submit "$TMP/bjob.json" --files "$TMP/bb" --token "$TA"
rm "$TMP/bb/link"

for bad in '"command":"python3 x.py"' '"command":[]' '"command":["/bin/true"],"env":{"LD_PRELOAD":"/job/x.so"}' \
           '"command":["/bin/true"],"env":{"HOME":"/"}' '"command":["/bin/true"],"resources":{"processes":2}' \
           '"command":["/bin/true"],"resources":{"gpus":1}' '"command":["/bin/true"],"datasets":["betadata"]' \
           '"command":["/bin/true"],"shell":"sh"'; do
  printf '{"kind":"program","name":"bad",%s}' "$bad" > "$TMP/bad.json"
  r=$(api POST /v1/jobs "$TA" "$TMP/bad.json")
  case "$r" in 400*) ok "spec {$bad}: $(echo "$r" | sed 1d | head -c 150)" ;; *) fail "spec {$bad}: $r" ;; esac
done
[ "$(njobs)" = "$before" ] && ok "no job was created by a bad spec" || fail "jobs: $before -> $(njobs)"

# ---- a coordinator killed while a program job runs ---------------------------------
spec orphan '["/bin/sleep","300"]' 128 600 > "$TMP/orphan.json"
OJ=$("$GF" submit "$TMP/orphan.json" --token "$TA")
for i in $(seq 1 50); do [ "$("$GF" status "$OJ" --token "$TA" --json | jget 'd["state"]')" = running ] && break; sleep 0.1; done
OLD=$FED_CO_PID
find /sys/fs/cgroup -maxdepth 4 -name "gf-$OLD-job-$OJ" | grep -q . || fail "no cgroup for the running job"
kill -9 "$OLD"; wait "$OLD" 2>/dev/null
sleep 0.3
pgrep -f "sleep 300" | while read p; do
  [ "$(stat -c %u /proc/$p 2>/dev/null)" -ge 200000 ] 2>/dev/null && echo "$p"; done > "$TMP/left"
[ ! -s "$TMP/left" ] && ok "the job's processes died with the coordinator (--die-with-parent)" || fail "left running: $(cat "$TMP/left")"
fed_coordinator "$TMP" --cores 2 || fail "coordinator restart"
s=$(wait_end "$OJ" "$TA" 20); rs=$(reason "$OJ" "$TA")
case "$s:$rs" in failed:*restarted*|failed:*"coordinator was down"*) ok "after the restart: $s ($rs)" ;; *) fail "after restart: $s: $rs" ;; esac
find /sys/fs/cgroup -maxdepth 4 -name "gf-$OLD-job-*" | grep -q . && fail "the dead coordinator's cgroups stay: $(find /sys/fs/cgroup -maxdepth 4 -name "gf-$OLD-job-*")" \
  || ok "the dead coordinator's cgroups were removed at the restart"
finish
