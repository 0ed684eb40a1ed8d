"""Rule tiny_omniembed: build the tiny offline OmniEmbed (Qwen2.5-Omni thinker + LoRA adapter, safetensors)."""

from pathlib import Path

from rankvideo.demo.tiny_omni import build_tiny_omniembed
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    build_tiny_omniembed(Path(sm.output.thinker).parent, seed=sm.params.seed)


run_script(main, snakemake)  # noqa: F821
