# The two commands a new user runs: `make run` (install + launch the app) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install install-dev bench train-open clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

$(VENV)/.installed-dev: requirements-dev.txt $(STAMP)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(VENV)/.installed-dev

# Khronos' glTF validator for the export tests (pinned by its package-lock.json, into an ignored node_modules/)
GLTF_VALIDATOR := tools/gltf_validator/node_modules/.package-lock.json
$(GLTF_VALIDATOR): tools/gltf_validator/package-lock.json
	cd tools/gltf_validator && npm ci --no-audit --no-fund

install: $(STAMP)
install-dev: $(VENV)/.installed-dev $(GLTF_VALIDATOR)

run: install
	$(PY) app.py

test: install-dev
	$(PY) -m pytest -q tests

bench: install-dev
	PYTHONPATH=. $(PY) benchmarks/bench_whole_run.py
	PYTHONPATH=. $(PY) benchmarks/bench_model.py
	PYTHONPATH=. $(PY) benchmarks/bench_render.py
	PYTHONPATH=. $(PY) benchmarks/bench_pipeline.py
	PYTHONPATH=. $(PY) benchmarks/bench_stream.py
	PYTHONPATH=. $(PY) benchmarks/bench_app.py --test-weights

# retrain the shipped open model (needs the training-only requirements: pybullet's motion clips)
train-open: install
	$(PY) -m pip install -q -r requirements-train.txt
	$(PY) -m glot.open_model.train

clean:
	rm -rf $(VENV) .pytest_cache
