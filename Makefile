# Run `make` or `make help` for the list of targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MODEL ?= sklearn-iris
PORT ?= 5001

.DEFAULT_GOAL := help

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

$(VENV)/.installed: requirements.txt requirements-service.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

# pip 26 first: older resolvers fail on the azure-ai-ml + azureml-mlflow set (InconsistentCandidate, opentelemetry-sdk).
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-azure.txt
	$(PY) -m pip install -q pip==26.3
	$(PY) -m pip install -q -r requirements-dev.txt -r requirements-azure.txt
	@touch $@

## venv: create .venv and install the service and training requirements
venv: $(VENV)/.installed

## run: install, train and register the iris model if none is registered, serve it on 127.0.0.1:$(PORT)
run: venv
	@$(PY) -m training models path $(MODEL) >/dev/null 2>&1 || $(PY) -m training train --register $(MODEL)
	@dir=$$($(PY) -m training models path $(MODEL)) && \
	  echo "Serving $(MODEL) from $$dir" && \
	  echo "Try:  curl -s -H 'Content-Type: application/json' -d '{\"data\": [[5.1, 3.5, 1.4, 0.2]]}' http://127.0.0.1:$(PORT)/score" && \
	  exec $(PY) -m service --model_dir "$$dir" --port $(PORT)

## sweep: local hyperparameter sweep (12 trials, 2 processes); registers the best model as $(MODEL)
sweep: venv
	$(PY) -m training sweep --register $(MODEL)

## test: install the test tools and run the whole suite (what CI runs)
test: $(VENV)/.installed-dev system-tools
	$(PY) -m ruff check .
	$(PY) -m pytest

## vendor: copy model_format.py into training/job/ (the Azure ML job snapshot must carry it; a test checks the copy)
vendor:
	cp model_format.py training/job/model_format.py

## system-tools: install the Debian packages the tests use (chromium, chromium-driver, strace, wrk) when missing, as
##   root with apt-get; elsewhere it says so in one line and the tests using them skip
system-tools:
	@bash scripts/system-tools.sh || [ $$? -eq 3 ]

## lint: ruff and hadolint
lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(VENV)/bin/hadolint docker/Dockerfile docker/Dockerfile.train docker/standin/Containerfile

## bench: measure the service against the reference server and the floors (writes bench/results/latest.json), then
##   the batch runner on 1 M rows (bench/results/batch.json)
bench: $(VENV)/.installed-dev
	$(PY) -m bench
	$(PY) -m bench batch

## docs-screenshot: refresh docs/try-it.png from the /docs browser test (installs Debian's chromium when missing)
docs-screenshot: $(VENV)/.installed-dev system-tools
	UPDATE_DOCS_SCREENSHOT=1 $(PY) -m pytest tests/service/test_docs_page.py -q

## image: build the service container image with podman (installs podman and a local base image when needed)
image:
	bash docker/build-image.sh

## image-run: run the image on 127.0.0.1:$(PORT) with a registered model, MODEL=name[:version]
image-run: venv
	PORT=$(PORT) bash docker/run-image.sh "$$($(PY) -m training models path $(MODEL))"

## image-check: build and run the images with podman and probe them (part of make test)
image-check: $(VENV)/.installed-dev
	bash docker/ci-check.sh

## clean: remove the virtual environments, also the tests' own (the .workspace registry is kept)
clean:
	rm -rf $(VENV) .venv-reference .venv-kserve .venv-mlflow .venv-job

.PHONY: help venv run sweep test system-tools vendor lint bench docs-screenshot image image-run image-check clean
