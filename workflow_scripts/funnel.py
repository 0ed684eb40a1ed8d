"""Rule funnel: counts after every data-synthesis step, as JSON and Markdown."""

import json

from rankvideo.files.atomic import atomic_write_text
from rankvideo.files.jsonl import read_jsonl
from rankvideo.files.queries import read_queries
from rankvideo.files.skips import Why, count, read_skips
from rankvideo.judge.funnel import funnel_counts, funnel_markdown
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    i = sm.input
    records = [r for path in i.records for r in read_jsonl(path)]
    provenance = read_jsonl(i.provenance)
    filtered = read_skips(i.filtered_out)
    dropped = read_skips(i.dropped)
    n_queries = len(read_queries(i.queries))
    counts = funnel_counts(
        records=records,
        written=[r for path in i.generated for r in read_jsonl(path)],
        n_malformed=count([s for path in i.generated_skips for s in read_skips(path)], Why.MALFORMED_ANSWER),
        n_after_dedup=sum(1 for r in provenance if r["source"] == "synthetic"),
        n_human=sum(1 for r in provenance if r["source"] == "human"),
        n_retrieved=n_queries,
        n_after_a=n_queries - count(filtered, Why.FILTER_A),
        n_after_b=len(read_jsonl(i.candidates)),
        judgments=read_jsonl(i.judgments),
        partitions=read_jsonl(i.partition),
        n_misjudged=count(dropped, Why.MISJUDGED_POSITIVE),
        n_few_trusted=count(dropped, Why.FEW_TRUSTED_NEGATIVES),
        stage1=read_jsonl(i.stage1),
        stage2=read_jsonl(i.stage2),
    )
    atomic_write_text(sm.output.json, json.dumps(counts, indent=1) + "\n")
    atomic_write_text(sm.output.md, funnel_markdown(counts))


run_script(main, snakemake)  # noqa: F821
