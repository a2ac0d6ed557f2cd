#!/usr/bin/env bash
# Runs a queue of cells on this machine, one per worker (start one worker per core): each worker pops the first
# line "SCRIPT ARGS..." of QUEUE/todo (SCRIPT: ogbench_cpu.sh, bfm_ogbench.sh, faithful_cube.sh), runs
# benchmarks/SCRIPT RUNS ARGS from a copy taken when the worker starts (bash reads a script as it runs, so editing
# the repository never changes a running cell), logs to QUEUE/logs/, and stops when the queue is empty. Cells
# resume from their checkpoints, so a queue can be refilled with the same lines after the machine restarts.
#   printf "ogbench_cpu.sh fql cube-single 2\nbfm_ogbench.sh fb-awr 0\n" > QUEUE/todo
#   ANYPOLICY_DATA_DIR=/work/data nohup bash benchmarks/cell_queue.sh QUEUE RUNS > /dev/null 2>&1 &  # once per core
set -uo pipefail
queue=$(realpath "$1"); runs=$(realpath "$2")
cd "$(dirname "$0")/.."
export MUJOCO_GL=${MUJOCO_GL:-egl} PATH=$PWD/.venv/bin:$PATH
scripts=$(mktemp -d) && cp benchmarks/*.sh "$scripts"/
mkdir -p "$queue/logs" "$runs"
while true; do
  line=$(flock "$queue/lock" bash -c 'l=$(head -1 "$1/todo" 2>/dev/null); [ -n "$l" ] && sed -i 1d "$1/todo"; echo "$l"' _ "$queue")
  [ -z "$line" ] && break
  read -r script args <<< "$line"
  echo "$(date -u +%FT%T) start $line" >> "$queue/log"
  bash "$scripts/$script" "$runs" $args > "$queue/logs/${line// /-}.log" 2>&1
  rc=$?
  echo "$(date -u +%FT%T) end $line rc=$rc" >> "$queue/log"
done
