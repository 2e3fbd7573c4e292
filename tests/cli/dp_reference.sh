# gf dp epsilon against the independent reference tests/data/rdp_reference.txt
# (RDP of the subsampled Gaussian by numerical integration of A_alpha, its
# (epsilon, delta) as the accountant converts it; scripts/gen_rdp_reference.py):
# every "eps" line's epsilon to 1e-9 relative and its best order. When Debian's
# python3 has mpmath, the script is run again and must write the committed
# file byte for byte (checked once per version of the script, the file and
# mpmath: the result is kept in build/, keyed by their checksums).
. tests/cli_lib.sh
REF=tests/data/rdp_reference.txt

n=0
while read -r kind sigma q steps delta want order; do
  [ "$kind" = eps ] || continue
  n=$((n+1))
  j=$("$GF" dp epsilon --noise "$sigma" --sample-rate "$q" --steps "$steps" --delta "$delta" --json 2>"$TMP/err" | tail -1)
  /usr/bin/python3 - "$j" "$want" "$order" <<'PY' >"$TMP/py" 2>&1 \
    && ok "sigma $sigma q $q steps $steps delta $delta: $(cat "$TMP/py")" \
    || fail "sigma $sigma q $q steps $steps delta $delta: $(cat "$TMP/py") $(cat "$TMP/err")"
import json, sys
j = json.loads(sys.argv[1])
want, order = float(sys.argv[2]), float(sys.argv[3])
print("epsilon %.9g at order %g (reference %.9g at %g)" % (j["epsilon"], j["best_order"], want, order))
assert abs(j["epsilon"] - want) <= 1e-9 * want and j["best_order"] == order
PY
done < "$REF"
[ "$n" -ge 20 ] && ok "$n settings compared" || fail "only $n epsilon lines in $REF"

if /usr/bin/python3 -c 'import mpmath' 2>/dev/null; then
  key=$(cat scripts/gen_rdp_reference.py "$REF" | sha256sum | cut -c1-16)-$(/usr/bin/python3 -c 'import mpmath; print(mpmath.__version__)')
  stamp=build/rdp_reference.checked
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
    ok "regenerated reference already matched for this script, file and mpmath ($key)"
  elif /usr/bin/python3 scripts/gen_rdp_reference.py "$TMP/ref.txt" && cmp -s "$TMP/ref.txt" "$REF"; then
    mkdir -p build && echo "$key" > "$stamp"
    ok "scripts/gen_rdp_reference.py writes the committed $REF byte for byte"
  else
    fail "the regenerated reference differs from $REF: $(diff "$TMP/ref.txt" "$REF" | head -5)"
  fi
else
  ok "python3-mpmath missing: the committed reference is compared, not regenerated"
fi
finish
