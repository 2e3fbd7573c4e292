# The coordinator's HTTP edge against anonymous clients on loopback (a real
# gf coordinator; raw TLS/TCP clients in tests/http_edge.py):
#  - a client without credentials announcing a 256 MiB body is answered 401
#    at once, and a member's POST /v1/jobs goes through while it holds the
#    connection; a member's 256 MiB announcement to a JSON route gets 413;
#  - 300 silent TCP connections from one address: /v1/health still answers,
#    at most 64 are kept and none outlives the handshake timeout;
#  - anonymous requests with 8 KB URLs write no audit line each: one summary
#    line counts them, no line is long, token creation still works;
#  - a model download is streamed from disk (the coordinator's peak RSS
#    does not grow by the file's size);
#  - every answer carries the security headers, token creation no-store; a
#    revoked or expired token's 401 names no token id.
. tests/cli_lib.sh
. scripts/fed_local.sh
PY=/usr/bin/python3
trap 'fed_down; rm -rf "$TMP"' EXIT

"$GF" provision --out "$TMP/pki" --coordinator 127.0.0.1 --sites s1 > /dev/null || { fail "provision"; finish; exit 1; }
fed_coordinator "$TMP" --cores 1 --header-timeout 2 || { fail "coordinator start"; finish; exit 1; }
URL=${FED_URL%/}
CA="$TMP/pki/coordinator/ca.crt"
OP=$(cat "$TMP/data/operator.token")
export GF_COORDINATOR="$URL" GF_CA="$CA"
unset GF_KIT GF_TOKEN
py() { $PY tests/http_edge.py "$@" > "$TMP/py.out" 2>&1; cat "$TMP/py.out"; FAILS=$((FAILS + $(grep -c '^FAIL' "$TMP/py.out"))); \
       grep -q "^ok\|^FAIL" "$TMP/py.out" || fail "http_edge.py $1 printed no result"; }

"$GF" tenant add acme --shares 1 --token "$OP" > /dev/null || fail "tenant add"
TA=$("$GF" token create --tenant acme --token "$OP" 2>/dev/null)
"$GF" site-grant s1 --tenant acme --token "$OP" > /dev/null || fail "site-grant s1 to acme"   # the job needs min_sites 1 granted
cat > "$TMP/fed.json" <<SPEC
{"name": "edge", "model": "mlp:784-8-10", "dataset": "none", "strategy": {"name": "fedavg"},
 "rounds": 1, "min_sites": 1, "round_deadline_s": 600,
 "local": {"epochs": 1, "steps": 0, "batch": 64, "optim": {"name": "sgd", "lr": 0.01}}, "seed": 1, "tenant": "acme"}
SPEC

# ---- 3: unauthenticated bodies stall nothing ----------------------------------
py stall "$FED_PORT" "$TA" "$TMP/fed.json"

# ---- 4: slowloris --------------------------------------------------------------
py slowloris "$FED_PORT" 2

# ---- 7: anonymous refusals are summarised, not written one by one --------------
before=$(stat -c %s "$TMP/data/audit.log")
py flood "$FED_PORT" 175
after=$(stat -c %s "$TMP/data/audit.log")
[ $((after - before)) -lt 4096 ] && ok "175 anonymous requests grew the audit log by $((after - before)) bytes" \
  || fail "175 anonymous requests grew the audit log by $((after - before)) bytes"
T2=$(curl -s -o "$TMP/tok" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $OP" --data-binary '{"tenant":"acme"}' "$URL/v1/tokens")
[ "$T2" = 201 ] && ok "token creation after the flood: 201" || fail "token creation after the flood: $T2 $(cat "$TMP/tok")"

# ---- 11: security headers; 401 reasons without token ids -----------------------
curl -s -D "$TMP/h" -o "$TMP/tok" --cacert "$CA" -H "Authorization: Bearer $OP" --data-binary '{"tenant":"acme","expires_in_s":1}' "$URL/v1/tokens"
TX=$(jget 'd["token"]' < "$TMP/tok"); TXID=$(jget 'd["id"]' < "$TMP/tok")
for h in "Cache-Control: no-store" "X-Content-Type-Options: nosniff" "X-Frame-Options: DENY" "Referrer-Policy: no-referrer" \
         "Content-Security-Policy: default-src 'none'"; do
  grep -qi "^$h" "$TMP/h" && ok "token creation answers $h" || fail "token creation lacks $h: $(cat "$TMP/h")"
done
for p in / /static/app.js /v1/health /v1/jobs; do
  curl -s -D "$TMP/h" -o /dev/null --cacert "$CA" "$URL$p"
  n=$(grep -ci "^\(Content-Security-Policy\|X-Content-Type-Options\|X-Frame-Options\|Referrer-Policy\|Cache-Control\):" "$TMP/h")
  [ "$n" = 5 ] && ok "GET $p: the 5 security headers" || fail "GET $p: $n security headers: $(cat "$TMP/h")"
done
TR=$("$GF" token create --tenant acme --token "$OP" --json) && TRID=$(echo "$TR" | jget 'd["id"]') && TR=$(echo "$TR" | jget 'd["token"]')
"$GF" token revoke "$TRID" --token "$OP" > /dev/null
sleep 1.2
for t in "revoked:$TR:$TRID" "expired:$TX:$TXID"; do
  name=${t%%:*}; rest=${t#*:}; tok=${rest%:*}; id=${rest##*:}
  out=$(curl -s -w ' %{http_code}' --cacert "$CA" -H "Authorization: Bearer $tok" "$URL/v1/jobs")
  echo "$out" | grep -q "token $name.* 401$" && ! echo "$out" | grep -q "token $id\b" \
    && ok "$name token: 401 \"token $name\" without its id" || fail "$name token ($id): $out"
done

# ---- 8: downloads streamed from disk ----------------------------------------------
printf '{"kind":"central","name":"dl","model":"mlp:784-8-10","dataset":"fashion-mnist","epochs":1,"batch":64,"optim":{"name":"sgd","lr":0.01},"seed":1,"resources":{"cores":1,"gpus":0,"memory_mb":1024,"time_limit_s":600}}' > "$TMP/c.json"
J=$("$GF" submit "$TMP/c.json" --token "$TA")
"$GF" cancel "$J" --token "$TA" > /dev/null 2>&1
mkdir -p "$TMP/data/jobs/$J"
truncate -s 256M "$TMP/data/jobs/$J/model.safetensors"
hwm() { sed -n 's/^VmHWM:[ \t]*\([0-9]*\) kB/\1/p' /proc/$FED_CO_PID/status; }
h0=$(hwm)
n=$(curl -s -o /dev/null -w '%{size_download}' --cacert "$CA" -H "Authorization: Bearer $TA" "$URL/v1/jobs/$J/model")
h1=$(hwm)
[ "$n" = 268435456 ] && [ $((h1 - h0)) -lt 65536 ] && ok "a 256 MiB model downloaded ($n bytes), peak RSS +$(( (h1 - h0) / 1024 )) MiB" \
  || fail "download: $n bytes, peak RSS $h0 -> $h1 kB"

# ---- the summary line, once the coordinator stops ---------------------------------
kill -TERM "$FED_CO_PID"; wait "$FED_CO_PID" 2>/dev/null
grep '"requests.refused"' "$TMP/data/audit.log" | $PY -c '
import json, sys
n = sum(json.loads(l)["detail"]["no_credentials"] for l in sys.stdin)
print("ok" if n >= 175 else "FAIL", n)' > "$TMP/sum"
grep -q "^ok" "$TMP/sum" && ok "the audit log counts $(cut -d" " -f2 "$TMP/sum") anonymous refusals in summary lines" \
  || fail "anonymous refusals counted: $(cat "$TMP/sum")"
long=$(awk 'length($0) > 1024' "$TMP/data/audit.log" | wc -l)
[ "$long" = 0 ] && ok "no audit line longer than 1 KiB" || fail "$long audit lines longer than 1 KiB"
"$GF" audit verify "$TMP/data/audit.log" > /dev/null && ok "the audit log verifies" || fail "audit verify"
finish
