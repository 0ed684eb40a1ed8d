"""Rule judge: the teacher's margin for every candidate pair, over caption + ASR."""

import logging

from rankvideo.files.jsonl import read_jsonl, write_jsonl
from rankvideo.files.queries import read_queries
from rankvideo.files.settings import from_record
from rankvideo.judge.settings import TeacherSettings
from rankvideo.judge.teacher import judge, judgment_rows
from rankvideo.models.serving import EngineSettings
from rankvideo.synthesize.filters import Candidate
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    p = sm.params
    settings = from_record(TeacherSettings, p.settings)
    candidates = [Candidate(r["query_id"], r["positive"], r["positive_score"], [tuple(n) for n in r["negatives"]])
                  for r in read_jsonl(sm.input.candidates)]
    records = {r["video_id"]: r for path in sm.input.records for r in read_jsonl(path)}
    judgments = []
    if candidates:
        from rankvideo.models.textllm import load_text_llm

        judgments = judge(load_text_llm(settings.backend, p.model, EngineSettings(**p.engine)), candidates, read_queries(sm.input.queries), records, settings.mode,
                          settings.max_reasoning_tokens)
    logging.info("%d pairs judged", len(judgments))
    write_jsonl(sm.output[0], judgment_rows(judgments))


run_script(main, snakemake)  # noqa: F821
