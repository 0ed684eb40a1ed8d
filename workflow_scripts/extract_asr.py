"""Rule extract_asr: transcripts of one shard; a video without audio gets an empty transcript and a reason."""

from rankvideo.extract.asr import load_asr
from rankvideo.extract.records import each_video, extract_each
from rankvideo.files.jsonl import write_jsonl
from rankvideo.files.skips import write_skips
from rankvideo.files.video_sheet import read_video_sheet
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    videos = read_video_sheet(sm.input.videos)
    rows, skips = [], []
    if videos:
        asr = load_asr(sm.params.backend, sm.params.model)

        def read(video):
            if video.metadata.get("has_audio") == "0":
                return {"text": "", "language": "", "error": "no audio stream: empty transcript"}
            transcript = asr.transcribe(video.path)
            return {"text": transcript.text, "language": transcript.language}

        rows, skips = extract_each(videos, "asr", asr.name, each_video(read))
    write_jsonl(sm.output.rows, rows)
    write_skips(sm.output.skipped, skips)


run_script(main, snakemake)  # noqa: F821
