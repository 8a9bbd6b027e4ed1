# The kit's two commands (see README): `make course` runs the whole course cycle, `make test` the tests.
# Both set up the same virtual environment first (.venv), so the second one installs nothing new.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin

# A local MNIST copy beside the project (../shared/data) is used when it exists; see course_utils/data.py.
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/MNIST/raw),)
export COURSE_DATA_DIR ?= $(SHARED_DATA)
endif
# Thread caps and headless plotting: set once, in autograder/limits.py (one torch thread per grading kernel).
export PATH := $(BIN):$(PATH)

PYTEST_ARGS ?=
JOBS ?= 2

.PHONY: course test release bench calibrate clean

$(VENV)/.installed: pyproject.toml student/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ./student -e '.[dev]'
	@# rfc3987-syntax is an optional format checker of jsonschema (pulled in by jupyter-events) that nothing
	@# here uses; importing it costs about a second of every nbgrader command's start-up.
	$(BIN)/python -m pip uninstall -y -q rfc3987-syntax || true
	@# The grader starts its own kernels; the environment's python3 kernel stays ipykernel's own.
	$(BIN)/python -m ipykernel install --sys-prefix > /dev/null
	touch $@

course: $(VENV)/.installed
	$(BIN)/autograder course

test: $(VENV)/.installed
	PYTHON=$(BIN)/python bash deploy/install-test-deps.sh
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup --durations=15 $(PYTEST_ARGS)

release: $(VENV)/.installed
	$(BIN)/autograder release

bench: $(VENV)/.installed
	$(BIN)/python bench/run.py

# Part 4's quality thresholds against the reference autoencoder (not a benchmark: no timings judged).
calibrate: $(VENV)/.installed
	$(BIN)/python -m autograder.calibrate

clean:
	rm -rf $(VENV) .pytest_cache
