"""Rule skip_manifest: every stage's skip lines in one file, results/skipped.tsv."""

from rankvideo.files.skips import merge_skips
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    merge_skips(list(sm.input), sm.output[0])


run_script(main, snakemake)  # noqa: F821
