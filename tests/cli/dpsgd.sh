# gf train with DP-SGD (--dp-clip, --dp-noise, --dp-delta): the epsilon it
# prints after each epoch equals `gf dp epsilon` for the same noise, sample
# rate (batch / training-set size) and steps; the checkpoint metadata and
# --json carry the settings and the epsilon; a resumed run keeps DP-SGD and
# its accounting; without noise a run is reproducible, with noise two runs
# of one seed differ; bad values are refused naming the option.
. tests/cli_lib.sh
small_idx "$TMP/d" 500 100
D="idx:$TMP/d"
RUN="--model mlp:784-32-10 --dataset $D --batch 32 --seed 3 --threads 2"

# eps_of FILE N: the epsilon of the Nth "dp-sgd:" line of FILE
eps_of() { grep '^dp-sgd: epsilon ' "$1" | sed -n "${2}p" | cut -d' ' -f3; }
# dp_eps ARGS: the epsilon `gf dp epsilon ARGS` prints
dp_eps() { "$GF" dp epsilon "$@" | head -1 | cut -d' ' -f2; }

# 500 samples, batch 32: q = 0.064, 16 steps per epoch
"$GF" train $RUN --epochs 2 --dp-clip 1 --dp-noise 1.1 --out "$TMP/dp.st" --json >"$TMP/out" 2>"$TMP/err" \
  || fail "DP-SGD run: $(cat "$TMP/err")"
e1=$(eps_of "$TMP/out" 1); e2=$(eps_of "$TMP/out" 2)
w1=$(dp_eps --noise 1.1 --sample-rate 0.064 --steps 16 --delta 1e-5)
w2=$(dp_eps --noise 1.1 --sample-rate 0.064 --steps 32 --delta 1e-5)
w2run=$(dp_eps --noise 1.1 --epochs 2 --dataset-size 500 --batch 32 --delta 1e-5)
[ -n "$e1" ] && [ "$e1" = "$w1" ] && ok "epoch 1: epsilon $e1 = gf dp epsilon (16 steps)" || fail "epoch 1: epsilon '$e1', gf dp says '$w1': $(cat "$TMP/out")"
[ -n "$e2" ] && [ "$e2" = "$w2" ] && [ "$e2" = "$w2run" ] && ok "epoch 2: epsilon $e2 = gf dp epsilon (32 steps, or 2 epochs of 500 by 32)" \
  || fail "epoch 2: epsilon '$e2', gf dp says '$w2' / '$w2run'"
grep -q '^dp-sgd: epsilon .* at delta 1e-05 after 32 steps (noise 1.1, clip 1, sample rate 0.064' "$TMP/out" \
  && ok "dp-sgd line names delta, steps, noise, clip, sample rate" || fail "dp-sgd line: $(grep dp-sgd "$TMP/out")"

# --json and the checkpoint metadata
python3 - "$TMP/out" "$TMP/dp.st" "$e2" >"$TMP/py" 2>&1 <<'EOF' && ok "json and checkpoint metadata carry the DP-SGD settings and epsilon" || fail "json / metadata: $(cat "$TMP/py")"
import json, struct, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
want = float(sys.argv[3])
assert abs(j["dpsgd_epsilon"] - want) < 1e-6, j
assert (j["dpsgd_delta"], j["dpsgd_noise"], j["dpsgd_clip"], j["dpsgd_sample_rate"], j["dpsgd_steps"]) == (1e-5, 1.1, 1.0, 0.064, 32), j
b = open(sys.argv[2], "rb").read()
m = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]
assert abs(float(m["gf.dpsgd_epsilon"]) - want) < 1e-6, m
assert (m["gf.dpsgd_delta"], m["gf.dpsgd_noise"], m["gf.dpsgd_clip"], m["gf.dpsgd_sample_rate"]) == ("1e-05", "1.1", "1", "0.064"), m
EOF

# another delta
"$GF" train $RUN --epochs 1 --dp-clip 0.5 --dp-noise 0.8 --dp-delta 1e-6 >"$TMP/out" 2>"$TMP/err" || fail "run with --dp-delta: $(cat "$TMP/err")"
e=$(eps_of "$TMP/out" 1); w=$(dp_eps --noise 0.8 --sample-rate 0.064 --steps 16 --delta 1e-6)
[ -n "$e" ] && [ "$e" = "$w" ] && ok "--dp-delta 1e-6: epsilon $e = gf dp epsilon" || fail "--dp-delta 1e-6: '$e' vs '$w'"

# a resumed run keeps DP-SGD on and counts on from the saved steps
"$GF" train --resume "$TMP/dp.st" --dataset "$D" --epochs 3 --threads 2 >"$TMP/out" 2>"$TMP/err" || fail "resume: $(cat "$TMP/err")"
e=$(eps_of "$TMP/out" 1); w=$(dp_eps --noise 1.1 --sample-rate 0.064 --steps 48 --delta 1e-5)
[ -n "$e" ] && [ "$e" = "$w" ] && ok "resumed: epsilon $e after 48 steps = gf dp epsilon" || fail "resumed: '$e' vs '$w': $(cat "$TMP/out")"
expect_error "resume with other --dp-noise" "--dp-noise differs" -- "$GF" train --resume "$TMP/dp.st" --dataset "$D" --epochs 3 --dp-noise 2
"$GF" train $RUN --epochs 1 --out "$TMP/plain.st" >/dev/null 2>&1 || fail "plain run"
expect_error "DP-SGD on a resumed plain run" "--dp-clip without DP-SGD" -- "$GF" train --resume "$TMP/plain.st" --dataset "$D" --epochs 2 --dp-clip 1 --dp-noise 1
grep -q dpsgd "$TMP/plain.st" && fail "a plain checkpoint has dpsgd metadata" || ok "a plain checkpoint has no dpsgd metadata"

# no noise: reproducible (and epsilon is infinite); noise: fresh at every run
"$GF" train $RUN --epochs 1 --dp-clip 1 --dp-noise 0 --out "$TMP/n0a.st" >"$TMP/out" 2>&1 || fail "noise 0 run a"
"$GF" train $RUN --epochs 1 --dp-clip 1 --dp-noise 0 --out "$TMP/n0b.st" >/dev/null 2>&1 || fail "noise 0 run b"
cmp -s "$TMP/n0a.st" "$TMP/n0b.st" && ok "noise 0: two runs byte-identical" || fail "noise 0: two runs differ"
[ "$(eps_of "$TMP/out" 1)" = inf ] && ok "noise 0: epsilon inf" || fail "noise 0: $(grep dp-sgd "$TMP/out")"
"$GF" train $RUN --epochs 1 --dp-clip 1 --dp-noise 1 --out "$TMP/n1a.st" >/dev/null 2>&1 || fail "noise run a"
"$GF" train $RUN --epochs 1 --dp-clip 1 --dp-noise 1 --out "$TMP/n1b.st" >/dev/null 2>&1 || fail "noise run b"
cmp -s "$TMP/n1a.st" "$TMP/n1b.st" && fail "noise 1: two runs of one seed are byte-identical (noise from the seed?)" \
  || ok "noise 1: two runs of one seed differ"

# bad values: exit 2, the option named
expect_usage() {
  name=$1; words=$2; shift 3
  "$@" >/dev/null 2>&1; rc=$?
  [ $rc -eq 2 ] || { fail "$name: exit $rc, want 2"; return; }
  expect_error "$name" "$words" -- "$@"
}
expect_usage "clip 0" "--dp-clip > 0" -- "$GF" train $RUN --dp-clip 0 --dp-noise 1
expect_usage "clip < 0" "--dp-clip > 0" -- "$GF" train $RUN --dp-clip -1 --dp-noise 1
expect_usage "clip not a number" "--dp-clip abc" -- "$GF" train $RUN --dp-clip abc --dp-noise 1
expect_usage "noise < 0" "--dp-noise >= 0" -- "$GF" train $RUN --dp-clip 1 --dp-noise -0.1
expect_usage "noise inf" "--dp-noise" -- "$GF" train $RUN --dp-clip 1 --dp-noise inf
expect_usage "delta 1" "--dp-delta (0, 1)" -- "$GF" train $RUN --dp-clip 1 --dp-noise 1 --dp-delta 1
expect_usage "delta 0" "--dp-delta (0, 1)" -- "$GF" train $RUN --dp-clip 1 --dp-noise 1 --dp-delta 0
expect_usage "clip without noise" "--dp-noise missing" -- "$GF" train $RUN --dp-clip 1
expect_usage "noise without clip" "--dp-clip missing" -- "$GF" train $RUN --dp-noise 1
expect_usage "delta alone" "--dp-delta DP-SGD" -- "$GF" train $RUN --dp-delta 1e-6
"$GF" train --help | grep -q -- "--dp-clip" && "$GF" train --help | grep -q -- "--dp-noise" \
  && "$GF" train --help | grep -q -- "--dp-delta" && ok "gf train --help has the DP-SGD flags" || fail "gf train --help"
finish
