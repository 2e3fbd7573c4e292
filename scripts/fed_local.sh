# A federation on this machine, for tests and benchmarks (sourced, POSIX sh).
# Real processes on 127.0.0.1 with an ephemeral port; everything started is
# recorded and fed_down stops it.
#   fed_provision DIR N          PKI for sites s0..s(N-1) in DIR/pki
#   fed_coordinator DIR [ARGS]   starts gf coordinator (data DIR/data), sets FED_URL, FED_CO_PID
#   fed_site DIR NAME [ARGS]     starts gf site NAME (log DIR/site-NAME.log); prints nothing
#   fed_down                     kills every process started here (SIGKILL) and waits
# Needs $GF (the gf binary). Operator commands: GF_KIT=DIR/pki/operator and
# --coordinator "$FED_URL".
: "${GF:=build/gf}"
FED_PIDS=""

fed_provision() {
  _names=""; _i=0
  while [ "$_i" -lt "$2" ]; do _names="$_names${_names:+,}s$_i"; _i=$((_i+1)); done
  "$GF" provision --out "$1/pki" --coordinator 127.0.0.1 --sites "$_names" > /dev/null
}

fed_coordinator() {
  _dir=$1; shift
  rm -f "$_dir/port"
  "$GF" coordinator --data "$_dir/data" --listen 127.0.0.1:${FED_PORT:-0} --tls "$_dir/pki" --port-file "$_dir/port" "$@" \
      >> "$_dir/coordinator.log" 2>&1 &
  FED_CO_PID=$!
  FED_PIDS="$FED_PIDS $FED_CO_PID"
  _t=0
  while [ ! -s "$_dir/port" ]; do
    sleep 0.05; _t=$((_t+1))
    if [ $_t -gt 200 ] || ! kill -0 "$FED_CO_PID" 2>/dev/null; then echo "coordinator did not start:"; tail -5 "$_dir/coordinator.log"; return 1; fi
  done
  FED_PORT=$(cat "$_dir/port")
  FED_URL="https://127.0.0.1:$FED_PORT/"
}

fed_site() {
  _dir=$1; _name=$2; shift 2
  "$GF" site --kit "$_dir/pki/sites/$_name" --coordinator "$FED_URL" "$@" >> "$_dir/site-$_name.log" 2>&1 &
  FED_PIDS="$FED_PIDS $!"
  eval "FED_SITE_PID_$(echo "$_name" | tr -c 'a-zA-Z0-9\n' _)=$!"
}

fed_down() {
  for _p in $FED_PIDS; do kill -9 "$_p" 2>/dev/null || true; done
  for _p in $FED_PIDS; do wait "$_p" 2>/dev/null || true; done
  FED_PIDS=""
}

# fed_wait_state DIR JOB STATE TIMEOUT_S: polls gf status until the job's state is STATE,
# every FED_POLL_S seconds (default 0.1; a benchmark sets more, so that the
# status calls' processes and handshakes do not compete with what it measures),
# at most TIMEOUT_S * 10 times.
fed_wait_state() {
  _t=0
  while [ $_t -lt $(($4 * 10)) ]; do
    _s=$(GF_KIT="$1/pki/operator" "$GF" status "$2" --coordinator "$FED_URL" --json 2>/dev/null | sed -n 's/.*"state":"\([a-z-]*\)".*/\1/p')
    [ "$_s" = "$3" ] && return 0
    case "$_s" in succeeded|failed|cancelled|timed-out) [ "$_s" != "$3" ] && { echo "job $2 ended $_s, expected $3"; return 1; } ;; esac
    sleep "${FED_POLL_S:-0.1}"; _t=$((_t+1))
  done
  echo "job $2 not $3 after $4 s (state: $_s)"; return 1
}
