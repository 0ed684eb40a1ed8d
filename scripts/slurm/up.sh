#!/usr/bin/env bash
# Bring up a single-node Slurm (munge + slurmctld + slurmd) on this machine, as root, for CI and demos.
# Two fake GPUs (character devices) let `gpu=1` map to --gpus=1. Stop it with scripts/slurm/down.sh.
set -euo pipefail

need_root() { [ "$(id -u)" = 0 ] || { echo "scripts/slurm/up.sh: run as root (it writes /etc/slurm and starts daemons)" >&2; exit 1; }; }
need_root

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

NODE=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 2048 ))
STATE=/var/lib/slurm-rankvideo
mkdir -p "$STATE/ctld" "$STATE/d" /var/log/slurm /run/munge /etc/slurm

# munge: one key, its own user; the daemon refuses a key readable by others.
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown munge:munge /etc/munge/munge.key /run/munge && chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged

# Fake GPUs: slurmd accepts only character devices as gres files.
for i in 0 1; do [ -c /dev/fakegpu$i ] || mknod /dev/fakegpu$i c 1 3; done

# slurm.conf must live at /etc/slurm: the jobstep plugin drops SLURM_CONF before its inner srun.
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=rankvideo
SlurmctldHost=$NODE
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
# Finished jobs stay visible to squeue long enough for the executor plugin's polls.
MinJobAge=600
# A job without --mem must not take the whole node.
DefMemPerCPU=2000
GresTypes=gpu
NodeName=$NODE CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
cat > /etc/slurm/gres.conf <<CONF
AutoDetect=off
NodeName=$NODE Name=gpu File=/dev/fakegpu[0-1]
CONF

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
        sinfo
        exit 0
    fi
    sleep 1
done
echo "scripts/slurm/up.sh: node $NODE did not become idle in 60 s; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
sinfo >&2 || true
exit 1
