#!/usr/bin/env bash
# The five blind spots of issue #28, each planted by hand as a one-line bug in a copy of the tree, then the tests of that
# area run against it: every line must report failures. `make mutation` covers single-token changes; these are the
# realistic bugs a reviewer planted (cascade depth, Stage 2 groups, the skip manifest, the rerank driver's alignment,
# config spellings).  Usage: bash bench/planted_bugs.sh  (uses .venv; leaves the tree untouched)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$ROOT" && git ls-files -z | xargs -0 cp --parents -t "$WORK")
cd "$WORK"
status=0

plant() {  # name, file, the line's text, the bug's text, the tests to run
    local name=$1 file=$2 old=$3 new=$4
    shift 4
    cp "$file" "$file.orig"
    "$PY" - "$file" "$old" "$new" <<'PLANT'
import sys
from pathlib import Path
path, old, new = sys.argv[1:]
text = Path(path).read_text()
if text.count(old) != 1:
    sys.exit(f"{path}: the planted line is not there once: {old!r}")
Path(path).write_text(text.replace(old, new))
PLANT
    local summary
    summary=$("$PY" -m pytest -q -p no:cacheprovider "$@" 2>&1 | tail -1 || true)
    mv "$file.orig" "$file"
    case "$summary" in
        *failed*) echo "caught  | $name | $summary" ;;
        *) echo "MISSED  | $name | $summary"; status=1 ;;
    esac
}

plant "cascade: the reranker reorders below rerank_depth" rankvideo/evaluate/metrics.py \
    'head, tail = order[:depth], order[depth:]' 'head, tail = order, []' tests/test_evaluation.py
plant "stage 2 groups: negatives do not rotate across epochs" rankvideo/train/stage2.py \
    '*rotate(sorted(usable[q]["negatives"], key=lambda r: r["doc_id"]), k, seed, q, epoch)' \
    '*sorted(usable[q]["negatives"], key=lambda r: r["doc_id"])[:k]' tests/test_mining.py tests/test_stages.py
plant "stage 2 groups: a suspected positive trains as a negative" rankvideo/judge/partition.py \
    'return self.trusted + self.hard' 'return self.trusted + self.hard + self.suspected' tests/test_mining.py tests/test_stages.py
plant "skip manifest: the corpus encoders' skip files are left out" rankvideo/workflow/dag.py \
    '    return runs + encoded' '    return runs' tests/test_dag.py
plant "rerank driver: queries scored in sorted, not listed, order" rankvideo/rerank/work.py \
    '[queries[q] for q in video2queries[v]]' '[queries[q] for q in sorted(video2queries[v])]' tests/test_rerank_work.py
plant "config: --config numbers read by YAML alone" rankvideo/workflow/config.py \
    'if types & {"integer", "number"}:' 'if False:' tests/test_config.py
exit "$status"
