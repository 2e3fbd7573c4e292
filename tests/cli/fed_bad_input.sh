# Bad command lines of the federation commands: each names what is wrong,
# exits non-zero (not by a signal) and starts nothing.
. tests/cli_lib.sh
small_idx "$TMP/d" 100 20
"$GF" provision --out "$TMP/pki" --coordinator 127.0.0.1 --sites s0 > /dev/null
K="--kit $TMP/pki/sites/s0 --coordinator https://127.0.0.1:1/"
expect_error "site: shard without partition" "partition shard" -- "$GF" site $K --data "idx:$TMP/d" --shard 0/2
expect_error "site: shard out of range" "shard" -- "$GF" site $K --data "idx:$TMP/d" --partition iid --shard 2/2
expect_error "site: unknown partition" "partition iid dirichlet" -- "$GF" site $K --data "idx:$TMP/d" --partition kmeans --shard 0/2
expect_error "site: bad dirichlet alpha" "dirichlet" -- "$GF" site $K --data "idx:$TMP/d" --partition dirichlet:-1 --shard 0/2
expect_error "site: missing data" "data" -- "$GF" site $K --data "idx:$TMP/nothing"
expect_error "site: missing kit" "kit" -- "$GF" site --data "idx:$TMP/d"
expect_error "site: secagg record folder missing" "secagg-record writable" -- "$GF" site $K --data "idx:$TMP/d" --secagg-record "$TMP/no/such"
expect_error "site: kit that is not a kit" "site.key" -- "$GF" site --kit "$TMP/d" --data "idx:$TMP/d" --coordinator https://127.0.0.1:1/
expect_error "coordinator: listen without port" "listen HOST:PORT" -- "$GF" coordinator --data "$TMP/c" --listen 127.0.0.1 --tls "$TMP/pki"
expect_error "coordinator: port out of range" "port" -- "$GF" coordinator --data "$TMP/c" --listen 127.0.0.1:70000 --tls "$TMP/pki"
expect_error "coordinator: no TLS folder" "coordinator.key" -- "$GF" coordinator --data "$TMP/c" --listen 127.0.0.1:0 --tls "$TMP/none"
[ ! -e "$TMP/c" ] && ok "coordinator: nothing written after the refusal" || fail "coordinator: left $TMP/c behind"
expect_error "submit: no such spec file" "cannot open" -- "$GF" submit "$TMP/none.json" --kit "$TMP/pki/operator" --coordinator https://127.0.0.1:1/
expect_error "download: no --out" "out" -- "$GF" download 1 --kit "$TMP/pki/operator" --coordinator https://127.0.0.1:1/
expect_error "status: coordinator unreachable" "127.0.0.1" -- "$GF" status 1 --kit "$TMP/pki/operator" --coordinator https://127.0.0.1:1/
finish
