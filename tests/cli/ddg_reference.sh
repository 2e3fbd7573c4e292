# The distributed discrete Gaussian's reference, tests/data/ddg_reference.txt
# (scripts/gen_ddg_reference.py, compared with the accountant by
# tests/test_ddg.c): when Debian's python3 has mpmath, the script is run
# again and must write the committed file byte for byte (checked once per
# version of the script, the file and mpmath: the result is kept in build/,
# keyed by their checksums). The test binary is run against it here as well.
. tests/cli_lib.sh
REF=tests/data/ddg_reference.txt
BIN=$(dirname "$GF")/tests/test_ddg

if [ -x "$BIN" ]; then
  "$BIN" >"$TMP/out" 2>&1 && ok "test_ddg: $(tail -2 "$TMP/out" | tr '\n' ' ')" || fail "test_ddg: $(cat "$TMP/out")"
fi
if /usr/bin/python3 -c 'import mpmath' 2>/dev/null; then
  key=$(cat scripts/gen_ddg_reference.py "$REF" | sha256sum | cut -c1-16)-$(/usr/bin/python3 -c 'import mpmath; print(mpmath.__version__)')
  stamp=build/ddg_reference.checked
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
    ok "regenerated reference already matched for this script, file and mpmath ($key)"
  elif /usr/bin/python3 scripts/gen_ddg_reference.py "$TMP/ref.txt" && cmp -s "$TMP/ref.txt" "$REF"; then
    mkdir -p build && echo "$key" > "$stamp"
    ok "scripts/gen_ddg_reference.py writes the committed $REF byte for byte"
  else
    fail "the regenerated reference differs from $REF: $(diff "$TMP/ref.txt" "$REF" | head -5)"
  fi
else
  ok "python3-mpmath missing: the committed reference is compared, not regenerated"
fi
finish
