# Members never name files (docs/security.md, "Datasets"): with real
# processes, a member's job that names a path (the operator token's file,
# /etc/passwd, /dev/zero) is refused before anything is read; jobs name
# datasets the operator registered, and only those granted to their tenant;
# a registered file replaced by a link out of its place is refused; a
# federated job's evaluation runs in a child process, so a hostile eval file
# can neither reach the coordinator's memory nor put its bytes into a reason,
# the status or the audit log. Also: the first operator token's file is
# removed at its first use, and tenant names are unique regardless of case.
. tests/cli_lib.sh
. scripts/fed_local.sh
trap 'fed_down; rm -rf "$TMP"' EXIT
SECRET=gf_TOPSECRETLINE42

fed_provision "$TMP" 1
fed_coordinator "$TMP" --cores 2 || { fail "coordinator start"; finish; exit 1; }
URL=${FED_URL%/}
CA="$TMP/pki/coordinator/ca.crt"
export GF_COORDINATOR="$URL" GF_CA="$CA"
unset GF_KIT GF_TOKEN

# api METHOD PATH TOKEN [BODY]: prints "STATUS" on line 1, the body after
api() {
  curl -s -o "$TMP/resp" -w '%{http_code}\n' --cacert "$CA" -X "$1" -H "Authorization: Bearer $3" \
       ${4:+--data-binary "$4"} "$URL$2"
  cat "$TMP/resp"; echo
}
central() {  # central NAME DATASET
  printf '{"kind":"central","name":"%s","model":"mlp:4-8-3","dataset":"%s","epochs":1,"batch":16,"seed":1,"resources":{"cores":1,"gpus":0,"memory_mb":4096,"time_limit_s":300}}' "$1" "$2"
}
federated() {  # federated NAME EVAL
  printf '{"name":"%s","model":"mlp:784-16-10","dataset":"sites-own","strategy":{"name":"fedavg"},"rounds":2,"min_sites":1,"round_deadline_s":60,"local":{"epochs":1,"batch":32},"seed":1,"eval":"%s"}' "$1" "$2"
}

# ---- the first operator token's file ---------------------------------------
OP=$(cat "$TMP/data/operator.token")
[ -n "$OP" ] && ok "first operator token read" || fail "no operator token"
"$GF" tenant add acme --shares 10 --token "$OP" > /dev/null && ok "tenant added with the first token" || fail "tenant add"
[ ! -e "$TMP/data/operator.token" ] && ok "operator.token removed at the token's first use" \
  || fail "operator.token still in the data folder after its first use"
grep -q "token.file-removed" "$TMP/data/audit.log" && ok "its removal is audited" || fail "no token.file-removed in the audit log"
"$GF" tenant add beta --shares 10 --token "$OP" > /dev/null && ok "the token stays valid" || fail "token refused after its file went"
expect_error "tenant names are unique regardless of case" "exists case" -- "$GF" tenant add ACME --shares 1 --token "$OP"
expect_error "Beta vs beta" "exists" -- "$GF" tenant add Beta --shares 1 --token "$OP"
TA=$("$GF" token create --tenant acme --token "$OP")
TB=$("$GF" token create --tenant beta --token "$OP")

# ---- data on the facility ----------------------------------------------------
printf '%s,x\n1,2\n' "$SECRET" > "$TMP/data/secret.csv"          # something a member must never read
mkdir -p "$TMP/reg"
/usr/bin/python3 - "$TMP/reg/iris.csv" <<'PY'
import random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    f.write("a,b,c,d,label\n")
    for i in range(300):
        k = i % 3
        f.write(",".join("%.3f" % (k + random.gauss(0, 0.3)) for _ in range(4)) + ",%d\n" % k)
PY
cp "$TMP/reg/iris.csv" "$TMP/reg/swap.csv"
small_idx "$TMP/d" 600 200

# ---- finding 1: a member names a file ------------------------------------------
for ds in 'csv:../../operator.token,label=zz' 'csv:/etc/passwd' 'csv:secret.csv,label=x' '../data/secret.csv' 'idx:/usr/share'; do
  r=$(api POST /v1/jobs "$TA" "$(central steal "$ds")")
  case "$r" in 400*"dataset: a dataset name"*) ok "central job naming \"$ds\": 400" ;; *) fail "central job naming \"$ds\": $r" ;; esac
done
for ev in 'csv:state/operator.token,label=zz' 'csv:/dev/zero,label=y' 'idx:/tmp:test' '../d:test'; do
  r=$(api POST /v1/jobs "$TA" "$(federated steal "$ev")")
  case "$r" in 400*"eval:"*) ok "federated eval \"$ev\": 400" ;; *) fail "federated eval \"$ev\": $r" ;; esac
done
r=$(api POST /v1/jobs "$TA" "$(central nosuch nosuch)")
case "$r" in 400*'no dataset \"nosuch\"'*) ok "an unregistered name: 400" ;; *) fail "unregistered: $r" ;; esac
r=$(api GET /v1/jobs "$OP")
echo "$r" | sed 1d | jget 'len(d["jobs"])' | grep -qx 0 && ok "no job was created" || fail "jobs created: $r"

# ---- registration: the operator only, checked ----------------------------------
expect_error "a member cannot register" "403 operators" -- "$GF" dataset add mine --path "$TMP/reg/iris.csv" --public --token "$TA"
expect_error "a missing path" "400 path" -- "$GF" dataset add x --path "$TMP/none.csv" --public --token "$OP"
expect_error "a device" "400 neither" -- "$GF" dataset add z --path /dev/zero --public --token "$OP"
expect_error "a name with a slash" "400 dataset name" -- "$GF" dataset add a/b --path "$TMP/reg/iris.csv" --public --token "$OP"
expect_error "the built-in name" "400 built-in" -- "$GF" dataset add Fashion-MNIST --path "$TMP/reg/iris.csv" --public --token "$OP"
expect_error "an unknown tenant" "400 no tenant" -- "$GF" dataset add y --path "$TMP/reg/iris.csv" --tenant nobody --token "$OP"
"$GF" dataset add iris --path "$TMP/reg/iris.csv" --label label --tenant acme --token "$OP" > /dev/null \
  && ok "iris registered for acme" || fail "dataset add iris: $(cat "$TMP/err" 2>/dev/null)"
"$GF" dataset add swap --path "$TMP/reg/swap.csv" --tenant acme --token "$OP" > /dev/null || fail "dataset add swap"
"$GF" dataset add digits --path "$TMP/d" --public --token "$OP" > /dev/null || fail "dataset add digits"
expect_error "a name twice (any case)" "409 exists" -- "$GF" dataset add IRIS --path "$TMP/reg/iris.csv" --public --token "$OP"

"$GF" dataset list --token "$TB" --json > "$TMP/lb"
jget '",".join(x["name"] for x in d["datasets"])' < "$TMP/lb" | grep -qx "fashion-mnist,digits" \
  && ok "beta lists only the public datasets" || fail "beta's list: $(cat "$TMP/lb")"
grep -q "$TMP" "$TMP/lb" && fail "a member's list shows paths" || ok "a member's list shows no paths"
"$GF" dataset list --token "$TA" --json | jget '",".join(x["name"] for x in d["datasets"])' | grep -qx "fashion-mnist,digits,iris,swap" \
  && ok "acme lists its own and the public ones" || fail "acme's list"
"$GF" dataset list --token "$OP" | grep -q "iris .*csv .*acme .*$TMP/reg/iris.csv" && ok "the operator's list shows access and path" \
  || fail "operator's list: $("$GF" dataset list --token "$OP")"

# ---- grants -------------------------------------------------------------------
r=$(api POST /v1/jobs "$TB" "$(central peek iris)")
case "$r" in 400*'no dataset \"iris\" that this tenant may read'*) ok "beta naming acme's dataset: 400, as for a missing one" ;;
  *) fail "beta naming iris: $r" ;; esac
J=$("$GF" submit /dev/stdin --token "$TA" <<EOF
$(central train-iris iris)
EOF
)
[ -n "$J" ] && token_wait_state "$J" succeeded 120 && ok "acme's central job on iris succeeded" || fail "iris job: $("$GF" logs "$J" --stderr --token "$OP" 2>&1 | tail -3)"

# ---- a registered file replaced by a link out of its place ----------------------
rm "$TMP/reg/swap.csv" && ln -s "$TMP/data/secret.csv" "$TMP/reg/swap.csv"
r=$(api POST /v1/jobs "$TA" "$(central swapped swap)")
case "$r" in 400*"no longer as registered"*) ok "a registered file swapped for a link: 400" ;; *) fail "swapped: $r" ;; esac
echo "$r" | grep -q "$SECRET" && fail "the swapped file's content in the answer" || true

# ---- finding 1 and 2 through the eval set: a child process, our words ------------
printf '%s,%s\n' "$SECRET" "$(seq -s, 1 784 | sed 's/[0-9]*/0/g')" > "$TMP/reg/badeval.csv"
for i in 1 2 3; do printf '%s\n' "$(seq -s, 0 784 | sed 's/[0-9]*/1/g')" >> "$TMP/reg/badeval.csv"; done
"$GF" dataset add badeval --path "$TMP/reg/badeval.csv" --label y --public --token "$OP" > /dev/null || fail "dataset add badeval"
fed_site "$TMP" s0 --data "idx:$TMP/d" --threads 1
"$GF" site-grant s0 --tenant acme --token "$OP" > /dev/null || fail "site-grant s0"
r=$(api POST /v1/jobs "$TA" "$(federated no-test badeval:test)")
case "$r" in 400*'eval: dataset \"badeval\" has no test split'*) ok "eval NAME:test of a CSV registered without a test file: 400" ;;
  *) fail "eval badeval:test: $r" ;; esac
JE=$("$GF" submit /dev/stdin --token "$TA" <<EOF
$(federated hostile-eval badeval:train)
EOF
)
JG=$("$GF" submit /dev/stdin --token "$TA" <<EOF
$(federated good-eval digits:test)
EOF
)
token_wait_state "$JE" succeeded 120 && ok "a job with an unreadable eval set runs its rounds" || fail "hostile-eval job"
token_wait_state "$JG" succeeded 120 && ok "a job with a good eval set succeeds" || fail "good-eval job"
acc=$("$GF" status "$JG" --token "$TA" --json | jget '"%.4f" % d["rounds"][-1]["accuracy"]')
"$GF" download "$JG" --out "$TMP/g.safetensors" --token "$TA" > /dev/null || fail "download good-eval"
"$GF" eval --model-file "$TMP/g.safetensors" --dataset "idx:$TMP/d" --json | tail -1 | jget '"%.4f" % d["test_accuracy"]' | grep -qx "$acc" \
  && ok "its rounds have the child's accuracy ($acc, as gf eval of the downloaded model)" || fail "good-eval accuracy $acc"
"$GF" status "$JE" --token "$TA" --json > "$TMP/se"
jget 'all(r["accuracy"] is None for r in d["rounds"])' < "$TMP/se" | grep -qx True && ok "its rounds report no accuracy" \
  || fail "hostile-eval accuracy: $(cat "$TMP/se" | head -c 400)"
grep -q '"eval.failed".*the evaluation failed (exit status' "$TMP/data/audit.log" && ok "the failure is audited in our words" \
  || fail "no eval.failed line: $(grep eval "$TMP/data/audit.log" | tail -2)"
[ "$(grep -c '"eval.failed"' "$TMP/data/audit.log")" = 1 ] && ok "and tried once, not every round" || fail "eval retried"
for f in "$TMP/data/audit.log" "$TMP/se" "$TMP/coordinator.log"; do
  grep -q "$SECRET" "$f" && fail "the eval file's content is in $(basename "$f")" || ok "no byte of the eval file in $(basename "$f")"
done
finish
