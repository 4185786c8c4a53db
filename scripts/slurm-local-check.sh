#!/usr/bin/env bash
# Exercises scripts/slurm-array.sh on a real, single-node Slurm started on
# this machine (Debian's slurm-wlm and munge; run as root), then checks that
# the merged results of the job array equal those of one local, unsharded
# `reproduce` call. Not part of the test suite: it trains networks.
#
#   scripts/slurm-local-check.sh [SHARDS] [ROWS] [SEEDS]
#   defaults: 2 shards, rows mnist-mlp-k3 (CE and MSE), 2 seeds (4 runs)
#
# Needs the release binary with the torch feature (SUPERLINEAR, default
# target/release/superlinear), the shared data (SUPERLINEAR_DATA) and the
# libtorch environment (source scripts/torch-env.sh). Prints the job
# accounting lines (sacct) and exits 0 when the tables and the results
# document are equal, 1 when they differ.
set -euo pipefail

shards=${1:-2}
rows=${2:-mnist-mlp-k3}
seeds=${3:-2}
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${SUPERLINEAR:-$repo/target/release/superlinear}
[[ -x $bin ]] || { echo "no binary at $bin (set SUPERLINEAR)" >&2; exit 2; }
for c in slurmctld slurmd sbatch sacct munged; do
  command -v "$c" >/dev/null || { echo "$c not found: apt-get install slurm-wlm munge" >&2; exit 2; }
done

work=$(mktemp -d /tmp/superlinear-slurm.XXXXXX)
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
mkdir -p "$work/state" "$work/spool"
cat > "$work/slurm.conf" <<CONF
ClusterName=superlinear-check
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobCompType=jobcomp/filetxt
JobCompLoc=$work/jobcomp.txt
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=check Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$work/slurm.conf

cleanup() {
  scancel --quiet --user=root 2>/dev/null || true
  [[ -f $work/slurmd.pid ]] && kill "$(cat "$work/slurmd.pid")" 2>/dev/null || true
  [[ -f $work/slurmctld.pid ]] && kill "$(cat "$work/slurmctld.pid")" 2>/dev/null || true
}
trap cleanup EXIT

pgrep -x munged >/dev/null || { mkdir -p /run/munge; chown munge: /run/munge 2>/dev/null || true; munged --force; }
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  sinfo -h -o '%T' 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo

flags=(--table 1 --scale reduced --rows "$rows" --seeds "$seeds" --no-timings
       --configs "$repo/experiments/runs")
started=$(date +%s)
cd "$work"
ids=$(SUPERLINEAR=$bin SLURM_LOGS=$work/logs "$repo/scripts/slurm-array.sh" "$shards" \
  "${flags[@]}" --out "$work/array" --results "$work/array/RESULTS.md")
echo "$ids"
merge=${ids##* }
while squeue -h -j "$merge" 2>/dev/null | grep -q .; do
  if squeue -h -j "$merge" -o %r 2>/dev/null | grep -q DependencyNeverSatisfied; then
    echo "a shard failed; the merge never runs (logs in $work/logs)" >&2
    cat "$work"/logs/* >&2 || true
    exit 1
  fi
  sleep 5
done
array_s=$(( $(date +%s) - started ))

started=$(date +%s)
"$bin" reproduce "${flags[@]}" --quiet --out "$work/local" --results "$work/local/RESULTS.md" >/dev/null || true
local_s=$(( $(date +%s) - started ))

echo "sacct (job completion log):"
sacct -c -o JobID,JobName,Partition,NCPUS,State,ExitCode,Elapsed 2>/dev/null \
  || cat "$work/jobcomp.txt"
echo "array + merge: $array_s s; local: $local_s s"
status=0
for f in table1.md table1.csv RESULTS.md; do
  if diff <(sed "s#$work/array#OUT#g" "$work/array/$f") <(sed "s#$work/local#OUT#g" "$work/local/$f") >/dev/null; then
    echo "equal: $f"
  else
    echo "DIFFERENT: $f"; diff <(sed "s#$work/array#OUT#g" "$work/array/$f") <(sed "s#$work/local#OUT#g" "$work/local/$f") | head -20
    status=1
  fi
done
echo "records: $(find "$work/array/runs" -name 'seed-*.json' | wc -l) from the array, $(find "$work/local/runs" -name 'seed-*.json' | wc -l) local"
exit $status
