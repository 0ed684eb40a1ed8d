"""Rule encode_corpus: OmniEmbed embeddings of one shard's usable videos, resumable through its work folder."""

import logging
import shutil

from rankvideo.files.embeddings import write_embeddings
from rankvideo.files.jsonl import read_jsonl
from rankvideo.files.settings import from_record
from rankvideo.files.skips import write_skips
from rankvideo.files.video_sheet import read_video_sheet
from rankvideo.retrieve.omniembed import encode_shard, encoder_record
from rankvideo.retrieve.settings import OmniEmbedSettings
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    p = sm.params
    settings = from_record(OmniEmbedSettings, p.settings)
    made_by = encoder_record(p.encoder, settings, p.text_fields, p.code)
    videos = read_video_sheet(sm.input.videos)
    records = {r["video_id"]: r for r in read_jsonl(sm.input.records)}
    ids, vectors, skips = encode_shard(p.encoder, settings, videos, records, p.text_fields, p.work_dir, made_by)
    logging.info("%d videos encoded, %d encoded without a part (see %s)", len(ids), len(skips), sm.output.skipped)
    write_skips(sm.output.skipped, skips)
    write_embeddings(sm.output.embeddings, ids, vectors, made_by)
    shutil.rmtree(p.work_dir, ignore_errors=True)  # its parts are in the output now


run_script(main, snakemake)  # noqa: F821
