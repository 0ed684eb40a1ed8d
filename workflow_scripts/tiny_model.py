"""Rule tiny_model: build the tiny offline Qwen3-VL (safetensors) the demo reranks and trains with."""

from rankvideo.demo.tiny import build_tiny_qwen3vl
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    build_tiny_qwen3vl(sm.output[0], seed=sm.params.seed)


run_script(main, snakemake)  # noqa: F821
