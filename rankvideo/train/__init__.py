"""Two-stage training (paper §4, rules/train.smk): typed settings, losses, the resumable loop, Stage 1 and Stage 2."""
