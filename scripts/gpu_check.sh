#!/usr/bin/env bash
# The prepared GPU check (issue #25; `make gpu-check`; docs/gpu-check.md): Qwen3-VL-8B's widths at two layers, planned
# as the workflow plans a vLLM job, then served by vLLM on the GPU and measured against that plan.
#
# With a GPU (nvidia-smi answers): builds $GPU_VENV (.venv-gpu) from the vLLM stack's pins ($VLLM_STACK,
# envs/vllm-stack.txt) plus what rankvideo's code needs beside vLLM, unless it already holds exactly those, then runs
# `python -m rankvideo.demo.gpu_check` there with the engine on the same interpreter (RANKVIDEO_VLLM_PYTHON).
# Without one: the CPU half (build the twin, print its plan) in $VENV (.venv), which says the rest needs a GPU.
# Arguments go to the module: --out DIR (results/gpu_check), --videos DIR, --no-bench, ...
# GPU_PIP_ARGS: extra pip arguments, e.g. "--no-index --find-links /path/to/wheels" on a node without a package index.
# GPU_PYTHON: an interpreter that already has the stack (vLLM's CUDA build, and rankvideo importable): used as it is,
# no venv is built (a GPU node without a package index).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
GPU_VENV=${GPU_VENV:-.venv-gpu}
PYTHON=${PYTHON:-python3}
STACK=${VLLM_STACK:-envs/vllm-stack.txt}
# rankvideo's imports on the reranker's path (files, models, rerank, workflow plan, demo), besides vLLM's own pins.
NEEDS=(numpy pyyaml jsonschema tqdm av pillow safetensors huggingface-hub qwen-vl-utils==0.0.14)
read -r -a EXTRA <<< "${GPU_PIP_ARGS:-}"
start=$SECONDS

if ! nvidia-smi > /dev/null 2>&1; then
  echo "gpu-check: nvidia-smi does not answer: the CPU half, in $VENV"
  exec "$VENV/bin/python" -m rankvideo.demo.gpu_check "$@"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

videos_given=no
for arg in "$@"; do
  case $arg in --videos|--videos=*) videos_given=yes ;; esac
done
if [ "$videos_given" = no ] && ! command -v ffmpeg > /dev/null; then
  echo "gpu-check: the demo videos need ffmpeg (apt-get install -y ffmpeg), or pass --videos DIR" >&2
  exit 2
fi

if [ ! -f "$STACK" ]; then
  echo "gpu-check: $STACK is missing: it pins the vLLM stack (vllm, torch, torchvision, transformers)" >&2
  exit 2
fi
if ! grep -Eq '^vllm==' "$STACK"; then
  echo "gpu-check: $STACK pins no vllm==VERSION" >&2
  exit 2
fi
if [ -n "${GPU_PYTHON:-}" ]; then
  echo "gpu-check: using $GPU_PYTHON as it is (GPU_PYTHON)"
else
  # What the venv must hold: the stack's pins and rankvideo's needs. A venv that holds them already is used as it is.
  wanted=$(grep -Ev '^[[:space:]]*(#|$)' "$STACK"; printf '%s\n' "${NEEDS[@]}")
  if [ ! -x "$GPU_VENV/bin/python" ]; then
    echo "gpu-check: creating $GPU_VENV"
    "$PYTHON" -m venv "$GPU_VENV"
  fi
  if [ "$(cat "$GPU_VENV/.gpu-check-stack" 2> /dev/null)" != "$wanted" ]; then
    echo "gpu-check: installing into $GPU_VENV: $(grep -Ev '^[[:space:]]*(#|$)' "$STACK" | tr '\n' ' ')+ ${NEEDS[*]}"
    # --isolated: only PyPI's wheels (torch's CUDA build), not a machine's pip config (a CPU torch in a local wheel folder).
    PIP=("$GPU_VENV/bin/python" -m pip install -q --disable-pip-version-check --isolated "${EXTRA[@]}")
    "${PIP[@]}" -r "$STACK" "${NEEDS[@]}"
    "${PIP[@]}" --no-deps -e .
    printf '%s\n' "$wanted" > "$GPU_VENV/.gpu-check-stack"
    echo "gpu-check: $GPU_VENV ready ($((SECONDS - start)) s)"
  fi
  GPU_PYTHON="$(cd "$GPU_VENV" && pwd)/bin/python"
fi
if ! "$GPU_PYTHON" -c 'import sys, torch, vllm; print("gpu-check: vLLM", vllm.__version__, "torch", torch.__version__, "CUDA", torch.version.cuda); sys.exit(not torch.cuda.is_available())'; then
  echo "gpu-check: torch under $GPU_PYTHON sees no GPU: compare its CUDA build with the driver nvidia-smi shows above" >&2
  exit 2
fi

rc=0
RANKVIDEO_VLLM_PYTHON=$GPU_PYTHON "$GPU_PYTHON" -m rankvideo.demo.gpu_check "$@" || rc=$?
echo "gpu-check: $((SECONDS - start)) s in all, exit $rc"
exit "$rc"
