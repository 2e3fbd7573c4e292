# The local executor's memory and job-folder limits for program jobs: the
# scheduler counts each job's memory_mb against --memory-mb like cores (a
# job asking more than is free waits, saying so, and starts when memory is
# given back; one asking more than the executor has is refused at
# submission), and a job writing more than --max-job-folder-mb into its
# folder is stopped and ends failed naming the quota.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT

if [ "$(id -u)" != 0 ] || [ ! -x /usr/bin/bwrap ]; then
  echo "SKIP: program jobs are tested as root with /usr/bin/bwrap"; exit 0
fi

fed_provision "$TMP" 1
fed_coordinator "$TMP" --cores 2 --memory-mb 1000 --max-job-folder-mb 8 || { fail "coordinator start"; finish; exit 1; }
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
state() { "$GF" status "$1" --token "$TA" --json | jget 'd["state"]'; }
reason() { "$GF" status "$1" --token "$TA" --json | jget 'd["reason"]'; }
wait_state() {  # wait_state ID SECONDS STATE...: the state once it is one of STATE... (or the last seen)
  _id=$1; _n=$(($2 * 10)); shift 2
  while [ $_n -gt 0 ]; do
    _s=$(state "$_id")
    for _w in "$@"; do [ "$_s" = "$_w" ] && { echo "$_s"; return 0; }; done
    sleep 0.1; _n=$((_n-1))
  done
  echo "$_s"
}
spec() {  # spec NAME COMMAND-JSON MEMORY_MB
  printf '{"kind":"program","name":"%s","command":%s,"resources":{"cores":1,"memory_mb":%s,"time_limit_s":60}}' "$1" "$2" "$3"
}
HOLD='["/bin/sh","-c","while [ ! -e /job/go ]; do sleep 0.1; done"]'   # runs until the test creates work/go

# ---- memory counted like cores --------------------------------------------------------
spec a "$HOLD" 600 > "$TMP/a.json"; spec b "$HOLD" 600 > "$TMP/b.json"
A=$("$GF" submit "$TMP/a.json" --token "$TA") || fail "submit a"
[ "$(wait_state "$A" 20 running)" = running ] || fail "job a: $(state "$A"): $(reason "$A")"
B=$("$GF" submit "$TMP/b.json" --token "$TA") || fail "submit b"
sleep 1.5                                   # several scheduler passes (4 a second); a core is free all along
s=$(state "$B"); rs=$(reason "$B")
case "$s:$rs" in queued:*"needs 600 MiB of memory, 400 of 1000 MiB are free"*) ok "a job needing more memory than is free waits: $rs" ;;
  *) fail "job b with 400 of 1000 MiB free: $s: $rs" ;; esac
touch "$TMP/data/jobs/$A/work/go"
[ "$(wait_state "$A" 20 succeeded failed)" = succeeded ] || fail "job a: $(reason "$A")"
[ "$(wait_state "$B" 20 running succeeded)" != queued ] && ok "it starts once the memory is given back" || fail "job b: $(reason "$B")"
for i in $(seq 1 50); do [ -d "$TMP/data/jobs/$B/work" ] && break; sleep 0.1; done
touch "$TMP/data/jobs/$B/work/go"
[ "$(wait_state "$B" 20 succeeded failed)" = succeeded ] || fail "job b: $(reason "$B")"
spec c '["/bin/true"]' 1001 > "$TMP/c.json"
r=$(api POST /v1/jobs "$TA" "$TMP/c.json")
case "$r" in 400*"resources.memory_mb: 1001 MiB is more than the local executor has (1000 MiB)"*) ok "more memory than the executor has: refused at submission" ;;
  *) fail "memory_mb 1001 of 1000: $r" ;; esac

# ---- the job-folder quota (8 MiB) -------------------------------------------------------
W='import os,sys,time; n,pause,rest=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); f=open(os.environ["GF_OUTPUT"]+"/big","wb")
for i in range(n): f.write(os.urandom(1<<20)); f.flush(); os.fsync(f.fileno()); time.sleep(pause)
time.sleep(rest)'
wjob() {  # wjob NAME MIB PAUSE REST: a job writing MIB MiB to its output, PAUSE s apart, then sleeping REST s
  PY_JSON "$W" "$2" "$3" "$4" > "$TMP/cmd.json"
  spec "$1" "$(cat "$TMP/cmd.json")" 256 > "$TMP/w.json"
  "$GF" submit "$TMP/w.json" --token "$TA"
}
PY_JSON() { /usr/bin/python3 -c 'import json,sys; print(json.dumps(["/usr/bin/python3","-c"]+sys.argv[1:]))' "$@"; }
W1=$(wjob small 3 0 0) || fail "submit small"
W2=$(wjob slow 64 0.05 60) || fail "submit slow"
W3=$(wjob burst 20 0 0) || fail "submit burst"
[ "$(wait_state "$W1" 30 succeeded failed)" = succeeded ] && ok "a job writing 3 MiB under an 8 MiB quota succeeds" \
  || fail "small writer: $(reason "$W1")"
s=$(wait_state "$W2" 30 succeeded failed cancelled timed-out); rs=$(reason "$W2")
case "$s:$rs" in failed:"job folder quota exceeded"*"8 MiB allowed"*) ok "a job writing past the quota is stopped while it runs: $rs" ;;
  *) fail "slow writer: $s: $rs" ;; esac
sz=$(du -sm "$TMP/data/jobs/$W2" | cut -f1)
[ "$sz" -lt 64 ] && ok "it was stopped before writing all it meant to (its folder: $sz MiB of 64)" || fail "folder $sz MiB"
s=$(wait_state "$W3" 30 succeeded failed); rs=$(reason "$W3")
case "$s:$rs" in failed:"job folder quota exceeded"*) ok "a job ending over the quota between two looks fails too" ;;
  *) fail "burst writer: $s: $rs" ;; esac
finish
