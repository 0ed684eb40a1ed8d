"""The paper's analyses (rules/analysis.smk): Tables 2, 4, 5, 7, Figures 3 and 4, nDCG by group, published comparison."""
