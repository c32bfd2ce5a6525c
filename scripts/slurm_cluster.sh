#!/usr/bin/env bash
# Start or stop a real single-node Slurm cluster on this machine, for tests and CI.
#
# Usage:
#   scripts/slurm_cluster.sh start    # install Slurm + munge if missing, start the daemons
#   scripts/slurm_cluster.sh stop     # stop the daemons this script started, park slurm.conf
#   scripts/slurm_cluster.sh status   # print sinfo, exit 0 if the node is usable
#
# The node is this host with all its CPUs, its memory minus 512 MB, and one fake
# GPU (gres gpu:1 backed by /dev/null), so that `--gpus=1` jobs are accepted and
# scheduled; nothing in such a job sees a real GPU. Two partitions share the node,
# `cpu` (default) and `gpu`, the names in slurm/partitions.yaml. Accounting is off (no sacct):
# use the Snakemake slurm plugin with `--slurm-status-command squeue`; MinJobAge
# is 900 s so squeue still reports finished jobs for the plugin.
#
# Needs root (daemons, /etc/slurm/slurm.conf) and, on a fresh machine, apt-get.
# State, logs and PID files live in $JETPROF_SLURM_DIR (default
# /var/tmp/jetprof-slurm). slurm.conf must be at /etc/slurm/slurm.conf: the
# plugin's job step drops SLURM_CONF before its inner srun. On stop it is moved
# to /etc/slurm/slurm.conf.jetprof-stopped, because a slurm.conf without a
# running slurmctld makes every snakemake call about 9 s slower.
#
# Exit status: 0 ok, 1 failure (message on stderr), 2 usage, 3 cannot run here
# (not root or Slurm not installable) so callers can skip rather than fail.
set -euo pipefail

STATE_DIR="${JETPROF_SLURM_DIR:-/var/tmp/jetprof-slurm}"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
PARKED="$CONF.jetprof-stopped"
PACKAGES=(slurm-wlm slurmctld slurmd slurm-client munge)
MUNGE_SOCKET="$STATE_DIR/munge/munge.socket"

die() { echo "slurm_cluster.sh: error: $*" >&2; exit 1; }
cannot() { echo "slurm_cluster.sh: cannot run here: $*" >&2; exit 3; }
log() { echo "slurm_cluster.sh: $*" >&2; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    local missing=0 cmd
    for cmd in slurmctld slurmd sbatch munged mungekey; do
        command -v "$cmd" >/dev/null 2>&1 || missing=1
    done
    [[ $missing -eq 0 ]] && return 0
    command -v apt-get >/dev/null 2>&1 || cannot "Slurm is not installed and apt-get is missing"
    log "installing ${PACKAGES[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$STATE_DIR/apt.log" 2>&1 \
        || cannot "apt-get update failed (see $STATE_DIR/apt.log)"
    apt-get install -y -qq "${PACKAGES[@]}" >>"$STATE_DIR/apt.log" 2>&1 \
        || cannot "apt-get install ${PACKAGES[*]} failed (see $STATE_DIR/apt.log)"
}

write_config() {
    local host cpus mem_kb mem_mb
    host="$(hostname -s)"
    cpus="$(nproc)"
    mem_kb="$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
    mem_mb=$(( mem_kb / 1024 - 512 ))
    (( mem_mb > 1000 )) || mem_mb=1000
    mkdir -p "$CONF_DIR" "$STATE_DIR/ctld" "$STATE_DIR/spool"
    cat >"$CONF.tmp" <<EOF
# Written by jetprof scripts/slurm_cluster.sh: a single-node test cluster.
ClusterName=jetprof
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/slurmctld.log
SlurmdLogFile=$STATE_DIR/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
GresTypes=gpu
ReturnToService=2
MinJobAge=900
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=$host CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
# the names in slurm/partitions.yaml (the user profile's example), both on this node
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host Default=NO MaxTime=INFINITE State=UP
EOF
    cat >"$CONF_DIR/gres.conf.tmp" <<EOF
# Written by jetprof scripts/slurm_cluster.sh: one fake GPU (no device behind it).
AutoDetect=off
NodeName=$host Name=gpu File=/dev/null
EOF
    mv -f "$CONF.tmp" "$CONF"
    mv -f "$CONF_DIR/gres.conf.tmp" "$CONF_DIR/gres.conf"
    rm -f "$PARKED"
}

start_munge() {
    mkdir -p "$STATE_DIR/munge"
    chmod 700 "$STATE_DIR/munge"
    if pid_alive "$STATE_DIR/munged.pid"; then return 0; fi
    if [[ ! -s "$STATE_DIR/munge/munge.key" ]]; then
        # munged running as root insists on a root-owned key.
        mungekey --create --keyfile="$STATE_DIR/munge/munge.key" --force \
            || die "mungekey could not create $STATE_DIR/munge/munge.key"
    fi
    chown root:root "$STATE_DIR/munge/munge.key"
    chmod 600 "$STATE_DIR/munge/munge.key"
    munged --force --key-file="$STATE_DIR/munge/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$STATE_DIR/munged.pid" --log-file="$STATE_DIR/munged.log" \
        --seed-file="$STATE_DIR/munge/munged.seed" \
        || die "munged did not start (see $STATE_DIR/munged.log)"
}

wait_idle() {
    local host i state
    host="$(hostname -s)"
    for i in $(seq 1 60); do
        state="$(sinfo -h -n "$host" -o %t 2>/dev/null || true)"
        case "$state" in
            idle*|mix*|alloc*) return 0 ;;
            drain*|inval*|down*)
                scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
        esac
        sleep 0.5
    done
    die "node $host did not become idle within 30 s (state '$state'; see $STATE_DIR/slurmctld.log, $STATE_DIR/slurmd.log)"
}

start() {
    [[ $(id -u) -eq 0 ]] || cannot "needs root (daemons and /etc/slurm/slurm.conf)"
    mkdir -p "$STATE_DIR"
    install_packages
    write_config
    start_munge
    if ! pid_alive "$STATE_DIR/slurmctld.pid"; then
        # -c: start from a clean state, no jobs left over from an earlier cluster.
        slurmctld -c || die "slurmctld did not start (see $STATE_DIR/slurmctld.log)"
    fi
    if ! pid_alive "$STATE_DIR/slurmd.pid"; then
        slurmd || die "slurmd did not start (see $STATE_DIR/slurmd.log)"
    fi
    wait_idle
    log "cluster up: $(sinfo -h -o '%P %D %t %G' | tr '\n' ' ')(state in $STATE_DIR)"
}

stop_daemon() {
    local name="$1" pidfile="$STATE_DIR/$1.pid" pid i
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name ($pid) did not stop in 10 s; killing it"
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

stop() {
    if [[ -f "$CONF" ]] && pid_alive "$STATE_DIR/slurmctld.pid"; then
        # Cancel what is left so slurmd has no job steps to wait for.
        scancel --full --quiet --user=root >/dev/null 2>&1 || true
    fi
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_daemon munged
    if [[ -f "$CONF" ]] && grep -q '^# Written by jetprof' "$CONF"; then
        mv -f "$CONF" "$PARKED"
    fi
    log "cluster stopped"
}

status() {
    [[ -f "$CONF" ]] || { log "no $CONF: cluster not started"; return 1; }
    sinfo -o '%P %D %t %G %c %m' || return 1
    sinfo -h -o %t | grep -Eq '^(idle|mix|alloc)'
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
