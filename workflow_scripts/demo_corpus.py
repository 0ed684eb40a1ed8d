"""Rule demo_corpus: generate the embedded demo corpus from a seed."""

from pathlib import Path

from rankvideo.demo.corpus import generate_demo_corpus
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    generate_demo_corpus(Path(sm.output.sheet).parent, sm.params.seed)


run_script(main, snakemake)  # noqa: F821
