#!/usr/bin/env bash
# cluster.sh - a real Slurm cluster of N simulated nodes on this one machine,
# for ray-mpi's tests and CI.
#
#   cluster.sh up [--nodes N] [--cpus C] [--users] [--install] [--timeout S]
#   cluster.sh down [--purge]
#   cluster.sh status
#   cluster.sh env            # eval "$(slurm/cluster.sh env)"
#   cluster.sh install        # apt-get what is missing (root, Debian 12)
#
# Layout: one private munged, one slurmctld on the host (own UTS namespace,
# hostname rmpi-ctl, reached at the bridge address), and one slurmd per node
# rmpi-n<i>, each in its own network namespace (veth to bridge rmpibr0,
# 10.77.0.0/24) and its own UTS/mount/IPC namespaces (hostname = node name,
# private /dev/shm, private /tmp, private /etc/hosts). Everything lives under
# $RMPI_SLURM_DIR (default /tmp/rmpi-slurm). See slurm/README.md.
set -euo pipefail

PROG=${0##*/}
D=${RMPI_SLURM_DIR:-/tmp/rmpi-slurm}
BR=rmpibr0                      # bridge in the host network namespace
NET=10.77.0                     # test subnet, exists only on this machine
CTL_ADDR=$NET.1
CTL_NAME=rmpi-ctl
CTLD_PORT=${RMPI_SLURM_PORT:-16817}
SLURMD_PORT=$((CTLD_PORT + 1))  # per node namespace, so one port serves all
TIMEOUT=${RMPI_SLURM_TIMEOUT:-60}
TEST_USER=rmpiuser
MAX_NODES=64

PKGS_CLUSTER="slurmctld slurmd slurm-client slurm-wlm-basic-plugins munge libpmix-dev iproute2 util-linux mount"
PKGS_TESTS="openmpi-bin libopenmpi-dev gcc libc6-dev"

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { say "error: $*"; exit 1; }

node_name() { printf 'rmpi-n%d' "$1"; }
node_addr() { printf '%s.%d' "$NET" $((10 + $1)); }
ns_name()   { node_name "$1"; }
veth_name() { printf 'rmpi-v%d' "$1"; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# ---------------------------------------------------------------- paths --
set_paths() {
    case $D in /*) ;; *) D=$PWD/$D ;; esac
    D=$(realpath -m -- "$D")
    case $D in /|/tmp|/var/tmp|/home|/root|/usr|/usr/*|/etc|/etc/*|/run|/proc/*|/sys/*|/dev/*)
        die "RMPI_SLURM_DIR=$D is not a scratch directory" ;;
    esac
    CONF=$D/etc/slurm.conf
    STATE_FILE=$D/etc/cluster.state
    MUNGE_SOCK=$D/munge/munge.socket
    MUNGE_PID=$D/munge/munged.pid
    CTLD_PID=$D/run/slurmctld.pid
    # Unix socket paths are limited to 108 bytes (munge socket, PMIx sockets
    # under the per-node TmpFS): keep the directory short.
    [ ${#D} -le 60 ] || die "RMPI_SLURM_DIR=$D is too long (max 60 characters)"
    export SLURM_CONF=$CONF
}

# A directory we created carries a marker; never rm -rf anything else.
claim_dir() {
    if [ -d "$D" ] && [ ! -e "$D/.rmpi-slurm" ] && [ -n "$(ls -A "$D")" ]; then
        die "$D exists, is not empty and was not made by $PROG; refusing to use it"
    fi
    mkdir -p "$D"
    touch "$D/.rmpi-slurm"
    chmod 755 "$D"
}

take_lock() {
    exec 9>"$D/.lock"
    flock -w 300 9 || die "another $PROG holds $D/.lock"
}

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (namespaces, bridge, mounts)"; }

# Slurm variables of an enclosing job (a CI runner inside a real allocation)
# would confuse srun/sbatch: drop them, keep only our SLURM_CONF.
clear_slurm_env() {
    local v
    for v in $(compgen -e); do
        case $v in SLURM_CONF) ;; SLURM_*) unset "$v" ;; esac
    done
}

# ------------------------------------------------------------ processes --
# (not kill -0: that fails for root's daemons when status runs unprivileged)
alive() { [ -n "${1:-}" ] && [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

pid_from() { [ -r "$1" ] && tr -dc '0-9' <"$1" || true; }

our_netns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^rmpi-n[0-9]+$' || true; }

# Every process of this cluster, found without trusting pid files (they may
# be stale after a crash): all processes inside the node network namespaces,
# plus, from one scan of /proc, slurmctld/slurmd/munged (and the nsenter/
# unshare/sh that start a slurmd) whose command line names our files, and
# slurmstepd and the clients srun/salloc/sbatch/sattach whose environment has
# our SLURM_CONF (an srun whose nodes vanished would otherwise hang forever).
cluster_pids() {
    local ns p c a
    for ns in $(our_netns); do ip netns pids "$ns" 2>/dev/null || true; done
    for p in /proc/[0-9]*; do
        { read -r c <"$p/comm"; } 2>/dev/null || continue
        case $c in
            slurmctld|slurmd|munged)
                a=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
                case $a in *"$CONF"*|*"$MUNGE_SOCK"*) echo "${p#/proc/}" ;; esac ;;
            nsenter|unshare|sh)
                a=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
                case $a in *"exec slurm"*"$CONF"*) echo "${p#/proc/}" ;; esac ;;
            slurmstepd|srun|salloc|sbatch|sattach)
                tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "SLURM_CONF=$CONF" && echo "${p#/proc/}" ;;
        esac
    done
    return 0
}

# TERM, wait up to 1 s, then KILL and wait up to 2 s more.
kill_pids() {
    local pids="$*" p i
    [ -n "${pids// /}" ] || return 0
    kill -TERM $pids 2>/dev/null || true
    for i in $(seq 10); do
        local left=
        for p in $pids; do alive "$p" && left="$left $p"; done
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    kill -KILL $left 2>/dev/null || true
    for i in $(seq 20); do
        local left2=
        for p in $left; do alive "$p" && left2="$left2 $p"; done
        [ -z "$left2" ] && return 0
        sleep 0.1
    done
    say "warning: processes still alive after SIGKILL:$left2"
}

# ---------------------------------------------------------------- state --
load_state() {
    NODES='' CPUS=''
    [ -r "$STATE_FILE" ] || return 1
    NODES=$(sed -n 's/^NODES=//p' "$STATE_FILE")
    CPUS=$(sed -n 's/^CPUS=//p' "$STATE_FILE")
    [ -n "$NODES" ] && [ -n "$CPUS" ]
}

node_list() { printf 'rmpi-n[1-%d]' "$1"; }
[ "${BASH_VERSINFO[0]}" -ge 4 ] || { echo "$PROG: needs bash 4" >&2; exit 1; }

# --------------------------------------------------------------- install --
missing_pkgs() {
    local p out=
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out="$out $p"
    done
    echo "$out"
}

do_install() {
    need_root
    command -v apt-get >/dev/null || die "--install needs apt-get (Debian/Ubuntu)"
    local miss
    miss=$(missing_pkgs $PKGS_CLUSTER $PKGS_TESTS)
    [ -n "${miss// /}" ] || { say "all packages present"; return 0; }
    say "installing:$miss"
    # Package scripts must not start system munged/slurm daemons: ours are private.
    local policy=/usr/sbin/policy-rc.d made_policy=
    if [ ! -e $policy ]; then
        printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && made_policy=1
    fi
    local rc=0
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $miss; } || rc=$?
    [ -n "$made_policy" ] && rm -f $policy
    [ $rc = 0 ] || die "apt-get failed (rc $rc)"
}

check_tools() {
    local t miss=
    for t in slurmctld slurmd srun sinfo munged munge ip nsenter unshare mount flock; do
        command -v "$t" >/dev/null || miss="$miss $t"
    done
    [ -z "$miss" ] || die "missing:$miss (run: $PROG install, or up --install)"
    local f
    for f in /usr/lib/*/slurm-wlm/mpi_pmix.so /usr/lib/slurm/mpi_pmix.so /usr/lib64/slurm/mpi_pmix.so; do
        [ -e "$f" ] || continue
        # the plugin dlopen()s the unversioned libpmix.so, shipped by libpmix-dev
        ls /usr/lib/*/pmix2/lib/libpmix.so >/dev/null 2>&1 ||
            say "warning: libpmix.so (package libpmix-dev) missing; srun --mpi=pmix will fail"
        return 0
    done
    say "warning: Slurm's mpi_pmix plugin not found; srun --mpi=pmix will fail"
    return 0
}

ensure_user() {
    if ! id "$TEST_USER" >/dev/null 2>&1; then
        useradd --create-home --shell /bin/bash "$TEST_USER" || die "useradd $TEST_USER failed"
        say "created user $TEST_USER"
    fi
}

# ------------------------------------------------------------- teardown --
# Removes everything of this cluster: processes in the node namespaces
# (slurmd, slurmstepd, job tasks), slurmctld, munged, namespaces, veths,
# bridge, an empty /run/netns mount, and runtime files (keeps log/).
teardown() {
    local ns pids n i

    # 1. processes: repeat, a crashed bring-up may still be starting some
    local nss
    for _ in 1 2 3 4 5; do
        pids=$(cluster_pids | sort -un | grep -vx "$$" || true)
        [ -n "$pids" ] || break
        kill_pids $pids
    done

    # 2. network
    nss=$(our_netns)
    for ns in $nss; do ip netns del "$ns" 2>/dev/null || say "warning: ip netns del $ns failed"; done
    for n in /sys/class/net/rmpi-v*; do
        [ -e "$n" ] && ip link del "${n##*/}" 2>/dev/null || true
    done
    [ -e /sys/class/net/$BR ] && { ip link del $BR || say "warning: cannot delete bridge $BR"; }

    # 3. /run/netns: `ip netns add` bind-mounts it onto itself the first
    # time; once empty it is unmounted again (ip redoes it when needed), so
    # nothing stays mounted. A non-empty one belongs to someone else.
    if mountpoint -q /run/netns 2>/dev/null && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
        umount /run/netns 2>/dev/null || true
        mountpoint -q /run/netns 2>/dev/null && umount /run/netns 2>/dev/null || true
        mountpoint -q /run/netns 2>/dev/null || rmdir /run/netns 2>/dev/null || true
    fi

    # 4. files (mounts on them existed only inside the dead node namespaces)
    if [ -e "$D/.rmpi-slurm" ]; then
        find "$D" -mindepth 1 -maxdepth 1 ! -name log ! -name .rmpi-slurm ! -name .lock \
            -exec rm -rf -- {} +
    fi

    # 5. verify
    local left=
    grep -qF " $D" /proc/self/mountinfo && left="$left mounts"
    ip netns list 2>/dev/null | grep -qE '^rmpi-n[0-9]+' && left="$left namespaces"
    [ -e /sys/class/net/$BR ] && left="$left bridge"
    pids=$(cluster_pids | grep -vx "$$" || true)
    [ -z "$pids" ] || left="$left processes($(echo $pids))"
    [ -z "$left" ] || { say "warning: left behind:$left"; return 1; }
    return 0
}

# ---------------------------------------------------------------- health --
# 0 when munged, slurmctld and all slurmds run and sinfo shows every node up.
healthy() {
    local want_n=${1:-} want_c=${2:-} i
    load_state || return 1
    [ -z "$want_n" ] || [ "$NODES" = "$want_n" ] || return 1
    [ -z "$want_c" ] || [ "$CPUS" = "$want_c" ] || return 1
    alive "$(pid_from "$MUNGE_PID")" || return 1
    alive "$(pid_from "$CTLD_PID")" || return 1
    for i in $(seq "$NODES"); do
        alive "$(pid_from "$D/run/slurmd-$(node_name "$i").pid")" || return 1
    done
    local up
    up=$(timeout 10 sinfo -h -N -o '%N %t' 2>/dev/null |
         awk '$2 ~ /^(idle|mix|alloc|comp)/' | sort -u | wc -l) || return 1
    [ "$up" = "$NODES" ]
}

log_tails() {
    local f
    for f in "$D"/log/*.log; do
        [ -e "$f" ] || continue
        echo "----- tail of $f"
        tail -n 25 "$f"
    done >&2
    echo "----- sinfo" >&2
    timeout 5 sinfo -N 2>&1 >&2 || true
}

# ------------------------------------------------------------------- up --
write_conf() {
    local n=$1 c=$2 i mem
    mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
    mem=$((mem / n)); [ "$mem" -ge 256 ] || mem=256
    cat >"$CONF" <<EOF
# Generated by slurm/cluster.sh for a test cluster on one machine. Do not edit.
ClusterName=rmpi
MailProg=/bin/true
SlurmctldHost=$CTL_NAME($CTL_ADDR)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
StateSaveLocation=$D/ctld
SlurmdSpoolDir=$D/nodes/%n/spool
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$D/run/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$D/etc/plugstack.conf
TmpFS=$D/nodes/%n/tmp
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
SlurmdTimeout=30
SlurmctldTimeout=30
MessageTimeout=10
InactiveLimit=0
KillWait=2
MinJobAge=300
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
EOF
    for i in $(seq "$n"); do
        printf 'NodeName=%s NodeAddr=%s NodeHostname=%s CPUs=%d Boards=1 SocketsPerBoard=1 CoresPerSocket=%d ThreadsPerCore=1 RealMemory=%d State=UNKNOWN\n' \
            "$(node_name "$i")" "$(node_addr "$i")" "$(node_name "$i")" "$c" "$c" "$mem" >>"$CONF"
    done
    echo "PartitionName=rmpi Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES" >>"$CONF"
    : >"$D/etc/plugstack.conf"

    # /etc/hosts as seen inside the nodes (the host's file is not touched)
    {
        echo "127.0.0.1 localhost"
        echo "::1 localhost ip6-localhost ip6-loopback"
        echo "$CTL_ADDR $CTL_NAME"
        for i in $(seq "$n"); do echo "$(node_addr "$i") $(node_name "$i")"; done
    } >"$D/etc/hosts"
    chmod 644 "$CONF" "$D/etc/hosts" "$D/etc/plugstack.conf"
}

start_munge() {
    mkdir -p "$D/munge"; chmod 755 "$D/munge"
    dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 2>/dev/null
    chmod 600 "$D/munge/munge.key"
    munged --socket="$MUNGE_SOCK" --key-file="$D/munge/munge.key" \
        --pid-file="$MUNGE_PID" --log-file="$D/log/munged.log" \
        --seed-file="$D/munge/munge.seed" --origin=127.0.0.1 9>&- ||
        { log_tails; die "munged did not start"; }
    local i
    for i in $(seq 50); do
        munge -S "$MUNGE_SOCK" -n 2>/dev/null | unmunge -S "$MUNGE_SOCK" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    log_tails; die "munged does not answer on $MUNGE_SOCK"
}

net_up() {
    local n=$1 i ns v
    if ip -o -4 addr show 2>/dev/null | grep -v " $BR " | grep -q " inet $NET\."; then
        die "subnet $NET.0/24 is already in use on this machine"
    fi
    [ -d /sys/module/bridge ] || [ -e /sys/class/net/$BR ] || modprobe bridge 2>/dev/null || true
    ip link add $BR type bridge || die "cannot create bridge $BR (kernel bridge support?)"
    [ -w /proc/sys/net/ipv6/conf/$BR/disable_ipv6 ] && echo 1 >/proc/sys/net/ipv6/conf/$BR/disable_ipv6
    ip addr add "$CTL_ADDR/24" dev $BR
    ip link set $BR up
    for i in $(seq "$n"); do
        ns=$(ns_name "$i"); v=$(veth_name "$i")
        ip netns add "$ns"
        ip link add "$v" type veth peer name eth0 netns "$ns"
        [ -w /proc/sys/net/ipv6/conf/$v/disable_ipv6 ] && echo 1 >/proc/sys/net/ipv6/conf/$v/disable_ipv6
        ip link set "$v" master $BR
        ip link set "$v" up
        nsenter --net="/run/netns/$ns" sh -c "
            [ -w /proc/sys/net/ipv6/conf/eth0/disable_ipv6 ] && echo 1 >/proc/sys/net/ipv6/conf/eth0/disable_ipv6
            ip link set lo up &&
            ip addr add $(node_addr "$i")/24 dev eth0 &&
            ip link set eth0 up" || die "cannot configure namespace $ns"
    done
}

start_ctld() {
    # Own UTS namespace: slurmctld only runs where hostname == SlurmctldHost,
    # so the machine's real hostname never matters.
    unshare --uts -- /bin/sh -c 'echo "$1" >/proc/sys/kernel/hostname && exec slurmctld -c -f "$2"' \
        sh "$CTL_NAME" "$CONF" 9>&- || { log_tails; die "slurmctld did not start"; }
}

# The script run inside each node's new UTS/mount/IPC namespaces.
NODE_INIT='
set -e
name=$1 d=$2 conf=$3
echo "$name" >/proc/sys/kernel/hostname
# private /dev/shm: Open MPI/UCX shared memory must not cross "nodes"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
# private /tmp (a directory on the host, so it can be inspected); if the
# cluster directory itself lives in /tmp, bind it back at the same path
nt=$d/nodes/$name/tmp
case $d in /tmp/*) mkdir -p "$nt/${d#/tmp/}"; mount --bind "$d" "$nt/${d#/tmp/}" ;; esac
mount --rbind "$nt" /tmp
mount --bind "$d/etc/hosts" /etc/hosts
exec slurmd -f "$conf" -N "$name"
'

start_slurmd() {
    local i=$1 name ns
    name=$(node_name "$i"); ns=$(ns_name "$i")
    mkdir -p "$D/nodes/$name/spool" "$D/nodes/$name/tmp"
    chmod 1777 "$D/nodes/$name/tmp"
    nsenter --net="/run/netns/$ns" unshare --uts --mount --ipc -- \
        /bin/sh -c "$NODE_INIT" sh "$name" "$D" "$CONF" 9>&- ||
        { log_tails; die "slurmd $name did not start"; }
}

wait_idle() {
    local n=$1 t0 deadline i idle
    t0=$(date +%s)
    deadline=$((t0 + TIMEOUT))
    while :; do
        idle=$(timeout 10 sinfo -h -N -o '%N %t' 2>/dev/null | awk '$2 == "idle"' | sort -u | wc -l || true)
        [ "$idle" = "$n" ] && return 0
        alive "$(pid_from "$CTLD_PID")" || { log_tails; say "slurmctld died"; return 1; }
        for i in $(seq "$n"); do
            if ! alive "$(pid_from "$D/run/slurmd-$(node_name "$i").pid")" &&
               [ -z "$(ip netns pids "$(ns_name "$i")" 2>/dev/null)" ]; then
                log_tails; say "slurmd $(node_name "$i") died"; return 1
            fi
        done
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log_tails; say "nodes not idle after ${TIMEOUT}s"; return 1
        fi
        sleep 0.05
    done
}

cmd_up() {
    local n=3 c=8 users='' install=''
    while [ $# -gt 0 ]; do
        case $1 in
            --nodes) n=${2:?}; shift ;;
            --nodes=*) n=${1#*=} ;;
            --cpus) c=${2:?}; shift ;;
            --cpus=*) c=${1#*=} ;;
            --users) users=1 ;;
            --install) install=1 ;;
            --timeout) TIMEOUT=${2:?}; shift ;;
            --timeout=*) TIMEOUT=${1#*=} ;;
            *) die "up: unknown option $1" ;;
        esac
        shift
    done
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le $MAX_NODES ] || die "--nodes must be 1..$MAX_NODES"
    [[ $c =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] || die "--cpus must be a positive integer"
    need_root
    [ -z "$install" ] || do_install
    check_tools
    claim_dir; take_lock
    [ -z "$users" ] || ensure_user

    if healthy "$n" "$c"; then
        say "already up: $n nodes $(node_list "$n"), $c CPUs each, in $D"
        return 0
    fi
    local t0; t0=$(now)
    teardown || die "could not clean up a previous cluster (see warnings above)"
    rm -rf "$D/log"
    mkdir -p "$D/etc" "$D/run" "$D/log" "$D/ctld" "$D/nodes" "$D/shared"
    chmod 755 "$D/etc" "$D/run" "$D/log" "$D/nodes"; chmod 1777 "$D/shared"

    local ok=1 i
    {
        start_munge
        net_up "$n"
        write_conf "$n" "$c"
        start_ctld
        for i in $(seq "$n"); do start_slurmd "$i"; done
        wait_idle "$n"
    } || ok=
    if [ -z "$ok" ]; then
        if [ -n "${RMPI_SLURM_KEEP_ON_FAILURE:-}" ]; then
            say "bring-up failed; left as is for inspection (RMPI_SLURM_KEEP_ON_FAILURE)"
        else
            say "bring-up failed; tearing down (logs kept in $D/log)"; teardown || true
        fi
        exit 1
    fi
    printf 'NODES=%s\nCPUS=%s\n' "$n" "$c" >"$STATE_FILE"
    say "up: $n nodes $(node_list "$n"), $c CPUs each, in $(elapsed "$t0") s ($D)"
}

cmd_down() {
    local purge=
    case ${1:-} in --purge) purge=1 ;; '') ;; *) die "down: unknown option $1" ;; esac
    need_root
    if [ ! -d "$D" ]; then
        # nothing of ours on disk; still remove namespaces/bridge a lost dir may have left
        mkdir -p "$D"; touch "$D/.rmpi-slurm"; purge=1
    fi
    [ -e "$D/.rmpi-slurm" ] || die "$D was not made by $PROG; refusing to touch it"
    take_lock
    local rc=0
    teardown || rc=$?
    if [ -n "$purge" ]; then rm -rf -- "$D"; fi
    [ $rc = 0 ] && say "down"
    return $rc
}

cmd_status() {
    local i p
    if ! load_state; then
        echo "cluster: down ($D)"
        return 3
    fi
    echo "cluster: $NODES nodes $(node_list "$NODES"), $CPUS CPUs each, dir $D"
    p=$(pid_from "$MUNGE_PID"); echo "munged:    pid ${p:--} $(alive "$p" && echo running || echo DEAD)"
    p=$(pid_from "$CTLD_PID"); echo "slurmctld: pid ${p:--} $(alive "$p" && echo running || echo DEAD) ($CTL_ADDR:$CTLD_PORT)"
    for i in $(seq "$NODES"); do
        p=$(pid_from "$D/run/slurmd-$(node_name "$i").pid")
        echo "slurmd $(node_name "$i"): pid ${p:--} $(alive "$p" && echo running || echo DEAD) ($(node_addr "$i"), netns $(ns_name "$i"))"
    done
    timeout 10 sinfo -N -o '%N %8t %4c %10m %P' 2>&1 || true
    if healthy; then echo "status: healthy"; return 0; fi
    echo "status: DEGRADED"; return 1
}

cmd_env() {
    local v n=3
    load_state && n=$NODES
    echo "export RMPI_SLURM_DIR='$D'"
    echo "export SLURM_CONF='$CONF'"
    echo "export RMPI_SLURM_SHARED='$D/shared'"
    echo "export RMPI_SLURM_NODES='$(node_list "$n")'"
    for v in $(compgen -e); do
        case $v in SLURM_CONF) ;; SLURM_*) echo "unset $v" ;; esac
    done
}

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

main() {
    local cmd=${1:-}
    [ $# -gt 0 ] && shift
    case $cmd in
        env) set_paths; cmd_env ;;
        up) set_paths; clear_slurm_env; cmd_up "$@" ;;
        down) set_paths; clear_slurm_env; cmd_down "$@" ;;
        status) set_paths; clear_slurm_env; cmd_status ;;
        install) do_install ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
