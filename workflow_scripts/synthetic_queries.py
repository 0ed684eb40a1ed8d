"""Rule synthetic_queries: all shards' queries deduplicated, human train queries mixed in, with qrels."""

import logging

from rankvideo.files.jsonl import read_jsonl, write_jsonl
from rankvideo.files.qrels import read_qrels, write_qrels
from rankvideo.files.queries import read_queries, write_queries
from rankvideo.files.skips import Skip, Why, write_skips
from rankvideo.synthesize.queries import SyntheticQuery, as_rows, deduplicate
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    written = [SyntheticQuery(**row) for path in sm.input.generated for row in read_jsonl(path)]
    kept, skips = deduplicate(written)
    queries = {q.query_id: q.text for q in kept}
    qrels = {q.query_id: {q.video_id: 1} for q in kept}
    provenance = [{"source": "synthetic", **row} for row in as_rows(kept)]
    if sm.params.human:
        human = read_queries(sm.input.human)
        judged = read_qrels(sm.input.qrels)
        for qid, text in human.items():
            relevant = {v: r for v, r in judged.get(qid, {}).items() if r > 0}
            if not relevant:
                skips.append(Skip(qid, "synthesis", Why.NO_RELEVANT_VIDEO, "human query without a relevant video in the qrels"))
                continue
            queries[qid] = text
            qrels[qid] = relevant
            provenance.append({"source": "human", "query_id": qid, "text": text})
    logging.info("%d synthetic + %d human queries", len(kept), len(queries) - len(kept))
    write_queries(sm.output.queries, queries)
    write_qrels(sm.output.qrels, qrels)
    write_jsonl(sm.output.provenance, provenance)
    write_skips(sm.output.skipped, skips)


run_script(main, snakemake)  # noqa: F821
