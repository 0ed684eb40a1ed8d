# The paper's analyses as targets (Tables 1, 4, 5, nDCG@10 by query group, Figure 3), each a report
# item: `snakemake --report results/report.html` collects them with the funnel and the loss curves.


rule paper_analysis:
    input:
        ndcg="results/eval/ndcg.json",
        first_stage="results/first_stage/test.trec",
        scores=reranker_scores().values(),
        qrels=DATASET["qrels"],
        queries=DATASET["queries"]["test"],
        groups=query_groups(),
    output:
        table1_csv=report("results/paper/table1.csv", caption="../report/table1.rst", category="Paper results"),
        published=report("results/paper/table1_vs_published.md", caption="../report/published.rst", category="Paper results"),
        table4=report("results/paper/table4.md", caption="../report/table4.rst", category="Paper results"),
        table5=report("results/paper/table5.md", caption="../report/table5.rst", category="Paper results"),
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
        code=code_version("paper_analysis"),
    conda:
        "../envs/eval.yaml"
    script:
        "../workflow_scripts/paper_analysis.py"
