#!/usr/bin/env bash
# Spreads a `superlinear reproduce` grid over a Slurm job array and merges it.
#
#   scripts/slurm-array.sh SHARDS REPRODUCE-FLAGS...
#   e.g. scripts/slurm-array.sh 8 --table 1 --scale paper --seeds 4 \
#            --out /shared/superlinear/paper --jobs 1 --threads 4
#
# Submits one array of SHARDS tasks, task I running
#   superlinear reproduce REPRODUCE-FLAGS... --shard I/SHARDS --quiet
# and, after all of them succeed (afterok), one merge job running
#   superlinear reproduce REPRODUCE-FLAGS... --report-only
# which writes the tables and the results document from every shard's
# records. A task that ends with exit 1 (it ran, and a claim's verdict is a
# counterexample) counts as done for Slurm, and so does the merge's; exit 2 (bad input) and anything
# else fail the task and hold the merge. `--out` must be a directory all nodes share; run from the
# repository root (or pass --configs) on a shared file system. Each task
# is resumable like any `reproduce` call: resubmitting the array reruns only
# the runs without a valid record.
#
# Environment:
#   SUPERLINEAR   the binary (default: target/release/superlinear, built
#                 with --features torch)
#   SBATCH_*      Slurm's own input variables (SBATCH_PARTITION,
#                 SBATCH_TIMELIMIT, SBATCH_ACCOUNT, ...) reach both jobs
#   SLURM_CPUS    CPUs per task (default 1; match --threads)
# Prints the array job id and the merge job id.
set -euo pipefail

if [[ $# -lt 2 || ! $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 SHARDS REPRODUCE-FLAGS... (SHARDS a positive integer)" >&2
  exit 2
fi
shards=$1
shift
for a in "$@"; do
  case $a in
    --shard|--shard=*|--report-only)
      echo "$0: $a is set by this script; leave it out" >&2
      exit 2 ;;
  esac
done
bin=${SUPERLINEAR:-$PWD/target/release/superlinear}
if [[ ! -x $bin ]]; then
  echo "$0: no superlinear binary at $bin (build with: cargo build --release --features torch, or set SUPERLINEAR)" >&2
  exit 2
fi
cpus=${SLURM_CPUS:-1}
flags=$(printf ' %q' "$@")
workdir=$PWD
logs=${SLURM_LOGS:-$workdir/slurm-logs}
mkdir -p "$logs"

array_id=$(sbatch --parsable --job-name=superlinear-grid --array="1-$shards" \
  --cpus-per-task="$cpus" --chdir="$workdir" \
  --output="$logs/grid-%A-%a.out" <<SCRIPT
#!/usr/bin/env bash
set -euo pipefail
rc=0
$(printf '%q' "$bin") reproduce$flags --shard "\${SLURM_ARRAY_TASK_ID}/$shards" --quiet || rc=\$?
[[ \$rc -le 1 ]] || exit \$rc
SCRIPT
)
merge_id=$(sbatch --parsable --job-name=superlinear-merge \
  --dependency="afterok:${array_id%%;*}" --chdir="$workdir" \
  --output="$logs/merge-%j.out" <<SCRIPT
#!/usr/bin/env bash
set -euo pipefail
rc=0
$(printf '%q' "$bin") reproduce$flags --report-only || rc=\$?
[[ \$rc -le 1 ]] || exit \$rc
SCRIPT
)
echo "array ${array_id%%;*} ($shards tasks), merge $merge_id"
