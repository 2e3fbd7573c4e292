# gf audit: append builds a hash-chained log (mode 0600) that verify accepts
# and whose hashes sha256sum reproduces; an altered byte, a removed line,
# swapped lines and an edited seq are named by line (exit 1) and appending to
# such a log is refused; a torn final line is reported by verify and cut off
# (and recorded) by the next append; bad input and usage errors fail clearly.
. tests/cli_lib.sh
L="$TMP/audit.jsonl"

for i in 1 2 3 4 5 6; do
  "$GF" audit append "$L" --actor operator --event site.added --detail "{\"site\":\"s$i\",\"n\":$i}" \
    >"$TMP/out" 2>"$TMP/err" || fail "append $i: $(cat "$TMP/err")"
done
grep -q "appended seq 6 to $L" "$TMP/out" && ok "append prints the seq" || fail "append output: $(cat "$TMP/out")"
[ "$(stat -c %a "$L")" = 600 ] && ok "log is 0600" || fail "log mode $(stat -c %a "$L")"
[ "$(wc -l <"$L")" -eq 6 ] && ok "6 lines" || fail "$(wc -l <"$L") lines"

"$GF" audit verify "$L" >"$TMP/out" 2>"$TMP/err"; rc=$?
last=$(tail -1 "$L" | sed 's/.*"hash":"\([0-9a-f]*\)"}$/\1/')
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "ok: 6 entries, last hash $last" ] && ok "verify: $(cat "$TMP/out")" \
  || fail "verify: exit $rc: $(cat "$TMP/out" "$TMP/err")"

# each hash is SHA-256 of the line without ,"hash":"..." (its last 75 bytes) plus "}"
good=1; prev=0000000000000000000000000000000000000000000000000000000000000000
while IFS= read -r line; do
  h=$(printf '%s}' "${line%,?hash?:*}" | sha256sum | cut -d' ' -f1)
  case "$line" in *"\"prev\":\"$prev\",\"hash\":\"$h\"}") ;; *) good=0 ;; esac
  prev=$h
done <"$L"
[ $good -eq 1 ] && ok "sha256sum reproduces every hash and prev link" || fail "hash chain differs from sha256sum"
head -1 "$L" | grep -q '^{"seq":1,"time":"[0-9-]*T[0-9:]*\.[0-9]\{3\}Z","actor":"operator","event":"site.added","detail":{"site":"s1","n":1},"prev":"0\{64\}","hash":"[0-9a-f]\{64\}"}$' \
  && ok "line format" || fail "line 1: $(head -1 "$L")"

# expect_bad NAME PHRASE: verify of $TMP/t must exit 1 naming the file and PHRASE;
# append must refuse it and leave it unchanged
expect_bad() {
  "$GF" audit verify "$TMP/t" >"$TMP/out" 2>"$TMP/err"; rc=$?
  if [ $rc -eq 1 ] && grep -qF "gf audit: $TMP/t: $2" "$TMP/err"; then ok "$1: $(cat "$TMP/err")"
  else fail "$1: exit $rc, stderr: $(cat "$TMP/err")"; fi
  cp "$TMP/t" "$TMP/t.before"
  expect_error "$1: append refused" "line" -- "$GF" audit append "$TMP/t" --actor a --event e
  cmp -s "$TMP/t" "$TMP/t.before" || fail "$1: append changed the log"
}
sed 's/"s3"/"s9"/' "$L" >"$TMP/t";                expect_bad "altered byte" "line 3: hash mismatch (entry altered)"
sed '4d' "$L" >"$TMP/t";                          expect_bad "removed line" "line 4: seq 5, expected 4"
awk 'NR==2{h=$0;next} NR==3{print;print h;next} 1' "$L" >"$TMP/t"; expect_bad "swapped lines" "line 2: seq 3, expected 2"
sed '5s/"seq":5/"seq":7/' "$L" >"$TMP/t";         expect_bad "edited seq" "line 5: hash mismatch"
{ cat "$L"; sed -n 2p "$L"; } >"$TMP/t";          expect_bad "replayed line" "line 7: seq 2, expected 7"
printf 'not json\n' >"$TMP/t";                    expect_bad "foreign file" "line 1: not valid JSON"

# a torn final line (a crash mid-write): verify reports it, append cuts it off
cp "$L" "$TMP/torn"
printf '{"seq":7,"time":"20' >>"$TMP/torn"
expect_error "verify torn tail" "line 7: incomplete final line" -- "$GF" audit verify "$TMP/torn"
"$GF" audit append "$TMP/torn" --actor operator --event after.crash >"$TMP/out" 2>"$TMP/err" \
  && grep -q "appended seq 8" "$TMP/out" && ok "append after a torn tail" || fail "append after torn tail: $(cat "$TMP/out" "$TMP/err")"
sed -n 7p "$TMP/torn" | grep -q '"event":"audit.recovered","detail":{"cut_bytes":19,' \
  && ok "recovery recorded: $(sed -n 7p "$TMP/torn" | cut -c1-120)" || fail "line 7: $(sed -n 7p "$TMP/torn")"
"$GF" audit verify "$TMP/torn" | grep -q "^ok: 8 entries" && ok "repaired log verifies" || fail "repaired log does not verify"

# bad input
cp "$L" "$TMP/before"
expect_error "empty actor" "actor must be 1..128" -- "$GF" audit append "$L" --actor "" --event e
expect_error "actor with space" "printable ASCII" -- "$GF" audit append "$L" --actor "a b" --event e
expect_error "detail not JSON" "detail is not valid JSON" -- "$GF" audit append "$L" --actor a --event e --detail '{bad'
expect_error "detail not object" "must be a JSON object" -- "$GF" audit append "$L" --actor a --event e --detail '[1]'
cmp -s "$L" "$TMP/before" && ok "rejected input wrote nothing" || fail "log changed by rejected input"
expect_error "missing file" "cannot open" -- "$GF" audit verify "$TMP/none.jsonl"
expect_error "no --event" "--event" -- "$GF" audit append "$L" --actor a
expect_error "unknown action" "unknown action" -- "$GF" audit frobnicate
expect_error "unknown flag" "--frobnicate" -- "$GF" audit append "$L" --actor a --event e --frobnicate
"$GF" audit verify >/dev/null 2>&1; [ $? -eq 2 ] && ok "usage error exits 2" || fail "usage error exit"
"$GF" audit verify "$TMP/t" >/dev/null 2>&1; [ $? -eq 1 ] && ok "failed check exits 1" || fail "failed check exit"
"$GF" audit --help | grep -q "verify FILE" && "$GF" audit --help | grep -q -- "--detail" \
  && ok "gf audit --help" || fail "gf audit --help"
finish
