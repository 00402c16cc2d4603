# Everything Bastion needs is installed by these targets into .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-data

.PHONY: setup setup-browser demo test lint typecheck pytest bench fuzz clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Bastion needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps invisible-watermark==0.2.0
	@touch $(STAMP)

setup: $(STAMP)

# The review UI's browser tests drive Debian's Chromium (Playwright downloads no browser).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
setup-browser:
	@[ -x $(CHROMIUM) ] || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends chromium; }

demo: setup
	$(VENV)/bin/bastion demo $(DEMO_DIR)

lint: setup
	$(VENV)/bin/ruff check src tests bench fuzz
	$(VENV)/bin/ruff format --check src tests bench fuzz
	$(VENV)/bin/lint-imports

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup setup-browser
	$(PY) -m pytest

test: lint typecheck pytest

bench: setup
	$(PY) bench/hashing.py
	$(PY) bench/matching.py --import-lines 10000000
	$(PY) bench/scan.py
	$(PY) bench/service.py
	$(PY) bench/stamp.py
	$(PY) bench/terms.py

# Each fuzz target runs for FUZZ_SECONDS under atheris (installed into the venv
# on first use); new inputs land in build/fuzz/<target>/, a crash in
# build/fuzz/<target>-crash-* and stops the run.  tests/fuzz keeps the fixed ones.
FUZZ_SECONDS ?= 60
FUZZ_SEEDS ?= ../shared/testdata
FUZZ_TARGETS ?= $(shell $(PY) -c 'from fuzz.targets import TARGETS; print(*TARGETS)')
fuzz: setup
	@$(PY) -c 'import atheris' 2>/dev/null || $(PY) -m pip install --quiet atheris
	@mkdir -p build/fuzz
	@for target in $(FUZZ_TARGETS); do \
		echo "fuzz: $$target for $(FUZZ_SECONDS) s"; \
		$(PY) fuzz/run.py $$target --seconds $(FUZZ_SECONDS) --seeds $(FUZZ_SEEDS) --work build/fuzz \
			> build/fuzz-$$target.log 2>&1 || { tail -40 build/fuzz-$$target.log; exit 1; }; \
	done

clean:
	rm -rf $(VENV) $(DEMO_DIR) build .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache
