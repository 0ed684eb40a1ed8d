# make demo: set up a fresh machine and run the embedded demo end to end.
# make test: set up and run the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
DEMO := all --configfile config/demo.yaml

.PHONY: setup demo test dry-run clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	VENV=$(VENV) scripts/setup.sh
	touch $@

demo: $(STAMP)
	$(VENV)/bin/snakemake $(DEMO) --cores 2
	@cat results/eval/table1.md

dry-run: $(STAMP)
	$(VENV)/bin/snakemake -n $(DEMO)

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf results logs benchmarks .snakemake
