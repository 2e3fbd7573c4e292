# gf train --json names the op backend (cpu) and the BLAS kernels its GEMMs
# ran: with nothing set, the OpenMP build of OpenBLAS (also where Debian's
# alternatives select the pthreads build) and, on a CPU with AVX2, not a
# generic core, also when the CPU is treated as one OpenBLAS does not know
# (GF_TEST_BLAS_UNKNOWN_CPU=1);
# an OPENBLAS_CORETYPE set by the user is what runs.
. tests/cli_lib.sh
printf 'a,b,label\n1,2,0\n2,1,1\n3,3,0\n0,1,1\n2,2,0\n1,0,1\n' > "$TMP/t.csv"
train() { "$GF" train --model mlp:2-4-2 --dataset "csv:$TMP/t.csv" --threads 2 --json | tail -n 1; }
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
best=""   # the best OpenBLAS core the CPU allows (AVX2 and up)
if has avx2 && has fma; then
  best=Haswell
  has avx512f && has avx512bw && has avx512dq && has avx512vl && has avx512cd && best=SkylakeX
fi
generic=" Unknown Katmai Coppermine Northwood Prescott Banias Atom Core2 Penryn Dunnington Nehalem Athlon "
echo "system libopenblas.so.0: $(readlink -f /usr/lib/x86_64-linux-gnu/libopenblas.so.0 2>/dev/null); CPU best: ${best:-none}"

if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  echo "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE set by the caller: nothing-set checks skipped"
else
  for mode in plain unknown; do
    if [ $mode = plain ]; then train > "$TMP/j" || fail "$mode: gf train failed"
    else GF_TEST_BLAS_UNKNOWN_CPU=1 train > "$TMP/j" || fail "$mode: gf train failed"; fi
    core=$(jget 'd["blas_core"]' < "$TMP/j"); src=$(jget 'd["blas_core_source"]' < "$TMP/j")
    thr=$(jget 'd["blas_threading"]' < "$TMP/j"); cfg=$(jget 'd["blas"]' < "$TMP/j")
    [ "$thr" = openmp ] && ok "$mode: threading openmp" || fail "$mode: threading $thr"
    case "$cfg" in *USE_OPENMP*"$core"*) ok "$mode: config $cfg" ;; *) fail "$mode: config $cfg (core $core)" ;; esac
    if [ -n "$best" ]; then
      case "$generic" in *" $core "*) fail "$mode: generic core $core on a CPU with $best" ;; *) ok "$mode: core $core ($src)" ;; esac
    fi
    if [ $mode = unknown ] && [ -n "$best" ]; then
      [ "$core" = "$best" ] && [ "$src" = gf ] && ok "unknown: gf chose $best" || fail "unknown: core $core from $src, want $best from gf"
    fi
  done
fi
train > "$TMP/j" || fail "backend: gf train failed"
be=$(jget 'd["backend"]' < "$TMP/j")
[ "$be" = cpu ] && ok "backend cpu reported" || fail "backend: got \"$be\", want cpu"
OPENBLAS_CORETYPE=Haswell GF_TEST_BLAS_UNKNOWN_CPU=1 train > "$TMP/j" || fail "user: gf train failed"
core=$(jget 'd["blas_core"]' < "$TMP/j"); src=$(jget 'd["blas_core_source"]' < "$TMP/j")
[ "$core" = Haswell ] && [ "$src" = OPENBLAS_CORETYPE ] && ok "user's OPENBLAS_CORETYPE=Haswell runs" || fail "user: core $core from $src"
finish
