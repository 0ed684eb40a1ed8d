"""Rule extract_records: one record per video of the shard with every modality and its provenance."""

from rankvideo.extract.records import merge_modalities
from rankvideo.files.jsonl import read_jsonl, write_jsonl
from rankvideo.files.video_sheet import read_video_sheet
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    videos = read_video_sheet(sm.input.videos)
    modalities = {m: {row["video_id"]: row for row in read_jsonl(sm.input[m])} for m in ("asr", "ocr", "caption")}
    write_jsonl(sm.output[0], merge_modalities(videos, modalities))


run_script(main, snakemake)  # noqa: F821
