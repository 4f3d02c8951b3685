# Everything a fresh clone needs: `make demo` and `make test` create .venv and install into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# torch is pinned: an unpinned torch pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0
BACKENDS := jax torch tensorflow
PYTEST_ARGS ?= -rs
OUT ?= runs/demo

.PHONY: demo test test-jax test-torch test-tensorflow compat lint bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[jax,demo]'
	touch $@

# keras-hub (for the test with a real RetinaNet) without its dependencies: they would pull the
# full tensorflow and tensorflow-text next to tensorflow-cpu; it needs only these few.
KERAS_HUB := 'keras-hub==0.32.*'
KERAS_HUB_DEPS := regex kagglehub 'kagglesdk==0.1.28' tokenizers sentencepiece pyyaml tqdm

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(PIP) $(TORCH)
	$(PIP) -e '.[jax,demo,test]' tensorflow-cpu torchmetrics ruff mypy uv
	$(PIP) --no-deps $(KERAS_HUB) && $(PIP) $(KERAS_HUB_DEPS) \
	  || echo "warning: keras-hub did not install: its detector test will be skipped"
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/epochmetrics demo --out $(OUT)

# Headless Chromium for the HTML report test; without it that one test is skipped, with a reason.
chromium:
	@command -v chromium >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; } \
	  || echo "warning: could not install chromium: the report browser test will be skipped"

# The whole suite once per backend on the development stack, then the compatibility job
# (`make compat`); everything runs, and any failure fails the target.
test: $(VENV)/.test-installed chromium
	@failed=""; for b in $(BACKENDS); do \
	  echo "=== KERAS_BACKEND=$$b"; \
	  KERAS_BACKEND=$$b $(BIN)/python -m pytest -q $(PYTEST_ARGS) src tests || failed="$$failed $$b"; \
	done; \
	echo "=== compatibility job (make compat)"; \
	$(BIN)/python tools/compat.py || failed="$$failed compat"; \
	if [ -n "$$failed" ]; then echo "=== failed on:$$failed"; exit 1; fi

# The built wheel in fresh environments: the smoke suite (tests/smoke) on the oldest and newest
# supported Keras / Python / backend, and the README example after `pip install "epochmetrics[jax]"`.
# LEGS=oldest,newest for some of them (python tools/compat.py --list names them).
compat: $(VENV)/.test-installed
	$(BIN)/python tools/compat.py $(if $(LEGS),--legs $(LEGS))

test-%: $(VENV)/.test-installed chromium
	KERAS_BACKEND=$* $(BIN)/python -m pytest -q $(PYTEST_ARGS) src tests

lint: $(VENV)/.test-installed
	$(BIN)/ruff format --check src tests benchmarks examples tools
	$(BIN)/ruff check src tests benchmarks examples tools
	$(BIN)/mypy

bench: $(VENV)/.test-installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
