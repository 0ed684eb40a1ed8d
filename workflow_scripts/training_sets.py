"""Rule training_sets: Stage 1 (caption SFT) and Stage 2 (query groups) in upstream's JSONL format."""

from rankvideo.files.atomic import atomic_write
from rankvideo.files.jsonl import read_jsonl, write_jsonl
from rankvideo.files.queries import read_queries
from rankvideo.judge.partition import read_partitions
from rankvideo.judge.training_sets import sample_negatives, stage1_rows, stage2_rows
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    parts = read_partitions(read_jsonl(sm.input.partition))
    queries = read_queries(sm.input.queries)
    records = {r["video_id"]: r for path in sm.input.records for r in read_jsonl(path)}
    write_jsonl(sm.output.stage1, stage1_rows(parts, queries, records))
    write_jsonl(sm.output.stage2, stage2_rows(parts, queries, records))
    with atomic_write(sm.output.sampled) as out:
        out.write("query_id\tnegatives\n")
        for part in parts:
            out.write(f"{part.query_id}\t{','.join(j.video_id for j in sample_negatives(part, sm.params.negatives, sm.params.seed))}\n")


run_script(main, snakemake)  # noqa: F821
