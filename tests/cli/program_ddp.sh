# Multi-process program jobs ("resources": {"processes": N}) on the local
# executor: N ranks under Debian's OpenMPI mpirun inside the job's sandbox
# (src/facility/sandbox.h). A PyTorch DDP script (gloo, float64) with 2
# processes ends with the same weights as the same script in one process on
# the same global batches (run on the host as the reference; |diff| <= 1e-9),
# each rank sees RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE /
# MASTER_ADDR / MASTER_PORT, an MPI program's ranks form one world (an
# MPI_Allreduce), a one-process job sees RANK 0 of 1, a failing
# rank fails the job with that rank's status while the other is stopped, and
# more processes than cores is refused at submission.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then
  echo "SKIP: multi-process program jobs are tested as root (the sandbox)"; exit 0
fi
# bwrap, mpirun and torch come with the test packages (scripts/install-deps.sh):
# one missing is a broken set-up, reported, not a reason to skip
missing=""
[ -x /usr/bin/bwrap ] || missing="$missing bubblewrap"
[ -x /usr/bin/mpirun ] || missing="$missing openmpi-bin"
$PY -c 'import torch' 2>/dev/null || missing="$missing python3-torch"
if [ -n "$missing" ]; then fail "missing test packages:$missing (scripts/install-deps.sh test)"; finish; exit 1; fi

fed_provision "$TMP" 1
fed_coordinator "$TMP" --cores 2 || { fail "coordinator start"; finish; exit 1; }
URL=${FED_URL%/}
CA="$TMP/pki/coordinator/ca.crt"
export GF_COORDINATOR="$URL" GF_CA="$CA"
unset GF_KIT GF_TOKEN
OP=$(cat "$TMP/data/operator.token")
"$GF" tenant add acme --shares 10 --token "$OP" > /dev/null || fail "tenant acme"
TA=$("$GF" token create --tenant acme --token "$OP")

api() {  # api METHOD PATH TOKEN [BODY-FILE]: "STATUS" then the body
  curl -s -o "$TMP/resp" -w '%{http_code}\n' --cacert "$CA" -X "$1" -H "Authorization: Bearer $3" \
       ${4:+--data-binary "@$4"} "$URL$2"
  cat "$TMP/resp"; echo
}
wait_end() {  # wait_end ID SECONDS: the final state
  _t=0
  while [ $_t -lt $(($2 * 10)) ]; do
    _s=$("$GF" status "$1" --token "$TA" --json | jget 'd["state"]')
    case "$_s" in succeeded|failed|cancelled|timed-out) echo "$_s"; return 0 ;; esac
    sleep 0.1; _t=$((_t+1))
  done
  echo "$_s"
}
reason() { "$GF" status "$1" --token "$TA" --json | jget 'd["reason"]'; }
spec() {  # spec NAME COMMAND-JSON CORES PROCESSES
  printf '{"kind":"program","name":"%s","command":%s,"resources":{"cores":%s,"processes":%s,"memory_mb":1024,"time_limit_s":120}}' \
    "$1" "$2" "$3" "$4"
}

mkdir -p "$TMP/b" "$TMP/ref"
cat > "$TMP/b/ddp.py" <<'PYEOF'
# Data-parallel training under torch.distributed (gloo): each rank takes its
# share of every global batch; with WORLD_SIZE 1 the same script is the
# single-process reference. Writes the final weights and what each rank saw.
import json, os
import torch
import torch.distributed as dist
torch.set_num_threads(1)
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
out = os.environ.get("GF_OUTPUT", ".")
seen = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
json.dump(seen, open(os.path.join(out, "env-%d.json" % rank), "w"))
if world > 1:
    dist.init_process_group("gloo", rank=rank, world_size=world)   # env://: MASTER_ADDR, MASTER_PORT
g = torch.Generator().manual_seed(7)
X = torch.randn(256, 8, generator=g, dtype=torch.float64)
y = (X @ torch.randn(8, 3, generator=g, dtype=torch.float64)).argmax(1)
torch.manual_seed(11)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
if world > 1:
    model = torch.nn.parallel.DistributedDataParallel(model)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
B = 32                                            # the global batch
for epoch in range(3):
    for i in range(0, len(X), B):
        per = B // world
        xb, yb = X[i + rank * per:i + (rank + 1) * per], y[i + rank * per:i + (rank + 1) * per]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xb), yb).backward()   # DDP: gradients averaged over ranks
        opt.step()
if rank == 0:
    m = model.module if world > 1 else model
    json.dump([p.detach().flatten().tolist() for p in m.parameters()], open(os.path.join(out, "weights.json"), "w"))
if world > 1:
    dist.destroy_process_group()
PYEOF

# ---- 2 ranks under DDP; the one-process reference runs on the host meanwhile ------
spec ddp '["/usr/bin/python3","ddp.py"]' 2 2 > "$TMP/ddp.json"
J=$("$GF" submit "$TMP/ddp.json" --files "$TMP/b" --token "$TA") || fail "submit ddp"
(cd "$TMP/ref" && RANK=0 WORLD_SIZE=1 GF_OUTPUT=. $PY "$TMP/b/ddp.py") || fail "reference run"
s=$(wait_end "$J" 60)
[ "$s" = succeeded ] && ok "a 2-process DDP job succeeded" \
  || { fail "ddp job: $s: $(reason "$J")"; "$GF" logs "$J" --stderr --token "$TA" | tail -20; }
"$GF" download "$J" --out "$TMP/dl" --token "$TA" > /dev/null || fail "download"
d=$($PY - "$TMP/dl/weights.json" "$TMP/ref/weights.json" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert [len(x) for x in a] == [len(x) for x in b], "shapes differ"
print(max(abs(u - v) for x, y in zip(a, b) for u, v in zip(x, y)))
PYEOF
) || fail "weights unreadable"
$PY -c "import sys; sys.exit(not (0 <= float('$d') <= 1e-9))" 2>/dev/null \
  && ok "2-rank DDP weights equal one process's on the same global batch (max |diff| $d <= 1e-9)" \
  || fail "DDP weights differ from one process's: max |diff| $d"
for r in 0 1; do
  e=$(jget "(d['RANK'], d['WORLD_SIZE'], d['LOCAL_RANK'], d['LOCAL_WORLD_SIZE'], d['MASTER_ADDR'])" < "$TMP/dl/env-$r.json" 2>/dev/null)
  [ "$e" = "('$r', '2', '$r', '2', '127.0.0.1')" ] && ok "rank $r sees RANK/WORLD_SIZE/LOCAL_RANK/LOCAL_WORLD_SIZE/MASTER_ADDR $e" \
    || fail "rank $r env: $e"
done
p0=$(jget 'd["MASTER_PORT"]' < "$TMP/dl/env-0.json"); p1=$(jget 'd["MASTER_PORT"]' < "$TMP/dl/env-1.json")
[ "$p0" = "$p1" ] && [ "$p0" -ge 1024 ] 2>/dev/null && [ "$p0" -le 65535 ] && ok "both ranks share MASTER_PORT $p0" \
  || fail "MASTER_PORT: $p0 / $p1"

# ---- an MPI program (C, OpenMPI): its ranks form one world and reduce over it ------------
if command -v mpicc > /dev/null; then
  mkdir -p "$TMP/m"
  cat > "$TMP/m.c" <<'CEOF'
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    int r, n, v, sum = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    v = 10 * r + 1;
    MPI_Allreduce(&v, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("mpi rank %d of %d, RANK %s, sum %d\n", r, n, getenv("RANK"), sum);
    MPI_Finalize();
    return 0;
}
CEOF
  mpicc -o "$TMP/m/allreduce" "$TMP/m.c" || fail "mpicc"
  spec mpi '["./allreduce"]' 2 2 > "$TMP/mpi.json"
  JM=$("$GF" submit "$TMP/mpi.json" --files "$TMP/m" --token "$TA") || fail "submit mpi"
  [ "$(wait_end "$JM" 30)" = succeeded ] || fail "MPI job: $(reason "$JM")"
  "$GF" logs "$JM" --token "$TA" | sort > "$TMP/mpi.out"
  printf 'mpi rank 0 of 2, RANK 0, sum 12\nmpi rank 1 of 2, RANK 1, sum 12\n' | cmp -s - "$TMP/mpi.out" \
    && ok "an MPI program's 2 ranks form one world (MPI_Allreduce 1 + 11 = 12)" || fail "MPI job output: $(cat "$TMP/mpi.out")"
fi

# ---- one process: RANK 0 of 1 -------------------------------------------------------
spec one '["/usr/bin/python3","-c","import os,json; json.dump({k: os.environ.get(k) for k in (\"RANK\",\"WORLD_SIZE\",\"LOCAL_RANK\",\"MASTER_ADDR\")}, open(os.environ[\"GF_OUTPUT\"]+\"/env.json\",\"w\"))"]' 1 1 > "$TMP/one.json"
J1=$("$GF" submit "$TMP/one.json" --token "$TA") || fail "submit one"
[ "$(wait_end "$J1" 30)" = succeeded ] || fail "one-process job: $(reason "$J1")"
"$GF" download "$J1" --out "$TMP/dl1" --token "$TA" > /dev/null
e=$(jget "(d['RANK'], d['WORLD_SIZE'], d['LOCAL_RANK'], d['MASTER_ADDR'])" < "$TMP/dl1/env.json" 2>/dev/null)
[ "$e" = "('0', '1', '0', '127.0.0.1')" ] && ok "a one-process job sees RANK 0 of WORLD_SIZE 1" || fail "one-process env: $e"

# ---- a failing rank ends the job failed with its status; the other rank is stopped --
spec bad '["/usr/bin/python3","-c","import os,sys,time; r=os.environ[\"RANK\"]; time.sleep(60) if r==\"0\" else sys.exit(3)"]' 2 2 > "$TMP/bad.json"
JB=$("$GF" submit "$TMP/bad.json" --token "$TA") || fail "submit bad"
s=$(wait_end "$JB" 40); rs=$(reason "$JB")
case "$s:$rs" in failed:"rank 1 exited with status 3"*) ok "a failing rank fails the job: $rs" ;; *) fail "failing rank: $s: $rs" ;; esac
pgrep -f "time.sleep\(60\)" | while read p; do
  [ "$(stat -c %u /proc/$p 2>/dev/null)" -ge 200000 ] 2>/dev/null && echo "$p"; done > "$TMP/left"
[ ! -s "$TMP/left" ] && ok "the other rank was stopped" || fail "rank 0 still runs: $(cat "$TMP/left")"

# ---- bad input ---------------------------------------------------------------------
spec many '["/bin/true"]' 2 3 > "$TMP/many.json"
r=$(api POST /v1/jobs "$TA" "$TMP/many.json")
case "$r" in 400*processes*) ok "more processes than cores: $(echo "$r" | sed 1d | head -c 160)" ;; *) fail "processes 3 on 2 cores: $r" ;; esac
printf '{"kind":"program","name":"e","command":["/bin/true"],"env":{"RANK":"5"}}' > "$TMP/env.json"
r=$(api POST /v1/jobs "$TA" "$TMP/env.json")
case "$r" in 400*RANK*) ok "env.RANK refused: $(echo "$r" | sed 1d | head -c 120)" ;; *) fail "env RANK: $r" ;; esac
finish
