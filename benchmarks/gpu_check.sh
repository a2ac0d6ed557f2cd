#!/usr/bin/env bash
# The prepared GPU check (issue 26): one command, under 10 minutes on an H100/H200, writes $OUT/gpu-check.json
# (benchmarks/gpu_check.py: IQL 4x512 with and without CUDA graphs and in fp32, FQL, FB and PA-RL at the paper's
# settings, updates/s and hours for 1M updates, the machine). The GPU machine has no registry: the packages
# anypolicy needs besides torch travel as .carry/site.tgz, built here by `bash benchmarks/gpu_check.sh pack`.
#   bash benchmarks/gpu_check.sh pack        # here, once: .carry/site.tgz from the registry (python of .venv)
#   bash benchmarks/gpu_check.sh             # there: run(command="bash benchmarks/gpu_check.sh", carry=[".carry"])
#   bash benchmarks/gpu_check.sh dry         # the same script on this CPU, tiny (make test runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-gpu}
out=${OUT:-/tmp/gpu-check}
# what the loop on the toy task needs besides torch, numpy and scipy (which a GPU machine's python has)
PACKAGES="gymnasium farama-notifications cloudpickle typing-extensions safetensors tqdm"
case $mode in
  pack)
    rm -rf /tmp/gpu-site && mkdir -p .carry
    .venv/bin/python -m pip install -q --no-deps --target /tmp/gpu-site $PACKAGES
    tar czf .carry/site.tgz -C /tmp/gpu-site . && du -h .carry/site.tgz ;;
  dry)
    mkdir -p "$out" && ${PYTHON:-.venv/bin/python} benchmarks/gpu_check.py --dry --out "$out/gpu-check-dry.json" ;;
  gpu)
    mkdir -p "$out"
    if [ -f .carry/site.tgz ]; then mkdir -p /tmp/gpu-site && tar xzf .carry/site.tgz -C /tmp/gpu-site; fi
    export PYTHONPATH=/tmp/gpu-site:$PWD/src MUJOCO_GL=disable PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
    python3 -c "import sys, torch, numpy, scipy; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name())" ||
      { echo "this python lacks torch with CUDA, numpy or scipy" >&2; exit 3; }
    nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv || true
    timeout 540 python3 benchmarks/gpu_check.py --out "$out/gpu-check.json" ;;
  *) echo "usage: gpu_check.sh [gpu|dry|pack]" >&2; exit 2 ;;
esac
