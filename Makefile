# The two front-door commands (see README.md):
#   make app    install the runtime and start the studio on the default task and model
#   make test   install runtime + dev tools and run the whole test suite
PY ?= python3

.PHONY: install install-dev app test lint

install:
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .

install-dev: install
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-peers.txt

app: install
	$(PY) -m streamlit run app.py

test: install-dev
	$(PY) -m pytest

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
