#!/bin/sh
# A private single-node Slurm with accounting, for tests of the facility's
# Slurm executor: everything (munge key and socket, a MariaDB, slurmdbd,
# slurmctld, slurmd, their configs, state, logs and two fake GPUs) lives
# under DIR, the daemons talk over 127.0.0.1 on four free ports picked at
# start (MariaDB listens on 127.0.0.1 only), so two of them can run side by
# side and nothing is written elsewhere but the jobs' cgroups (Slurm's
# task/cgroup and proctrack/cgroup on the v1 controllers, under
# /sys/fs/cgroup/CONTROLLER/slurm/uid_U/job_N, job ids apart per instance).
# Runs as root. DIR: a path of
# A-Z a-z 0-9 . _ - / only (it goes into slurm.conf unquoted), 80
# characters at most (unix socket paths under it).
#
#   scripts/slurm-local.sh start DIR   brings it up, writes DIR/env.sh (source
#                                      it: it exports SLURM_CONF), prints
#                                      "slurm up"; fails with the daemons'
#                                      logs when something is not up in 60 s
#   scripts/slurm-local.sh stop DIR    cancels its jobs, stops the daemons by
#                                      the PIDs recorded at start, waits
set -eu

START_LIMIT_S=60
CLUSTER=gf

die() {
    echo "slurm-local: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

now_ms() {
    t=$(date +%s%N)
    echo $((t / 1000000))
}

# ---- processes ------------------------------------------------------------

# The PID recorded for daemon $1, if that process still runs with this
# instance's SLURM_CONF in its environment (a reused PID does not match).
live_pid() {
    f="$dir/run/$1.gfpid"
    [ -f "$f" ] || return 1
    p=$(cat "$f")
    [ -n "$p" ] && [ -r "/proc/$p/environ" ] || return 1
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$conf" || return 1
    echo "$p"
}

# Stops daemon $1: SIGTERM, then SIGKILL after 10 s; waits for it to go.
stop_daemon() {
    p=$(live_pid "$1") || { rm -f "$dir/run/$1.gfpid"; return 0; }
    kill -TERM "$p" 2>/dev/null || true
    i=0
    while [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; do
        i=$((i + 1))
        [ $i -eq 100 ] && kill -KILL "$p" 2>/dev/null
        [ $i -gt 200 ] && { echo "slurm-local: $1 (pid $p) does not stop" >&2; return 1; }
        sleep 0.1
    done
    rm -f "$dir/run/$1.gfpid"
}

# Starts daemon $1 in the background with the command that follows; its
# output goes to DIR/log/$1.out.
spawn() {
    name=$1
    shift
    "$@" >>"$dir/log/$name.out" 2>&1 </dev/null &
    echo $! >"$dir/run/$name.gfpid"
    spawned="$spawned $name"
}

any_running() {
    for d in slurmd slurmctld slurmdbd mariadbd munged; do
        live_pid $d >/dev/null && return 0
    done
    return 1
}

# Cancels this instance's jobs (while slurmctld still runs) and waits up to
# 10 s for them to leave the node.
cancel_jobs() {
    live_pid slurmctld >/dev/null || return 0
    ids=$(squeue -h -o %i 2>/dev/null) || return 0
    [ -n "$ids" ] || return 0
    # shellcheck disable=SC2086
    scancel $ids 2>/dev/null || true
    i=0
    while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}

stop_all() {
    cancel_jobs
    rc=0
    for d in slurmd slurmctld slurmdbd mariadbd munged; do
        stop_daemon $d || rc=1
    done
    return $rc
}

# ---- start ----------------------------------------------------------------

# Four consecutive TCP ports free on 0.0.0.0 and 127.0.0.1, below the
# ephemeral range, from a random start.
pick_ports() {
    /usr/bin/python3 - <<'EOF'
import random, socket, sys
def free(p):
    for host in ("0.0.0.0", "127.0.0.1"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, p))
        except OSError:
            return False
        finally:
            s.close()
    return True
for _ in range(200):
    base = random.randrange(20000, 32000 - 4)
    if all(free(base + i) for i in range(4)):
        print(base)
        sys.exit(0)
sys.exit("no four free consecutive ports found")
EOF
}

past_deadline() {
    [ "$(now_ms)" -ge "$deadline" ]
}

# Prints the end of every daemon's log, stops what was started, and exits 1.
fail() {
    echo "slurm-local: $*" >&2
    for f in "$dir"/log/*; do
        [ -s "$f" ] || continue
        case $f in */mariadb-install.out) continue ;; esac
        echo "---- ${f#"$dir"/} (last 15 lines)" >&2
        tail -n 15 "$f" >&2
    done
    stop_all || true
    exit 1
}

# Waits (until the deadline) for the command to succeed, else fails with $1;
# fails at once when a daemon started so far has exited.
wait_for() {
    what=$1
    shift
    while ! "$@" >/dev/null 2>&1; do
        for d in $spawned; do
            live_pid "$d" >/dev/null || fail "$d exited while waiting for $what"
        done
        past_deadline && fail "$what did not come up within ${START_LIMIT_S} s"
        sleep 0.1
    done
}

write_configs() {
    cpus_line=$(slurmd -C | sed -n 's/^NodeName=[^ ]* \(CPUs=.*ThreadsPerCore=[0-9]*\).*/\1/p')
    [ -n "$cpus_line" ] || die "slurmd -C does not describe this machine"
    mem_total=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
    real_mem=$((mem_total * 8 / 10))

    cat >"$dir/etc/slurm.conf" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/etc/plugstack.conf
MpiDefault=none
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
FirstJobId=$((ctld_port * 100))
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
AccountingStoragePass=$dir/munge/munge.socket
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations
JobCompType=jobcomp/none
GresTypes=gpu
PriorityType=priority/multifactor
PriorityWeightFairshare=10000
PriorityWeightAge=1000
PriorityMaxAge=0-0:10
PriorityDecayHalfLife=0-0:05
PriorityCalcPeriod=1
SchedulerParameters=sched_interval=1,bf_interval=1
MailProg=/bin/true
ReturnToService=2
KillWait=5
InactiveLimit=0
NodeName=$host NodeAddr=127.0.0.1 $cpus_line RealMemory=$real_mem Gres=gpu:fake:2 State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    : >"$dir/etc/plugstack.conf"
    # containment by Slurm's cgroup plugins (v1 controllers): a job's memory
    # (--mem, no swap beyond it: an excess ends it OUT_OF_MEMORY) and its cores
    # (a cpuset of --cpus-per-task). Devices stay unconstrained: the fake GPUs
    # are /dev/null's device numbers, which every job needs. FirstJobId above
    # keeps the job cgroups (slurm/uid_U/job_N) of instances side by side apart.
    cat >"$dir/etc/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
CgroupAutomount=no
ConstrainCores=yes
ConstrainRAMSpace=yes
ConstrainSwapSpace=yes
AllowedSwapSpace=0
ConstrainDevices=no
EOF
    echo "NodeName=$host Name=gpu Type=fake File=$dir/dev/fakegpu[0-1]" >"$dir/etc/gres.conf"

    cat >"$dir/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
DbdAddr=127.0.0.1
DbdHost=localhost
DbdPort=$dbd_port
SlurmUser=root
LogFile=$dir/log/slurmdbd.log
PidFile=$dir/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=$db_pass
StorageLoc=slurm_acct_db
EOF
    chmod 0600 "$dir/etc/slurmdbd.conf"
}

start_munge() {
    head -c 1024 /dev/urandom >"$dir/munge/munge.key"
    chmod 0400 "$dir/munge/munge.key"
    spawn munged munged -F --force --num-threads=2 \
        --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge/munged.seed"
}

munge_works() {
    munge -S "$dir/munge/munge.socket" -n | unmunge -S "$dir/munge/munge.socket"
}

start_mariadb() {
    if ! mariadb-install-db --no-defaults --user=root --datadir="$dir/db" \
        --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
        --tmpdir="$dir/tmp" >"$dir/log/mariadb-install.out" 2>&1; then
        grep -m 5 -i error "$dir/log/mariadb-install.out" >&2 || true
        fail "mariadb-install-db failed (all of it in $dir/log/mariadb-install.out)"
    fi
    spawn mariadbd mariadbd --no-defaults --user=root --datadir="$dir/db" \
        --socket="$dir/run/mariadb.sock" --port="$db_port" --bind-address=127.0.0.1 \
        --pid-file="$dir/run/mariadbd.pid" --log-error="$dir/log/mariadbd.log" \
        --tmpdir="$dir/tmp" --skip-name-resolve --skip-log-bin \
        --innodb-lock-wait-timeout=900 --innodb-buffer-pool-size=128M
}

# The account slurmdbd uses, with a random password (root logs in by socket).
create_db_user() {
    mariadb --no-defaults --socket="$dir/run/mariadb.sock" -u root \
        >>"$dir/log/mariadb-client.out" 2>&1 <<EOF || fail "cannot create the database user for slurmdbd"
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$db_pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF
}

db_answers() {
    mariadb-admin --no-defaults --socket="$dir/run/mariadb.sock" -u root ping
}

cluster_known() {
    sacctmgr -n -P show cluster format=cluster | grep -qxF "$CLUSTER"
}

node_idle() {
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]
}

# slurmctld has registered with slurmdbd (job records will reach sacct).
ctld_registered() {
    [ "$(sacctmgr -n -P show cluster "$CLUSTER" format=controlport)" = "$ctld_port" ]
}

do_start() {
    [ "$(id -u)" = 0 ] || die "must run as root (the daemons run as root)"
    for b in munged mariadbd mariadb-install-db slurmdbd slurmctld slurmd sacctmgr sinfo mknod; do
        command -v $b >/dev/null || die "$b not found (Debian: slurm-wlm slurmdbd munge mariadb-server)"
    done
    any_running && die "a Slurm already runs from $dir; stop it first"
    [ ${#dir} -le 80 ] || die "$dir is too long for the unix sockets under it (80 characters at most)"
    case $dir in
    *[!A-Za-z0-9._/-]*) die "$dir: only A-Z a-z 0-9 . _ - / can go into slurm.conf" ;;
    esac
    spawned=
    t0=$(now_ms)
    deadline=$((t0 + START_LIMIT_S * 1000))

    for d in etc munge db run log state spool tmp dev; do
        rm -rf "${dir:?}/$d"
        mkdir -p "$dir/$d"
    done
    rm -f "$dir/env.sh"
    chmod 0711 "$dir" "$dir/munge"
    # the fake GPUs: gres.conf takes character devices only (these are /dev/null's)
    for g in 0 1; do
        mknod -m 0666 "$dir/dev/fakegpu$g" c 1 3 || die "cannot create $dir/dev/fakegpu$g (mknod needs CAP_MKNOD)"
    done

    base=$(pick_ports) || die "cannot pick free ports"
    db_port=$base
    dbd_port=$((base + 1))
    ctld_port=$((base + 2))
    slurmd_port=$((base + 3))
    host=$(hostname -s)
    db_pass=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    write_configs

    start_munge
    wait_for munged munge_works
    start_mariadb
    wait_for MariaDB db_answers
    create_db_user
    spawn slurmdbd slurmdbd -D
    wait_for slurmdbd sacctmgr -n -P show cluster
    sacctmgr -i add cluster "$CLUSTER" >>"$dir/log/sacctmgr.log" 2>&1 ||
        fail "sacctmgr could not add cluster $CLUSTER"
    wait_for "cluster $CLUSTER in slurmdbd" cluster_known
    spawn slurmctld slurmctld -D -c -f "$conf"
    spawn slurmd slurmd -D -f "$conf"
    wait_for "an idle node" node_idle
    wait_for "slurmctld's registration with slurmdbd" ctld_registered

    printf "export SLURM_CONF='%s'\n" "$conf" >"$dir/env.sh.tmp"
    mv "$dir/env.sh.tmp" "$dir/env.sh"
    t1=$(now_ms)
    ms=$((t1 - t0))
    echo "slurm-local: up in $((ms / 1000)).$(printf %03d $((ms % 1000))) s (ports $base-$((base + 3)))" >&2
    echo "slurm up"
}

do_stop() {
    [ -d "$dir/run" ] || { echo "slurm-local: nothing runs from $dir" >&2; return 0; }
    stop_all
    rm -f "$dir/env.sh"
    echo "slurm down"
}

[ $# -eq 2 ] || usage
case $1 in start | stop) ;; *) usage ;; esac
umask 077
if [ "$1" = stop ] && [ ! -d "$2" ]; then
    echo "slurm-local: nothing runs from $2" >&2
    exit 0
fi
mkdir -p "$2"
dir=$(cd "$2" && pwd -P)
conf=$dir/etc/slurm.conf
export SLURM_CONF="$conf"
case $1 in
start) do_start ;;
stop) do_stop ;;
esac
