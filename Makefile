# The two front-door commands (see README.md):
#   make app    install the runtime from the lock (once) and start the studio on the default task and model
#   make test   install runtime + dev tools from the lock (once) and run the whole test suite
#   make lock   refresh the locks from the loose requirements*.txt (a refresh lands only with a green `make test`)
# Installs are stamped by the hash of the lock files: a second `make app` starts the studio at once, and a changed
# lock installs again.
PY ?= python3
STAMP_DIR := .cache/install
RUNTIME_HASH := $(shell cat requirements.lock requirements-nodeps.txt pyproject.toml | sha256sum | cut -c1-16)
DEV_HASH := $(shell cat requirements-dev.lock requirements-nodeps.txt requirements-peers.txt pyproject.toml | sha256sum | cut -c1-16)
PYTHON_ID := $(shell $(PY) -c "import sys, hashlib; print(hashlib.sha256(sys.prefix.encode()).hexdigest()[:8])" 2>/dev/null)
RUNTIME_STAMP := $(STAMP_DIR)/runtime-$(PYTHON_ID)-$(RUNTIME_HASH)
DEV_STAMP := $(STAMP_DIR)/dev-$(PYTHON_ID)-$(DEV_HASH)
PIP_COMPILE := $(PY) -m piptools compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --newline lf

.PHONY: install install-dev app test lint lock

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

$(RUNTIME_STAMP):
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@mkdir -p $(STAMP_DIR) && touch $@

$(DEV_STAMP):
	$(PY) -m pip install -q -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps -r requirements-peers.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@mkdir -p $(STAMP_DIR) && touch $@ $(RUNTIME_STAMP)

app: install
	$(PY) -m streamlit run app.py

test: install-dev
	$(PY) -m pytest

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# The dev lock is resolved first (runtime + dev tools together); the runtime lock is constrained by it, so the two
# agree on every shared version. torch's local build label (+cpu) is dropped so the lock installs the CPU build
# where that is what the index offers and the CUDA build elsewhere.
lock:
	$(PY) -m pip install -q pip-tools
	$(PIP_COMPILE) --output-file requirements-dev.lock requirements.txt requirements-dev.txt
	$(PIP_COMPILE) --constraint requirements-dev.lock --output-file requirements.lock requirements.txt
	sed -i 's/^torch==\([0-9.]*\)+[a-z0-9]*$$/torch==\1/' requirements.lock requirements-dev.lock
