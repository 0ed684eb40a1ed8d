# Evaluation (paper §5): R@k and nDCG@k of the first stage and each reranker cascaded on it, and of every other
# first stage on its own.


rule evaluate:
    input:
        first_stage=first_stage_run("test"),
        qrels=DATASET["qrels"],
        queries=DATASET["queries"]["test"],
        rerankers=reranker_scores().values(),
        other_first_stages=other_first_stage_runs().values(),
    output:
        json="results/eval/ndcg.json",
        table="results/eval/table1.md",
    log:
        "logs/evaluate/evaluate.log",
    params:
        rerankers=reranker_scores(),
        cutoffs=config["evaluation"]["cutoffs"],
        depth=FIRST_STAGE["depth"],
        rerank_depth=config["rerank"]["depth"],
        first_stage_name=FIRST_STAGE["name"],
        other_runs=other_first_stage_runs(),
        other_depths=first_stage_depths(),
        dataset=DATASET["name"],
        code=code_version("evaluate"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/evaluate.py"
