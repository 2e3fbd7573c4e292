# Program jobs ("kind": "program") on the Slurm executor: a real private
# Slurm (scripts/slurm-local.sh, with task/cgroup) and a coordinator with
# --executor slurm. A Python program sent as a bundle becomes a batch job
# under the tenant's account, runs in the bubblewrap sandbox as the tenant's
# uid (gf program-batch), cannot read the coordinator's state folder (each
# probe would succeed outside the sandbox), writes outputs that download,
# and its ledger row equals sacct (GPU-seconds of a --gres=gpu:1 included).
# Two processes run as two srun tasks with RANK / WORLD_SIZE / LOCAL_RANK /
# MASTER_ADDR / MASTER_PORT, enough for PyTorch DDP (gloo) to give the
# weights of one process on the global batch. A cancel
# ends the program. A memory hog
# is killed by Slurm's memory cgroup and ends "failed: out of memory".
. tests/cli_lib.sh
. scripts/fed_local.sh
PY=/usr/bin/python3
SL="$TMP/slurm"
cleanup() { fed_down; scripts/slurm-local.sh stop "$SL" > /dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if [ "$(id -u)" != 0 ] || [ ! -x /usr/bin/bwrap ]; then
  echo "SKIP: program jobs under Slurm are tested as root with /usr/bin/bwrap"; exit 0
fi
scripts/slurm-local.sh start "$SL" > "$TMP/slurm.log" 2>&1 || { fail "slurm did not start: $(tail -20 "$TMP/slurm.log")"; finish; exit 1; }
. "$SL/env.sh"
ok "a private Slurm is up: $(grep 'up in' "$TMP/slurm.log")"

"$GF" provision --out "$TMP/pki" --coordinator 127.0.0.1 > /dev/null || { fail "provision"; finish; exit 1; }
fed_coordinator "$TMP" --executor slurm --slurm-conf "$SLURM_CONF" --gpu-devices "$SL/dev/fakegpu0,$SL/dev/fakegpu1" || { fail "coordinator start"; finish; exit 1; }
export GF_COORDINATOR="${FED_URL%/}" GF_CA="$TMP/pki/coordinator/ca.crt"
unset GF_KIT GF_TOKEN
OP=$(cat "$TMP/data/operator.token")
"$GF" tenant add Acme.Lab --shares 30 --token "$OP" > /dev/null || fail "tenant"
TA=$("$GF" token create --tenant Acme.Lab --token "$OP" 2>/dev/null)

wait_end() {  # wait_end ID SECONDS: the final state
  _t=0
  while [ $_t -lt $(($2 * 5)) ]; do
    _s=$("$GF" status "$1" --token "$OP" --json | jget 'd["state"]')
    case "$_s" in succeeded|failed|cancelled|timed-out) echo "$_s"; return 0 ;; esac
    sleep 0.2; _t=$((_t+1))
  done
  echo "$_s"
}
reason() { "$GF" status "$1" --token "$OP" --json | jget 'd["reason"]'; }
slurm_id() { "$GF" status "$1" --token "$OP" --json | jget '[w.split("as job ")[1].split(" ")[0] for w in [d["reason"]] + [e["reason"] for e in d["state_log"]] if "as job " in w][0]'; }
spec() {  # spec NAME COMMAND-JSON MEMORY_MB CORES PROCESSES [EXTRA] [GPUS]
  printf '{"kind":"program","name":"%s","command":%s,%s"resources":{"cores":%s,"memory_mb":%s,"time_limit_s":120,"processes":%s,"gpus":%s}}' \
    "$1" "$2" "${6:+$6,}" "$4" "$3" "$5" "${7:-0}"
}

# ---- a Python program: outputs, metrics, isolation, the ledger -------------------------
mkdir -p "$TMP/ab"
cat > "$TMP/ab/probe.py" <<'PY'
import errno, json, os
env = os.environ
def attempt(f):
    try:
        f(); return "yes"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
r = {k: attempt(lambda: open(env[k], "rb").read(1)) for k in ("PROBE_STORE", "PROBE_TOKEN")}
r["list_data"] = attempt(lambda: os.listdir(env["PROBE_DATA"]))
r["uid"] = os.getuid()
r["env"] = sorted(env)
r["cuda"] = env.get("CUDA_VISIBLE_DEVICES", "")
r["gf_gpus"] = env.get("GF_GPUS", "")
r["dev"] = sorted(n for n in os.listdir("/dev") if n.startswith("fakegpu"))
r["open_gpu"] = {n: attempt(lambda: open("/dev/" + n, "rb").read(1)) for n in r["dev"]}
r["fashion"] = sorted(os.listdir("/data/fashion-mnist")) if os.path.isdir("/data/fashion-mnist") else []
os.makedirs(env["GF_OUTPUT"] + "/sub", exist_ok=True)
open(env["GF_OUTPUT"] + "/sub/w.bin", "wb").write(bytes(range(256)))
with open(env["GF_METRICS"], "a") as m:
    for step in range(3): m.write(json.dumps({"step": step, "loss": 1.0 / (step + 1)}) + "\n")
json.dump(r, open(env["GF_OUTPUT"] + "/probe.json", "w"))
import time; time.sleep(2)         # a few seconds for sacct to count
PY
spec probe '["/usr/bin/python3","probe.py"]' 512 1 1 "\"datasets\":[\"fashion-mnist\"],\"env\":{\"PROBE_STORE\":\"$TMP/data/state.db\",\"PROBE_TOKEN\":\"$TMP/data/operator.token\",\"PROBE_DATA\":\"$TMP/data\"}" 1 > "$TMP/a.json"
AJ=$("$GF" submit "$TMP/a.json" --files "$TMP/ab" --token "$TA") || fail "submit"
[ "$(wait_end "$AJ" 60)" = succeeded ] && ok "a Python program job succeeded under Slurm: $(reason "$AJ")" \
  || { fail "probe job: $(reason "$AJ")"; "$GF" logs "$AJ" --stderr --token "$OP"; }
SID=$(slurm_id "$AJ")
sacct -X -n -P -j "$SID" -o Account | grep -qx "acme_dlab" && ok "Slurm job $SID ran under the tenant's account acme_dlab" \
  || fail "account: $(sacct -X -n -P -j "$SID" -o Account)"
"$GF" download "$AJ" --out "$TMP/dl" --token "$TA" > "$TMP/dl.log" || fail "gf download: $(cat "$TMP/dl.log")"
$PY -c 'import sys; sys.exit(open(sys.argv[1],"rb").read() != bytes(range(256)))' "$TMP/dl/sub/w.bin" \
  && ok "its output downloaded byte for byte" || fail "sub/w.bin differs"
"$GF" status "$AJ" --token "$TA" --json | jget '[m for m in d["metrics"]] == [{"step": s, "loss": 1.0/(s+1)} for s in range(3)]' \
  | grep -qx True && ok "its metrics lines reach gf status" || fail "metrics"
P="$TMP/dl/probe.json"
pj() { jget "$1" < "$P"; }
for k in PROBE_STORE PROBE_TOKEN; do
  v=$(pj "d['$k']"); [ "$v" = ENOENT ] && ok "cannot read the coordinator's $k ($v)" || fail "$k: $v"
done
v=$(pj "d['list_data']"); [ "$v" = ENOENT ] && ok "cannot see the coordinator's state folder ($v)" || fail "list data: $v"
v=$(pj "d['uid']"); [ "$v" -ge 200000 ] && ok "runs as the tenant's uid $v" || fail "uid $v"
v=$(pj "[k for k in d['env'] if k.startswith('SLURM') or k == 'GF_COORDINATOR']"); [ "$v" = "[]" ] \
  && ok "a clean environment (no SLURM_*, no coordinator variables)" || fail "env: $v"
v=$(pj "(d['cuda'], d['gf_gpus'], d['dev'], d['open_gpu'])")
case "$v" in "('0', '0', ['fakegpu0'], {'fakegpu0': 'yes'})"|"('0', '1', ['fakegpu1'], {'fakegpu1': 'yes'})")
  ok "gpus 1: --gres=gpu:1, the sandbox binds only the GPU Slurm allotted (CUDA_VISIBLE_DEVICES, GF_GPUS, /dev, opened): $v" ;;
  *) fail "gpus 1 under Slurm: $v" ;; esac
v=$(pj "len(d['fashion'])"); [ "$v" = 4 ] && ok "a granted dataset is readable at /data/NAME" || fail "fashion: $v"
grep -q "limits: the batch system's cgroups" "$TMP/data/jobs/$AJ/stderr.log" && ok "its stderr log names Slurm's cgroups as its limits" \
  || fail "stderr: $(cat "$TMP/data/jobs/$AJ/stderr.log")"

sacct -X -n -P -j "$SID" -o CPUTimeRAW,ElapsedRaw,AllocTRES > "$TMP/sacct"
"$GF" usage --token "$OP" --json > "$TMP/usage.json"
out=$($PY - "$AJ" "$TMP/sacct" "$TMP/usage.json" <<'PYEOF'
import json, sys
job, sacct, usage = int(sys.argv[1]), open(sys.argv[2]).read().strip().split("|"), json.load(open(sys.argv[3]))
row = [e for e in usage["entries"] if e["job"] == job]
assert len(row) == 1, row
row = row[0]
gpus = int(dict(kv.split("=") for kv in sacct[2].split(",")).get("gres/gpu", 0))
assert gpus == 1 and int(sacct[1]) >= 1, sacct
assert row["executor"] == "slurm" and row["core_s"] == int(sacct[0]) and row["wall_s"] == int(sacct[1]), (row, sacct)
assert row["gpu_s"] == gpus * int(sacct[1]), (row, sacct)
print("ledger = sacct: %s core-s, %s s, %d GPU-s" % (sacct[0], sacct[1], gpus * int(sacct[1])))
PYEOF
) && ok "$out" || fail "ledger vs sacct: $out"

# ---- two processes: srun tasks, torch.distributed (gloo) DDP ---------------------------
# each rank trains on half of a global batch of 8; the averaged gradients
# give the weights one process gets on the whole batch (recomputed below)
mkdir -p "$TMP/db"
cat > "$TMP/db/ddp.py" <<'PY'
import os, torch, torch.distributed as dist
env = os.environ
open(env["GF_OUTPUT"] + "/rank" + env["RANK"], "w").write(
    " ".join(env[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")))
dist.init_process_group("gloo")
r, w = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
m = torch.nn.Linear(4, 1)
ddp = torch.nn.parallel.DistributedDataParallel(m)
opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
X = torch.randn(8, 4, generator=torch.Generator().manual_seed(1)); y = X.sum(1, keepdim=True)
for _ in range(5):
    opt.zero_grad(); ((ddp(X[r::w]) - y[r::w]) ** 2).mean().backward(); opt.step()
if r == 0: torch.save(m.state_dict(), env["GF_OUTPUT"] + "/model.pt")
dist.destroy_process_group()
PY
spec ddp '["/usr/bin/python3","ddp.py"]' 3000 2 2 > "$TMP/r.json"
RJ=$("$GF" submit "$TMP/r.json" --files "$TMP/db" --token "$TA") || fail "submit ddp"
[ "$(wait_end "$RJ" 90)" = succeeded ] || fail "ddp job: $(reason "$RJ"); $(tail -5 "$TMP/data/jobs/$RJ/stderr.log")"
R0=$(cat "$TMP/data/jobs/$RJ/work/output/rank0" 2>/dev/null); R1=$(cat "$TMP/data/jobs/$RJ/work/output/rank1" 2>/dev/null)
P0=${R0##* }
case "$R0|$R1" in "0 2 0 "*" $P0|1 2 1 "*" $P0") ok "processes 2: two srun tasks, rank 0 \"$R0\", rank 1 \"$R1\"" ;;
  *) fail "ranks: \"$R0\" \"$R1\"; $(reason "$RJ")" ;; esac
out=$($PY - "$TMP/data/jobs/$RJ/work/output/model.pt" <<'PYEOF' 2>&1
import sys, torch
torch.manual_seed(0)
m = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(m.parameters(), lr=0.1)
X = torch.randn(8, 4, generator=torch.Generator().manual_seed(1)); y = X.sum(1, keepdim=True)
for _ in range(5):
    opt.zero_grad(); ((m(X) - y) ** 2).mean().backward(); opt.step()
d = torch.load(sys.argv[1])
diff = max((d["weight"] - m.weight).abs().max().item(), (d["bias"] - m.bias).abs().max().item())
assert diff <= 1e-6, diff
print("max |DDP - one process| = %.1e" % diff)
PYEOF
) && ok "DDP (gloo) over the two ranks' sandboxes: the weights of one process on the global batch ($out)" || fail "ddp weights: $out"
r=$(spec many '["/bin/true"]' 512 1 2 > "$TMP/m.json"; "$GF" submit "$TMP/m.json" --token "$TA" 2>&1)
case "$r" in *"is more than resources.cores"*) ok "more processes than cores: refused ($r)" ;; *) fail "processes > cores: $r" ;; esac

# ---- a cancel reaches the sandbox's processes -----------------------------------------
spec sleeper '["/bin/sleep","313"]' 128 1 1 > "$TMP/s.json"
CJ=$("$GF" submit "$TMP/s.json" --token "$TA")
t=0; until pgrep -u 200001 -xf "/bin/sleep 313" > /dev/null; do sleep 0.2; t=$((t+1)); [ $t -gt 150 ] && break; done
pgrep -u 200001 -xf "/bin/sleep 313" > /dev/null && ok "the program runs under Slurm as uid 200001" || fail "no sleep of uid 200001"
"$GF" cancel "$CJ" --token "$TA" > /dev/null
s=$(wait_end "$CJ" 60)
t=0; while pgrep -u 200001 -xf "/bin/sleep 313" > /dev/null; do sleep 0.2; t=$((t+1)); [ $t -gt 50 ] && break; done
[ "$s" = cancelled ] && ! pgrep -u 200001 -xf "/bin/sleep 313" > /dev/null && ok "cancelled through scancel, its program is gone: $(reason "$CJ")" \
  || fail "cancel: $s, left: $(pgrep -u 200001 -af "sleep 313")"

# ---- a memory hog: Slurm's memory cgroup kills it -------------------------------------
spec hog '["/usr/bin/python3","-c","b = []\nfor i in range(64): b.append(bytearray(16 << 20))"]' 128 1 1 > "$TMP/hog.json"
HJ=$("$GF" submit "$TMP/hog.json" --token "$TA")
s=$(wait_end "$HJ" 60); rs=$(reason "$HJ")
case "$s:$rs" in "failed:out of memory"*) ok "a memory hog under Slurm: failed, $rs" ;; *) fail "memory hog: $s: $rs" ;; esac
finish
