# nbtrack developer commands. The two a newcomer needs:
#   make demo   # virtualenv + nbtrack + demo extras, then the demo
#   make test   # virtualenv + dev extras, then lint, import contracts, tests, notebooks
# Everything lives in .venv/; a stamp file per extra skips reinstalling until
# pyproject.toml changes, so a second `make test` starts testing at once.
# `pip install -e .` also installs jupyter-config/ into .venv/etc/jupyter, so the server
# extension (REST API, docs/rest.md) is enabled in the venv's JupyterLab with no extra step.

PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/pip --disable-pip-version-check
# Runs logged by the demos go here (gitignored); `nbtrack --store .nbtrack runs list` reads them.
DEMO_STORE ?= $(CURDIR)/.nbtrack
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-x -k cli"`.
PYTEST_ARGS ?=
# When set (as .ci/run does), each pytest session writes a JUnit report there.
JUNIT_DIR ?=
BINDER_VENV ?= build/binder-venv
# Jupyter refuses to run as root unless told to (containers, CI machines).
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root) --notebook-dir=notebooks

# Prefer the kernelspec installed in .venv over any user-wide `python3` kernel, so
# notebooks always run against the nbtrack under test.
export JUPYTER_PREFER_ENV_PATH := 1
export PIP_PROGRESS_BAR := off

.DEFAULT_GOAL := help
.PHONY: help demo demo-headless lab test test-unit test-js test-notebooks lint format bench \
	binder-check clean labextension

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	@echo "==> creating the virtualenv $(VENV)"
	$(PYTHON) -m venv $(VENV)

# pip's build hook (hatch-jupyter-builder) runs `jlpm install && jlpm build` for the lab
# extension (src/ -> nbtrack/labextension, Node needed); `labextension develop` then links
# the venv's share/jupyter/labextensions/nbtrack to that folder, so `make labextension`
# after a TypeScript edit is all JupyterLab needs.
$(VENV)/.installed-dev: pyproject.toml package.json | $(BIN)/python
	@echo "==> installing nbtrack and the dev extras into $(VENV) (a few minutes the first time; pip -q)"
	$(PIP) install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (nbtrack)" >/dev/null
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/jupyter labextension develop --overwrite . >/dev/null
	touch $@

# pip runs without --quiet here: the first install takes minutes (downloads, building the
# lab extension), and a newcomer should see it progress rather than a silent terminal.
$(VENV)/.installed-demo: pyproject.toml package.json | $(BIN)/python
	@echo "==> [1/3] installing nbtrack and the demo extras into $(VENV) (about 2 minutes the first time)"
	$(PIP) install -e '.[demo]'
	@echo "==> [2/3] registering the 'Python 3 (nbtrack)' kernel"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (nbtrack)" >/dev/null
	@echo "==> [3/3] linking the JupyterLab extension"
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/jupyter labextension develop --overwrite . >/dev/null
	touch $@
	@echo "==> $(VENV) is ready"

labextension: $(VENV)/.installed-dev  ## rebuild the JupyterLab extension after editing src/
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/jlpm install
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/jlpm build

# ---------------------------------------------------------------------------- demo

demo: $(VENV)/.installed-demo  ## the demo: JupyterLab on notebooks/ with the Runs sidebar, opening 01-quickstart
	@echo "Starting JupyterLab on notebooks/ (runs go to $(DEMO_STORE)); Ctrl-C to stop."
	@echo "No browser here? Open the URL printed below, or run: make demo-headless"
	NBTRACK_STORE=$(DEMO_STORE) $(BIN)/jupyter lab $(LAB_FLAGS) \
		--LabApp.default_url='/lab/tree/01-quickstart.ipynb?nbtrack-runs'

lab: $(VENV)/.installed-demo  ## start JupyterLab on notebooks/
	NBTRACK_STORE=$(DEMO_STORE) $(BIN)/jupyter lab $(LAB_FLAGS)

# Runs the saved notebooks as a reader would (notebooks/ is not modified), drops the widget
# views (they need a kernel) and keeps their static HTML/plotly fallbacks; build/ gets a
# copy of plotly.js so the HTML copies draw their figures offline.
demo-headless: $(VENV)/.installed-demo  ## execute every notebook with nbclient, HTML copies in build/
	NBTRACK_STORE=$(DEMO_STORE) $(BIN)/python notebooks/_build.py --html build
	@echo
	@echo "Runs were logged to $(DEMO_STORE); HTML copies of the notebooks are in build/."
	@echo "Look at them with:"
	@echo "  $(BIN)/nbtrack --store $(DEMO_STORE) experiments"
	@echo "  $(BIN)/nbtrack --store $(DEMO_STORE) runs list"
	@$(BIN)/nbtrack --store $(DEMO_STORE) runs list --limit 10

# ---------------------------------------------------------------------------- checks

test: lint test-js test-unit test-notebooks  ## ruff, import contracts, vitest, pytest tests/, nbval notebooks/

# The lab extension's TypeScript unit tests (src/*.spec.ts).
test-js: $(VENV)/.installed-dev
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/jlpm test

test-unit: $(VENV)/.installed-dev
	$(BIN)/pytest tests $(if $(JUNIT_DIR),--junitxml=$(JUNIT_DIR)/tests.xml) $(PYTEST_ARGS)

# Each notebook kernel gets a throw-away store, so runs from earlier sessions never
# change a checked output.
test-notebooks: $(VENV)/.installed-dev
	@store=$$(mktemp -d) && trap 'rm -rf "$$store"' EXIT && \
	NBTRACK_STORE=$$store/store $(BIN)/pytest --nbval-lax --nbval-kernel-name python3 \
		notebooks/ $(if $(JUNIT_DIR),--junitxml=$(JUNIT_DIR)/notebooks.xml) $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev  ## ruff, import-linter (layer contracts), prettier on src/
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/jlpm prettier:check

format: $(VENV)/.installed-dev  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev  ## the benchmark against MLflow and trackio (benchmarks/run.py)
	$(BIN)/python benchmarks/run.py

# Rebuild what Binder (repo2docker) builds, from binder/ only, in a fresh virtualenv:
# requirements.txt, then postBuild run from the repository root, then execute the notebooks.
binder-check:  ## build the Binder environment in a fresh venv and run the notebooks in it
	rm -rf $(BINDER_VENV) build/binder-home
	$(PYTHON) -m venv $(BINDER_VENV)
	$(BINDER_VENV)/bin/pip --disable-pip-version-check install --quiet -r binder/requirements.txt
	mkdir -p build/binder-home
	PATH=$(CURDIR)/$(BINDER_VENV)/bin:$$PATH HOME=$(CURDIR)/build/binder-home \
		PIP_CACHE_DIR=$(HOME)/.cache/pip bash binder/postBuild
	PATH=$(CURDIR)/$(BINDER_VENV)/bin:$$PATH HOME=$(CURDIR)/build/binder-home \
		$(CURDIR)/binder/start python notebooks/_build.py --html build/binder
	@echo "binder-check: the Binder environment built and every notebook ran (HTML in build/binder/)."

clean:  ## remove build outputs (keeps .venv and the demo store)
	rm -rf build dist test-artifacts lib tsconfig.tsbuildinfo nbtrack/labextension
