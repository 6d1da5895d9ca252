# Two commands on a fresh machine: `make book` and `make test`.
# Both create .venv from requirements.txt on first use.
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
CI_NOTEBOOKS := _build/ci-notebooks

# Use the offline mirror beside the checkout when there is one (never required).
ifneq ($(wildcard ../shared/data),)
export CNNCOURSE_DATA ?= $(abspath ../shared/data)
endif
export TF_CPP_MIN_LOG_LEVEL ?= 2
# unattended runs: explorers print a note instead of building widgets
export CNNCOURSE_WIDGETS ?= off
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: install book test unit lab run-quick train-full run-full clean

$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt -e .
	touch $@

install: $(VENV)/.installed

book: install  ## build the HTML book into _build/html from the stored outputs
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

test: install  ## unit tests, stored-output checks, every chapter re-executed (quick), book build
	$(PYTHON) -m cnncourse.data
	rm -rf $(CI_NOTEBOOKS)
	$(PYTHON) -m cnncourse --profile quick --prepare-only $(CI_NOTEBOOKS)
	$(PYTHON) -m pytest tests $(CI_NOTEBOOKS) --nbval-lax --nbval-cell-timeout=600 \
		--sanitize-with tests/nbval_sanitize.cfg -p no:randomly -v -rfE

unit: install  ## only the fast unit tests
	$(PYTHON) -m pytest tests -m "not book"

lab: install  ## open the chapters in JupyterLab
	$(VENV)/bin/jupyter lab chapters

run-quick: install  ## re-run every chapter with the quick profile and store the outputs
	$(PYTHON) -m cnncourse --profile quick

CHAPTERS ?=
train-full: install  ## train (or resume) the full-profile runs of CHAPTERS="07 08", one progress line per epoch
	mkdir -p _build
	$(PYTHON) -m cnncourse --profile full --train-only $(CHAPTERS) 2>&1 | tee -a _build/train-full.log

run-full: install  ## re-record chapters with the full profile (reloads the runs train-full saved)
	$(PYTHON) -m cnncourse --profile full $(CHAPTERS)

clean:
	rm -rf _build
