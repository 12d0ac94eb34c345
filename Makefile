# One way to run each thing (README lists them).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint analyze ffmpeg bench-models bench-pipeline

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# ffmpeg comes from the system (Debian's package when we are root and it is missing).
ffmpeg:
	@command -v ffmpeg >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; } || { echo "install ffmpeg (apt-get install ffmpeg)"; exit 1; }

# torch first, pinned to the CPU build on disk: a bare "torch" would pull a multi-GB CUDA build.
# A stamp file: a second `make analyze` runs no pip unless pyproject.toml changed (the project
# is installed editable, so source changes need no reinstall).
INSTALLED := $(VENV)/.hybridlens-installed

install: ffmpeg $(INSTALLED)

$(INSTALLED): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The main job on the embedded default (SQLite under ./data, in-process): make analyze FILM=film.mp4;
# with no FILM, the committed demo film (demo/SOURCES.md).
FILM ?= demo/hybridlens-demo.mp4
analyze: install
	$(BIN)/hybridlens analyze $(FILM)

test:
	$(BIN)/python -m pytest -q

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app workers hybridlens

bench-models:
	$(BIN)/python bench/bench_models.py

bench-pipeline:
	$(BIN)/python bench/bench_pipeline.py
