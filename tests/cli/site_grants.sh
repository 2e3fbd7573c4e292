# Sites belong to tenants, with real processes (gf coordinator, gf site):
#  - the operator grants sites to tenants (gf site-grant), each grant and
#    revoke audited; members cannot grant, unknown sites and tenants refused;
#  - a tenant's job naming a site not granted to it is a 400 naming the site;
#    "sites": "all" with fewer granted sites than min_sites is a 400;
#  - beta's "all" job runs only on beta's sites (s0, granted to alpha only,
#    is online and never chosen: status site_names), and its task message
#    names tenant beta; the operator's own job's task names none (null);
#  - a site started with --allow-tenant alpha declines beta's task even when
#    the operator granted it to beta, and the operator's own: the coordinator
#    audits each decline with the site's reason and the job fails naming it;
#    alpha's job runs on it;
#  - a running job whose granted sites are too few waits, and says why.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
small_idx "$TMP/d" 1200 200
fed_provision "$TMP" 4
fed_coordinator "$TMP" || { fail "coordinator start"; finish; exit 1; }
URL=${FED_URL%/}
CA="$TMP/pki/coordinator/ca.crt"
export GF_COORDINATOR="$URL" GF_CA="$CA"
unset GF_KIT GF_TOKEN
OP=$(cat "$TMP/data/operator.token")
AUDIT="$TMP/data/audit.log"

# api METHOD PATH TOKEN [BODY]: prints "STATUS" on line 1, the body after
api() {
  if [ -n "${4:-}" ]; then
    curl -s -o "$TMP/resp" -w '%{http_code}\n' --cacert "$CA" -X "$1" -H "Authorization: Bearer $3" --data-binary "$4" "$URL$2"
  else
    curl -s -o "$TMP/resp" -w '%{http_code}\n' --cacert "$CA" -X "$1" -H "Authorization: Bearer $3" "$URL$2"
  fi
  cat "$TMP/resp"; echo
}
# as_site NAME PATH: GET with site NAME's certificate; status on line 1, body after
as_site() {
  curl -s -o "$TMP/resp" -w '%{http_code}\n' --cacert "$CA" --cert "$TMP/pki/sites/$1/site.crt" \
       --key "$TMP/pki/sites/$1/site.key" "$URL$2"
  cat "$TMP/resp"; echo
}
# fedjob NAME SITES MIN_SITES ROUNDS: a small federated job spec
fedjob() {
  printf '{"name":"%s","model":"mlp:784-16-10","dataset":"fashion-mnist","strategy":{"name":"fedavg"},"rounds":%s,"sites":%s,"fraction":1.0,"min_sites":%s,"round_deadline_s":60,"local":{"epochs":1,"steps":null,"batch":32,"optim":{"name":"sgd","lr":0.05}},"seed":3}' \
    "$1" "$4" "$2" "$3"
}
status_json() { "$GF" status "$1" --token "$OP" --json; }

"$GF" tenant add alpha --shares 1 --token "$OP" > /dev/null && "$GF" tenant add beta --shares 1 --token "$OP" > /dev/null \
  && "$GF" tenant add gamma --shares 1 --token "$OP" > /dev/null || fail "tenant add"
TA=$("$GF" token create --tenant alpha --token "$OP" 2>/dev/null)
TB=$("$GF" token create --tenant beta --token "$OP" 2>/dev/null)
TG=$("$GF" token create --tenant gamma --token "$OP" 2>/dev/null)

# ---- grants: the operator's, audited ------------------------------------------
for g in s0:alpha s1:alpha s1:beta s2:beta; do
  "$GF" site-grant "${g%:*}" --tenant "${g#*:}" --token "$OP" > /dev/null || fail "site-grant $g"
done
out=$(api POST /v1/site-grants "$OP" '{"site":"s1","tenant":"beta"}')
[ "$(echo "$out" | head -1)" = 200 ] && ok "granting twice is the same grant (200, not 201)" || fail "grant twice: $out"
[ "$(grep -c '"site.granted"' "$AUDIT")" = 4 ] && grep '"site.granted"' "$AUDIT" | grep -q '"site":"s0","tenant":"alpha"' \
  && ok "4 grants, 4 audit lines" || fail "audit: $(grep -c '"site.granted"' "$AUDIT") site.granted lines"
expect_error "a member cannot grant" "403 operators" -- "$GF" site-grant s0 --tenant beta --token "$TB"
expect_error "an unknown site" "400 s9 provisioned" -- "$GF" site-grant s9 --tenant beta --token "$OP"
expect_error "the operator kit is no site" "400 operator" -- "$GF" site-grant operator --tenant beta --token "$OP"
expect_error "an unknown tenant" "400 nobody" -- "$GF" site-grant s0 --tenant nobody --token "$OP"
expect_error "revoking what was never granted" "404 s3 gamma" -- "$GF" site-grant s3 --tenant gamma --revoke --token "$OP"
expect_error "--allow-tenant with a bad name" "allow-tenant @operator" -- "$GF" site --kit "$TMP/pki/sites/s0" \
  --data fashion-mnist --allow-tenant 'alpha,a b'
out=$(api POST /v1/site-grants "$OP" '{"site":"s0","tenant":"beta","colour":1}')
[ "$(echo "$out" | head -1)" = 400 ] && echo "$out" | grep -q colour && ok "unknown key: 400" || fail "unknown key: $out"
"$GF" site-grant list --token "$TB" > "$TMP/list"
grep -q "beta.*s1" "$TMP/list" && grep -q "beta.*s2" "$TMP/list" && ! grep -q alpha "$TMP/list" \
  && ok "beta's member lists beta's grants only" || fail "member list: $(cat "$TMP/list")"
[ "$("$GF" site-grant list --token "$OP" --json | jget 'len(d["grants"])')" = 4 ] && ok "the operator lists all 4" \
  || fail "operator list: $("$GF" site-grant list --token "$OP")"

# ---- submission: only granted sites --------------------------------------------
out=$(api POST /v1/jobs "$TB" "$(fedjob b-x '["s1","s0"]' 1 1)")
[ "$(echo "$out" | head -1)" = 400 ] && echo "$out" | grep -q 'sites\[1\]: site \\"s0\\" is not granted to tenant \\"beta\\"' \
  && ok "beta naming s0 (alpha's): $(echo "$out" | tail -n +2 | head -c 120)" || fail "beta naming s0: $out"
out=$(api POST /v1/jobs "$TG" "$(fedjob g-x '"all"' 1 1)")
[ "$(echo "$out" | head -1)" = 400 ] && echo "$out" | grep -q 'min_sites: tenant \\"gamma\\" is granted 0 sites' \
  && ok "gamma with no sites: 400 min_sites" || fail "gamma all: $out"
out=$(api POST /v1/jobs "$TB" "$(fedjob b-x '"all"' 3 1)")
[ "$(echo "$out" | head -1)" = 400 ] && echo "$out" | grep -q 'granted 2 sites, fewer than min_sites 3' \
  && ok "beta's all with min_sites 3 > 2 granted: 400" || fail "beta min_sites 3: $out"
[ "$(api GET /v1/jobs "$OP" | tail -n +2 | jget 'len(d["jobs"])')" = 0 ] && ok "no job created by the refusals" || fail "jobs were created"

# ---- beta's "all" job: s1 and s2 only, s0 online; the task names beta ---------
fed_site "$TMP" s0 --data "idx:$TMP/d" --partition iid --shard 0/3 --threads 1 --allow-tenant alpha
t=0; until grep -q "connected to the coordinator" "$TMP/site-s0.log" 2>/dev/null || [ $t -gt 100 ]; do sleep 0.1; t=$((t+1)); done
JB=$(api POST /v1/jobs "$TB" "$(fedjob b-all '"all"' 2 2)" | tail -n +2 | jget 'd["id"]')
as_site s1 "/v1/site/task?wait=0" > /dev/null
as_site s2 "/v1/site/task?wait=0" > /dev/null
out=$(as_site s1 "/v1/site/task?wait=20")
[ "$(echo "$out" | head -1)" = 200 ] && [ "$(echo "$out" | tail -n +2 | jget 'd["tenant"]+" "+str(d["job"])')" = "beta $JB" ] \
  && ok "the task of beta's job names tenant beta" || fail "task: $out"
for i in 1 2; do fed_site "$TMP" s$i --data "idx:$TMP/d" --partition iid --shard $i/3 --threads 1; done
token_wait_state "$JB" succeeded 120 && ok "beta's all job succeeded" || fail "beta's job: $(status_json "$JB")"
status_json "$JB" | jget '[r["site_names"] for r in d["rounds"]]' > "$TMP/names"
[ "$(cat "$TMP/names")" = "[['s1', 's2'], ['s1', 's2']]" ] && ok "its rounds ran on s1, s2 (s0 online, never chosen)" \
  || fail "site names: $(cat "$TMP/names")"
grep -q "job $JB" "$TMP/site-s0.log" && fail "s0 saw beta's job: $(grep "job $JB" "$TMP/site-s0.log")" || ok "s0 never got a task of it"

# ---- the site's own policy: s0 takes alpha's jobs only ---------------------------
"$GF" site-grant s0 --tenant beta --token "$OP" > /dev/null || fail "grant s0 to beta"
JD=$(api POST /v1/jobs "$TB" "$(fedjob b-s0 '["s0"]' 1 1)" | tail -n +2 | jget 'd["id"]')
token_wait_state "$JD" failed 60 && ok "beta's job on s0 failed" || fail "beta's job on s0: $(status_json "$JD")"
reason=$(status_json "$JD" | jget 'd["reason"]')
case "$reason" in *"s0 declined: site policy: this site does not take tasks of tenant \"beta\""*) ok "its reason names s0's refusal: $reason" ;;
  *) fail "reason: $reason" ;; esac
n=$(grep '"site.declined"' "$AUDIT" | grep "\"job\":$JD," | grep -c 'tenant \\"beta\\"')
[ "$n" = 3 ] && ok "the coordinator audited s0's 3 declines with the reason" || fail "site.declined lines for job $JD: $n"
grep '"round.aborted"' "$AUDIT" | grep "\"job\":$JD," | grep -q "s0 declined: site policy" \
  && ok "the aborted round records the decline" || fail "round.aborted lacks the decline"
status_json "$JD" | jget '[(x["site"], x["round"], x["reason"][:59]) for x in d["declines"]]' > "$TMP/declines"
[ "$(cat "$TMP/declines")" = "[('s0', 1, 'site policy: this site does not take tasks of tenant \"beta\"')]" ] \
  && ok "status --json: s0's last decline (round 1) with its reason" || fail "declines: $(cat "$TMP/declines")"
"$GF" status "$JD" --token "$OP" | grep -q "^    s0, round 1: site policy: this site does not take tasks of tenant \"beta\"" \
  && ok "plain gf status lists the decline" || fail "plain status: $("$GF" status "$JD" --token "$OP")"
fedjob op-s0 '["s0"]' 1 1 > "$TMP/op.json"
JO=$("$GF" submit "$TMP/op.json" --token "$OP")
token_wait_state "$JO" failed 60 && status_json "$JO" | jget 'd["reason"]' | grep -q "operator's own jobs" \
  && ok "the operator's own job is declined too (no @operator)" || fail "operator's job on s0: $(status_json "$JO")"
JA=$(api POST /v1/jobs "$TA" "$(fedjob a-all '"all"' 2 1)" | tail -n +2 | jget 'd["id"]')
token_wait_state "$JA" succeeded 120 && [ "$(status_json "$JA" | jget 'd["rounds"][0]["site_names"]')" = "['s0', 's1']" ] \
  && ok "alpha's all job ran on s0 and s1" || fail "alpha's job: $(status_json "$JA")"

# ---- too few granted sites at run time: the job waits and says why ---------------
"$GF" site-grant s1 --tenant gamma --token "$OP" > /dev/null && "$GF" site-grant s3 --tenant gamma --token "$OP" > /dev/null \
  || fail "grants to gamma"
JG=$(api POST /v1/jobs "$TG" "$(fedjob g-all '"all"' 2 1)" | tail -n +2 | jget 'd["id"]')
token_wait_state "$JG" running 30 || fail "gamma's job did not start"
sleep 0.5
w=$(status_json "$JG" | jget 'd.get("waiting")')
[ "$w" = 'waiting for sites: 1 online that the job may use, min_sites 2 (tenant "gamma" is granted 2 sites)' ] \
  && ok "gamma's job (s3 offline) waits: $w" || fail "waiting: $w"
"$GF" site-grant s3 --tenant gamma --revoke --token "$OP" > /dev/null || fail "revoke s3 from gamma"
grep '"site.revoked"' "$AUDIT" | grep -q '"site":"s3","tenant":"gamma"' && ok "the revoke is audited" || fail "no site.revoked line"
w=$("$GF" status "$JG" --token "$TG")
echo "$w" | grep -q 'is granted 1 site)' && ok "after the revoke: $(echo "$w" | sed -n 2p)" || fail "status after revoke: $w"
"$GF" cancel "$JG" --token "$TG" > /dev/null || fail "cancel gamma's job"
# ---- a site's decline reason is kept bounded: 200 bytes, no control bytes --------
fedjob op-s3 '["s3"]' 1 1 > "$TMP/op3.json"
J3=$("$GF" submit "$TMP/op3.json" --token "$OP")
task=$(as_site s3 "/v1/site/task?wait=20")
r=$(echo "$task" | tail -n +2 | jget 'd["round"]')
/usr/bin/python3 -c 'import json; import sys; sys.stdout.buffer.write(json.dumps({"error": "x\u0001\n" + "\u00e9" * 1000}, ensure_ascii=False).encode())' > "$TMP/long.json"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --cert "$TMP/pki/sites/s3/site.crt" --key "$TMP/pki/sites/s3/site.key" \
       -X POST --data-binary @"$TMP/long.json" "$URL/v1/jobs/$J3/rounds/$r/decline")
status_json "$J3" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)["declines"]
assert len(d) == 1 and d[0]["site"] == "s3" and d[0]["round"] == 1, d
why = d[0]["reason"]
assert why == "x??" + "\u00e9" * 98 + "...", why
assert len(why.encode()) <= 203, len(why.encode())' && [ "$code" = 200 ] \
  && ok "a long reason with control bytes is kept cut to 200 bytes, control bytes as ?" || fail "long decline: $code $(status_json "$J3" | head -c 600)"
"$GF" cancel "$J3" --token "$OP" > /dev/null || fail "cancel $J3"
"$GF" audit verify "$AUDIT" > /dev/null && ok "audit log verifies" || fail "audit verify"
finish
