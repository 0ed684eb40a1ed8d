# The paper's analyses as targets (Tables 1, 2, 4, 5, 7, nDCG@10 by query group, Figures 3 and 4), each a report
# item: `snakemake --report results/report.html` collects them with the funnel and the loss curves.


rule paper_analysis:
    input:
        ndcg="results/eval/ndcg.json",
        first_stage=first_stage_run("test"),
        table2_runs=table2_runs().values(),
        scores=reranker_scores().values(),
        qrels=DATASET["qrels"],
        queries=DATASET["queries"]["test"],
        groups=query_groups(),
    output:
        table1_csv=report("results/paper/table1.csv", caption="../report/table1.rst", category="Paper results"),
        published=report("results/paper/table1_vs_published.md", caption="../report/published.rst", category="Paper results"),
        table2=report("results/paper/table2.md", caption="../report/table2.rst", category="Paper results"),
        first_stages=report("results/paper/first_stages.md", caption="../report/first_stages.rst", category="Paper results"),
        table4=report("results/paper/table4.md", caption="../report/table4.rst", category="Paper results"),
        table5=report("results/paper/table5.md", caption="../report/table5.rst", category="Paper results"),
        table7=report("results/paper/table7.md", caption="../report/table7.rst", category="Paper results"),
        groups=report("results/paper/ndcg_by_group.md", caption="../report/groups.rst", category="Paper results"),
        figure3=report("results/paper/figure3_ecdf.png", caption="../report/figure3.rst", category="Paper results"),
    log:
        "logs/paper_analysis/paper_analysis.log",
    params:
        scores=reranker_scores(),
        cutoffs=config["evaluation"]["cutoffs"],
        first_stage_name=FIRST_STAGE["name"],
        depth=FIRST_STAGE["depth"],
        rerank_depth=config["rerank"]["depth"],
        reranker=config["evaluation"]["analysis_reranker"],
        ecdf=config["evaluation"]["ecdf_rerankers"],
        tolerance=config["evaluation"]["published_tolerance"],
        table4_queries=config["evaluation"]["table4_queries"],
        min_group_queries=config["evaluation"]["min_group_queries"],
        loss_ablation=loss_ablation_rows(config),
        table2_runs=table2_runs(),
        table2_depths=first_stage_depths(),
        code=code_version("paper_analysis"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/paper_analysis.py"


rule latency:
    input:
        unpack(latency_inputs),
    output:
        "results/latency/{reranker}.json",
    log:
        "logs/latency/{reranker}.log",
    benchmark:
        "benchmarks/latency/{reranker}.tsv"
    params:
        spec=lambda wildcards: RERANKERS[wildcards.reranker],
        settings=record(from_block(RerankSettings, config["rerank"])),
        video=record(configured_video(config["video"], 2)),
        engine=reranker_engine,
        pairs=config["evaluation"]["latency_pairs"],
        seed=config["evaluation"]["latency_seed"],
        code=code_version("latency"),
    threads: 2
    resources:
        gpu=reranker_gpus,
        mem_mb=lambda wildcards, attempt: (96000 if text_reranker_job(wildcards) else 32000) * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        "../envs/vlm.yaml"
    script:
        "../workflow_scripts/latency.py"


rule figure4:
    input:
        expand("results/latency/{reranker}.json", reranker=config["evaluation"]["latency_rerankers"]),
    output:
        figure=report("results/paper/figure4_latency.png", caption="../report/figure4.rst", category="Paper results"),
        table=report("results/paper/figure4_latency.md", caption="../report/figure4.rst", category="Paper results"),
    log:
        "logs/figure4/figure4.log",
    params:
        code=code_version("figure4"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/figure4.py"
