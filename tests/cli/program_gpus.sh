# GPU binding of program jobs on the local executor (src/facility/gpus.h,
# src/facility/sandbox.h), with fake GPUs: two character devices made with
# /dev/null's numbers (1, 3) under the test folder, named by --gpu-devices.
# Two 1-GPU jobs run at once and get different GPUs; each sees only its own
# device file in /dev (the other one is neither in /dev nor reachable by its
# host path, and it cannot mknod one), CUDA_VISIBLE_DEVICES=0 and GF_GPUS
# its index; a third 1-GPU job waits "waiting for resources" and, once the
# first ends, gets its GPU; a
# 3-GPU job is refused at submission; a 0-GPU job sees no GPU device. Bad
# --gpu-devices / --gpus stop the coordinator's start with a clear error.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT

if [ "$(id -u)" != 0 ] || [ ! -x /usr/bin/bwrap ]; then
  echo "SKIP: GPU binding is tested as root with /usr/bin/bwrap (mknod, per-tenant uids)"; exit 0
fi

G="$TMP/gpus"
mkdir -p "$G"
mknod -m 0666 "$G/fakegpu0" c 1 3 && mknod -m 0666 "$G/fakegpu1" c 1 3 || { fail "mknod"; finish; exit 1; }
: > "$G/notadevice"

fed_provision "$TMP" 1
# the operator's mistakes stop the start, naming what is wrong
expect_error "a regular file as a GPU" "notadevice character device" -- \
  "$GF" coordinator --data "$TMP/data" --listen 127.0.0.1:0 --tls "$TMP/pki" --gpu-devices "$G/fakegpu0,$G/notadevice"
expect_error "--gpus disagrees with the list" "gpus 3 gpu-devices" -- \
  "$GF" coordinator --data "$TMP/data" --listen 127.0.0.1:0 --tls "$TMP/pki" --gpu-devices "$G/fakegpu0,$G/fakegpu1" --gpus 3

fed_coordinator "$TMP" --cores 4 --gpu-devices "$G/fakegpu0,$G/fakegpu1" || { fail "coordinator start"; finish; exit 1; }
export GF_COORDINATOR="${FED_URL%/}" GF_CA="$TMP/pki/coordinator/ca.crt"
unset GF_KIT GF_TOKEN
OP=$(cat "$TMP/data/operator.token")
"$GF" tenant add acme --shares 10 --token "$OP" > /dev/null || fail "tenant acme"
TA=$("$GF" token create --tenant acme --token "$OP" 2>/dev/null)

state() { "$GF" status "$1" --token "$TA" --json | jget 'd["state"]'; }
reason() { "$GF" status "$1" --token "$TA" --json | jget 'd["reason"]'; }
wait_file() {  # wait_file PATH SECONDS
  _t=0
  while [ ! -e "$1" ] && [ $_t -lt $(($2 * 10)) ]; do sleep 0.1; _t=$((_t+1)); done
  [ -e "$1" ]
}
wait_end() {  # wait_end ID SECONDS: the final state
  _t=0
  while [ $_t -lt $(($2 * 10)) ]; do
    _s=$(state "$1")
    case "$_s" in succeeded|failed|cancelled|timed-out) echo "$_s"; return 0 ;; esac
    sleep 0.1; _t=$((_t+1))
  done
  echo "$_s"
}
work() { echo "$TMP/data/jobs/$1/work"; }

# the probe: what it sees, then it waits for /job/go
mkdir -p "$TMP/b"
cat > "$TMP/b/probe.sh" <<'PROBE'
o=$GF_OUTPUT
ls /dev > "$o/dev.txt"
echo "${CUDA_VISIBLE_DEVICES-unset}" > "$o/cuda.txt"
echo "${GF_GPUS-unset}" > "$o/gf_gpus.txt"
for p in /dev/fakegpu0 /dev/fakegpu1 "$HOST_GPUS/fakegpu0" "$HOST_GPUS/fakegpu1"; do
  if cat "$p" > /dev/null 2>&1; then echo "open $p"; else echo "closed $p"; fi
done > "$o/open.txt"
for p in /job/mygpu /tmp/mygpu; do       # a node of its own, with fakegpu's numbers
  if mknod "$p" c 1 3 2> /dev/null; then echo "made $p"; else echo "refused $p"; fi
done >> "$o/open.txt"
: > /job/ready
while [ ! -e /job/go ]; do sleep 0.05; done
PROBE
spec() {  # spec NAME GPUS
  printf '{"kind":"program","name":"%s","command":["/bin/sh","probe.sh"],"env":{"HOST_GPUS":"%s"},"resources":{"cores":1,"gpus":%s,"memory_mb":256,"time_limit_s":60}}' \
    "$1" "$G" "$2"
}
spec a 1 > "$TMP/a.json"; spec b 1 > "$TMP/b.json"; spec c 1 > "$TMP/c.json"; spec z 0 > "$TMP/z.json"; spec big 3 > "$TMP/big.json"

expect_error "3 GPUs of 2: refused at submission" "resources.gpus 3 more 2" -- \
  "$GF" submit "$TMP/big.json" --files "$TMP/b" --token "$TA"

A=$("$GF" submit "$TMP/a.json" --files "$TMP/b" --token "$TA") || fail "submit a"
B=$("$GF" submit "$TMP/b.json" --files "$TMP/b" --token "$TA") || fail "submit b"
wait_file "$(work "$A")/ready" 15 && wait_file "$(work "$B")/ready" 15 && ok "two 1-GPU jobs run at once" \
  || fail "a: $(state "$A") $(reason "$A"); b: $(state "$B") $(reason "$B")"
C=$("$GF" submit "$TMP/c.json" --files "$TMP/b" --token "$TA") || fail "submit c"

ga=$(cat "$(work "$A")/output/gf_gpus.txt"); gb=$(cat "$(work "$B")/output/gf_gpus.txt")
case "$ga$gb" in 01|10) ok "different GPUs: a has $ga, b has $gb" ;; *) fail "GF_GPUS a=\"$ga\" b=\"$gb\"" ;; esac
for j in "$A" "$B"; do
  w=$(work "$j")/output
  g=$(cat "$w/gf_gpus.txt"); other=$((1 - g))
  devs=$(grep fakegpu "$w/dev.txt" | tr '\n' ' ')
  [ "$devs" = "fakegpu$g " ] && ok "job $j: /dev holds fakegpu$g only" || fail "job $j (GPU $g): /dev has \"$devs\""
  [ "$(cat "$w/cuda.txt")" = 0 ] && ok "job $j: CUDA_VISIBLE_DEVICES=0" || fail "job $j: CUDA_VISIBLE_DEVICES=$(cat "$w/cuda.txt")"
  want="open /dev/fakegpu$g"
  grep -qx "$want" "$w/open.txt" && ok "job $j opens its own /dev/fakegpu$g" || fail "job $j: $(cat "$w/open.txt")"
  if grep -q "^open.*fakegpu$other" "$w/open.txt" || grep -q "^open $G" "$w/open.txt"; then
    fail "job $j reaches GPU $other or a host path: $(tr '\n' ' ' < "$w/open.txt")"
  else ok "job $j cannot open fakegpu$other (in /dev or at $G)"; fi
  grep -q "^made" "$w/open.txt" && fail "job $j made a device node: $(grep made "$w/open.txt")" \
    || ok "job $j cannot make a device node (mknod refused in /job and /tmp)"
  case "$(reason "$j")" in *"GPUs $g ($G/fakegpu$g)"*) ok "job $j's reason names its GPU" ;;
    *) fail "job $j's reason: $(reason "$j")" ;; esac
done

# the third waits for a GPU, then takes the one a leaves
_t=0
while [ $_t -lt 50 ]; do case "$(reason "$C")" in *"waiting for resources"*) break ;; esac; sleep 0.1; _t=$((_t+1)); done
[ "$(state "$C")" = queued ] && case "$(reason "$C")" in *"waiting for resources"*"GPUs"*) true ;; *) false ;; esac \
  && ok "a third 1-GPU job waits: $(reason "$C")" || fail "c: $(state "$C") $(reason "$C")"
[ -e "$(work "$C")/ready" ] && fail "c ran while both GPUs were held"
: > "$(work "$A")/go"
[ "$(wait_end "$A" 15)" = succeeded ] || fail "a: $(state "$A") $(reason "$A")"
wait_file "$(work "$C")/ready" 15 && [ "$(cat "$(work "$C")/output/gf_gpus.txt")" = "$ga" ] \
  && ok "c started once a ended, on a's GPU $ga" || fail "c: $(state "$C") $(reason "$C")"
: > "$(work "$B")/go"; : > "$(work "$C")/go"

# no GPU asked, none seen
Z=$("$GF" submit "$TMP/z.json" --files "$TMP/b" --token "$TA") || fail "submit z"
wait_file "$(work "$Z")/ready" 15 || fail "z: $(state "$Z") $(reason "$Z")"
: > "$(work "$Z")/go"
w=$(work "$Z")/output
if ! grep -q fakegpu "$w/dev.txt" && ! grep -q "^open.*fakegpu" "$w/open.txt" && [ "$(cat "$w/cuda.txt")" = unset ]; then
  ok "a 0-GPU job sees no GPU"; else fail "0-GPU job: $(tr '\n' ' ' < "$w/dev.txt") / $(tr '\n' ' ' < "$w/open.txt")"; fi
for j in "$B" "$C" "$Z"; do [ "$(wait_end "$j" 15)" = succeeded ] || fail "job $j: $(state "$j") $(reason "$j")"; done
grep -q "AddressSanitizer\|runtime error" "$TMP/coordinator.log" && fail "sanitizer report: $(grep -m3 "Sanitizer\|runtime error" "$TMP/coordinator.log")"
finish
