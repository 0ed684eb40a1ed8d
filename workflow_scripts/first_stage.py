"""Rule first_stage: the first-stage run of one query split, as TREC and as upstream's JSON."""

import logging

from rankvideo.files.jsonl import read_jsonl
from rankvideo.files.queries import read_queries
from rankvideo.files.runs import write_json_run, write_trec_run
from rankvideo.files.skips import Skip, Why, write_skips
from rankvideo.files.video_sheet import read_video_sheet
from rankvideo.retrieve.first_stage import load_precomputed, retrieve_dense, search_embeddings, sheet_rows, video_texts
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    p = sm.params
    queries = read_queries(sm.input.queries)
    usable = read_video_sheet(sm.input.videos)
    skips = []
    if p.backend == "precomputed":
        known = {r.video_id for r in read_video_sheet(sm.input.sheet)}
        run, dropped = load_precomputed(sm.input.run, queries, known, {r.video_id for r in usable}, p.depth)
        skips = [Skip(vid, "first_stage", Why.UNUSABLE_CANDIDATE, f"not usable (see results/corpus/skipped.tsv); removed from {n} ranked lists")
                 for vid, n in sorted(dropped.items())]
    elif p.backend == "omniembed":
        run = search_embeddings(sm.input.query_embeddings, sm.input.corpus, list(queries), p.depth)
    else:
        rows = [r for path in sm.input.records for r in read_jsonl(path)] if "records" in sm.input.keys() else sheet_rows(usable)
        run = retrieve_dense(p.model, queries, video_texts(rows, p.text_fields), p.depth)
    logging.info("%s: %d queries, depth %d", p.name, len(run), p.depth)
    write_trec_run(sm.output.trec, run, tag=p.name)
    write_json_run(sm.output.json, run)
    write_skips(sm.output.skipped, skips)


run_script(main, snakemake)  # noqa: F821
