"""Rule extract_captions: captions of one shard from the video LLM (paper Figure 11 prompt); a captioner that hears
captions a video without an audio track from its frames and records it (no_audio)."""

from rankvideo.extract.captions import CAPTION_BATCH, load_captioner
from rankvideo.extract.records import extract_each
from rankvideo.extract.settings import CaptionSettings
from rankvideo.files.jsonl import write_jsonl
from rankvideo.files.settings import from_record
from rankvideo.files.skips import write_skips
from rankvideo.files.video import VideoSettings
from rankvideo.files.video_sheet import read_video_sheet
from rankvideo.models.serving import EngineSettings
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    p = sm.params
    videos = read_video_sheet(sm.input.videos)
    rows, skips = [], []
    if videos:
        settings = from_record(CaptionSettings, p.settings)
        captioner = load_captioner(p.model, settings.caption_backend, VideoSettings(**p.video), settings.caption_max_tokens, EngineSettings(**p.engine))

        def read(batch):
            captions = captioner.captions([v.path for v in batch])
            return [c if isinstance(c, Exception) else {"text": c.text, "lacks": c.lacks} for c in captions]

        rows, skips = extract_each(videos, "caption", p.model, read, batch_size=CAPTION_BATCH)
    write_jsonl(sm.output.rows, rows)
    write_skips(sm.output.skipped, skips)


run_script(main, snakemake)  # noqa: F821
