# Two commands on a fresh machine: `make book` and `make test`.
# Both create .venv from requirements.txt on first use; nothing needs root.
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
CI_NOTEBOOKS := _build/ci-notebooks
NBVAL := --nbval-lax --nbval-cell-timeout=600 --sanitize-with tests/nbval_sanitize.cfg -p no:randomly -rfE

# Use the offline mirror beside the checkout when there is one (never required).
ifneq ($(wildcard ../shared/data),)
export CNNCOURSE_DATA ?= $(abspath ../shared/data)
endif
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: install book test unit lab run-quick train-full run-full test-backend clean check-python

# Unattended targets only: their explorers print a note instead of building widgets
# that nobody could move. `make lab` (a learner at the keyboard) keeps them on.
UNATTENDED := test unit test-backend run-quick train-full run-full
$(UNATTENDED): export CNNCOURSE_WIDGETS ?= off

check-python:  ## the one system requirement: Python 3.10+ with venv and pip
	@python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null || \
		{ echo "The course needs Python 3.10 or newer as python3 (found: $$(python3 --version 2>&1))."; exit 1; }
	@python3 -c 'import venv, ensurepip' 2>/dev/null || \
		{ echo "python3 cannot create virtualenvs: install the venv module (Debian/Ubuntu: apt-get install python3-venv)."; exit 1; }

$(VENV)/.installed: requirements.txt requirements-common.txt pyproject.toml | check-python
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt -e .
	touch $@

install: $(VENV)/.installed

book: install  ## build the HTML book into _build/html from the stored outputs
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

test: install  ## unit tests, stored-output checks, every chapter re-executed (quick), book build
	$(PYTHON) -c 'import cnncourse; cnncourse.data.cache_all()'
	rm -rf $(CI_NOTEBOOKS)
	$(PYTHON) -m cnncourse --profile quick --prepare-only $(CI_NOTEBOOKS)
	CNNCOURSE_QUICK_PROSE=check $(PYTHON) -m pytest tests $(CI_NOTEBOOKS) $(NBVAL) -v

unit: install  ## only the fast unit tests
	$(PYTHON) -m pytest tests -m "not book and not slow"

lab: install  ## open the chapters in JupyterLab
	$(VENV)/bin/jupyter lab chapters

# Another Keras backend, or the versions Colab ships, each in its own virtualenv:
#   make test-backend BACKEND=jax      (ci/requirements-jax.txt)
#   make test-backend BACKEND=torch    (ci/requirements-torch.txt)
#   make test-backend BACKEND=colab    (ci/requirements-colab.txt, TensorFlow)
# Unit tests and every chapter in the quick profile; the stored outputs, the
# book and the tests that run no backend code are checked once, by `make test`.
BACKEND ?= jax
KERAS_BACKEND_OF = $(if $(filter colab,$(1)),tensorflow,$(1))

.venv-%/.installed: ci/requirements-%.txt requirements-common.txt pyproject.toml | check-python
	python3 -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip install --quiet -r ci/requirements-$*.txt -e .
	touch $@

test-backend: .venv-$(BACKEND)/.installed
	rm -rf $(CI_NOTEBOOKS)-$(BACKEND)
	KERAS_BACKEND=$(call KERAS_BACKEND_OF,$(BACKEND)) .venv-$(BACKEND)/bin/python -c 'import cnncourse; cnncourse.data.cache_all()'
	KERAS_BACKEND=$(call KERAS_BACKEND_OF,$(BACKEND)) .venv-$(BACKEND)/bin/python -m cnncourse --profile quick \
		--prepare-only $(CI_NOTEBOOKS)-$(BACKEND)
	KERAS_BACKEND=$(call KERAS_BACKEND_OF,$(BACKEND)) .venv-$(BACKEND)/bin/python -m pytest tests \
		$(CI_NOTEBOOKS)-$(BACKEND) -m "not book and not slow and not backend_independent" --ignore=tests/test_notebooks.py $(NBVAL)

run-quick: install  ## re-run every chapter with the quick profile and store the outputs
	$(PYTHON) -m cnncourse --profile quick

CHAPTERS ?=
TRAIN_LOG ?= _build/train-full.log
train-full: install  ## train (or resume) the full-profile runs of CHAPTERS="08 09", one progress line per epoch
	mkdir -p $(dir $(TRAIN_LOG))
	$(PYTHON) -m cnncourse --profile full --train-only $(CHAPTERS) 2>&1 | tee -a $(TRAIN_LOG)

run-full: install  ## re-record chapters with the full profile (reloads the runs train-full saved)
	$(PYTHON) -m cnncourse --profile full $(CHAPTERS) -p train False

clean:
	rm -rf _build
