# gf provision: a CA, the coordinator's certificate and one kit per site,
# keys 0600 and folders 0700; site certificates verify against the CA (and
# not against another provisioning's); add-site; revoke puts the serial in
# the CRL; provisioning twice and bad arguments fail with clear errors.
. tests/cli_lib.sh
. scripts/fed_local.sh
P="$TMP/pki"
mode() { stat -c %a "$1"; }
expect_mode() { m=$(mode "$2" 2>/dev/null); [ "$m" = "$1" ] && ok "mode $1 $2" || fail "mode of $2 is $m, want $1"; }
verify() { certtool --verify --load-ca-certificate "$1" --infile "$2" >"$TMP/verify" 2>&1; }
serial() { certtool -i --infile "$1" | sed -n 's/.*Serial Number (hex): *//p' | head -1; }

"$GF" provision --out "$P" --coordinator 127.0.0.1:9443 --sites a,b,c >"$TMP/out" 2>"$TMP/err" \
  && ok "provision a,b,c" || { fail "provision: $(cat "$TMP/err")"; finish; exit 1; }
grep -q "sites/c/" "$TMP/out" && grep -q "ca/ca.crt" "$TMP/out" && ok "prints what it created" || fail "output: $(cat "$TMP/out")"
grep -q "^operator kit *$P/operator/ (site.key, site.crt, ca.crt, coordinator.url)" "$TMP/out" \
  && for f in site.key site.crt ca.crt coordinator.url; do [ -s "$P/operator/$f" ] || fail "operator kit lacks $f"; done \
  && ok "lists the operator kit it created" || fail "operator kit not listed: $(cat "$TMP/out")"

for d in "$P" "$P/ca" "$P/coordinator" "$P/sites" "$P/sites/a" "$P/sites/b" "$P/sites/c"; do expect_mode 700 "$d"; done
for k in "$P/ca/ca.key" "$P/coordinator/coordinator.key" "$P/sites/a/site.key" "$P/sites/c/site.key"; do expect_mode 600 "$k"; done
for f in ca/ca.crt ca/crl.pem coordinator/coordinator.crt coordinator/ca.crt coordinator/crl.pem \
         sites/a/site.crt sites/a/ca.crt sites/a/coordinator.url; do
  [ -s "$P/$f" ] || fail "missing $f"
done
[ "$(cat "$P/sites/b/coordinator.url")" = "https://127.0.0.1:9443/" ] && ok "coordinator.url" \
  || fail "coordinator.url is $(cat "$P/sites/b/coordinator.url")"

for s in a b c; do
  verify "$P/ca/ca.crt" "$P/sites/$s/site.crt" && grep -q "Verified" "$TMP/verify" \
    && ok "site $s verifies against the CA" || fail "site $s does not verify: $(cat "$TMP/verify")"
done
verify "$P/ca/ca.crt" "$P/coordinator/coordinator.crt" && ok "coordinator verifies" || fail "coordinator does not verify"
certtool -i --infile "$P/sites/a/site.crt" >"$TMP/info"
grep -q "Subject: CN=a$" "$TMP/info" && grep -q "TLS WWW Client" "$TMP/info" && ok "site a: CN and clientAuth" \
  || fail "site a profile: $(grep -E 'Subject|Purpose|WWW' "$TMP/info")"
certtool -i --infile "$P/coordinator/coordinator.crt" >"$TMP/info"
grep -q "Subject: CN=coordinator" "$TMP/info" && grep -q "TLS WWW Server" "$TMP/info" && grep -q "IPAddress: 127.0.0.1" "$TMP/info" \
  && ok "coordinator: CN, serverAuth, IP SAN" || fail "coordinator profile: $(grep -E 'Subject|WWW|IPAddress' "$TMP/info")"

# another provisioning's site is not trusted by the first CA
"$GF" provision --out "$TMP/other" --coordinator coord.example.org --sites a >/dev/null 2>&1 || fail "second provisioning"
[ "$(cat "$TMP/other/sites/a/coordinator.url")" = "https://coord.example.org:8443/" ] || fail "default port 8443"
if verify "$P/ca/ca.crt" "$TMP/other/sites/a/site.crt"; then fail "foreign site verifies against the CA"; else ok "foreign site refused"; fi

# add-site
"$GF" provision --out "$P" --add-site d >"$TMP/out" 2>"$TMP/err" && ok "add-site d" || fail "add-site: $(cat "$TMP/err")"
expect_mode 700 "$P/sites/d"
expect_mode 600 "$P/sites/d/site.key"
verify "$P/ca/ca.crt" "$P/sites/d/site.crt" && ok "site d verifies" || fail "site d does not verify"
expect_error "add-site duplicate" "already exists" -- "$GF" provision --out "$P" --add-site a
expect_error "add-site bad name" "character" -- "$GF" provision --out "$P" --add-site Bad_Name
expect_error "add-site reserved" "reserved" -- "$GF" provision --out "$P" --add-site coordinator
expect_error "add-site unprovisioned" "not provisioned" -- "$GF" provision --out "$TMP/none" --add-site x

# revoke
sb=$(serial "$P/sites/b/site.crt")
cp "$P/coordinator/crl.pem" "$TMP/crl.before"
"$GF" provision --out "$P" --revoke b >"$TMP/out" 2>"$TMP/err" && ok "revoke b" || fail "revoke: $(cat "$TMP/err")"
certtool --crl-info --infile "$P/ca/crl.pem" >"$TMP/crl" 2>&1
grep -q "Revoked certificates (1)" "$TMP/crl" && grep -q "Serial Number (hex): $sb" "$TMP/crl" \
  && ok "CRL lists b's serial $sb" || fail "CRL: $(cat "$TMP/crl")"
cmp -s "$P/ca/crl.pem" "$P/coordinator/crl.pem" && ok "coordinator's CRL copy updated" || fail "coordinator CRL differs"
# an older CRL copied back while the coordinator is down must not un-revoke b
# after a restart: the coordinator keeps the highest CRL number it had in force
fed_coordinator "$TMP" --cores 1 > /dev/null && ok "coordinator starts with the new CRL" || fail "coordinator start"
fed_down
[ "$(cat "$TMP/data/crl.number" 2>/dev/null)" = "2" ] && ok "CRL number 2 recorded" \
  || fail "crl.number: $(cat "$TMP/data/crl.number" 2>&1)"
cp "$P/coordinator/crl.pem" "$TMP/crl.after"
cp "$TMP/crl.before" "$P/coordinator/crl.pem"
if fed_coordinator "$TMP" --cores 1 > /dev/null; then fail "coordinator started with an older CRL"; fed_down
else grep -q "CRL number 1 is older than the 2 last in force" "$TMP/coordinator.log" && ok "older CRL refused at start" \
       || fail "log: $(tail -3 "$TMP/coordinator.log")"; fi
cp "$TMP/crl.after" "$P/coordinator/crl.pem"
expect_error "revoke unknown" "no site zz" -- "$GF" provision --out "$P" --revoke zz
expect_error "revoke twice" "already revoked" -- "$GF" provision --out "$P" --revoke b
expect_error "revoked name stays taken" "already exists revoked" -- "$GF" provision --out "$P" --add-site b

# provisioning twice changes nothing
cp "$P/ca/state.json" "$TMP/state.before"
expect_error "provision twice" "already provisioned" -- "$GF" provision --out "$P" --coordinator h --sites x
cmp -s "$P/ca/state.json" "$TMP/state.before" && [ ! -e "$P/sites/x" ] && ok "nothing changed" || fail "state changed"
ls "$TMP" | grep -q '\.tmp' && fail "temporary folder left behind: $(ls "$TMP")"

# usage and argument errors
expect_error "no --out" "--out" -- "$GF" provision --coordinator h
expect_error "no action" "exactly one" -- "$GF" provision --out "$TMP/u"
expect_error "two actions" "exactly one" -- "$GF" provision --out "$P" --add-site x --revoke a
expect_error "sites without coordinator" "--sites" -- "$GF" provision --out "$TMP/u" --sites a
expect_error "unknown flag" "--frobnicate" -- "$GF" provision --out "$TMP/u" --frobnicate
expect_error "empty site in list" "empty" -- "$GF" provision --out "$TMP/u" --coordinator h --sites a,,b
expect_error "duplicate site" "twice" -- "$GF" provision --out "$TMP/u" --coordinator h --sites a,a
expect_error "bad port" "port" -- "$GF" provision --out "$TMP/u" --coordinator h:70000
expect_error "bad host" "neither" -- "$GF" provision --out "$TMP/u" --coordinator "bad_host"
[ ! -e "$TMP/u" ] && ok "failed runs create nothing" || fail "$TMP/u exists after failures"
"$GF" provision --out "$P" --coordinator h >/dev/null 2>&1; [ $? -eq 1 ] && ok "failure exits 1" || fail "failure exit"
"$GF" provision --frobnicate >/dev/null 2>&1; [ $? -eq 2 ] && ok "usage error exits 2" || fail "usage error exit"
"$GF" provision --help | grep -q -- "--add-site" && "$GF" provision --help | grep -q -- "--revoke" \
  && ok "gf provision --help" || fail "gf provision --help"
finish
