#!/usr/bin/env bash
# Stop the single-node Slurm that scripts/slurm/up.sh started; safe to run when it is not running.
set -u
scancel --user="$(id -un)" 2>/dev/null
for daemon in slurmd slurmctld munged; do
    pkill -x "$daemon" 2>/dev/null
done
for _ in $(seq 20); do
    pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || exit 0
    sleep 0.5
done
pkill -9 -x slurmd slurmctld 2>/dev/null
exit 0
