"""Rule text_llm: convert the packaged SmolLM2-135M-Instruct GGUF into a safetensors model folder, once."""

from rankvideo.models.textllm import convert_packaged_gguf
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    convert_packaged_gguf(sm.params.package, sm.output[0])


run_script(main, snakemake)  # noqa: F821
