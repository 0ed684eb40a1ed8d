"""Rule extract_ocr: on-screen text of one shard with Tesseract."""

from rankvideo.extract.ocr import TesseractOcr
from rankvideo.extract.records import each_video, extract_each
from rankvideo.extract.settings import OcrSettings
from rankvideo.files.jsonl import write_jsonl
from rankvideo.files.settings import from_record
from rankvideo.files.skips import write_skips
from rankvideo.files.video_sheet import read_video_sheet
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    videos = read_video_sheet(sm.input.videos)
    rows, skips = [], []
    if videos:
        settings = from_record(OcrSettings, sm.params.settings)
        ocr = TesseractOcr(settings.ocr_languages, settings.ocr_fps, settings.ocr_max_frames)
        rows, skips = extract_each(videos, "ocr", ocr.name, each_video(lambda video: {"text": ocr.read(video.path)}))
    write_jsonl(sm.output.rows, rows)
    write_skips(sm.output.skipped, skips)


run_script(main, snakemake)  # noqa: F821
