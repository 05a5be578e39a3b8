# The two set-up commands: `make demo` and `make test`. Both build .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test typecheck install bench clean train

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m sentiment.snow_port   # SnowNLP's segmenter, converted once into the port's cache
	$(BIN)/python -m sentiment.complaint_model   # jieba's prefix dictionary, cached beside it
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/repwatch demo

# The suite on every core (pytest-xdist; TEST_WORKERS=0 runs it in one process). The test that stops the shared
# RabbitMQ serialises itself with the other broker tests by a file lock (tests/distributed/conftest.py).
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# mypy over the five packages, configured in pyproject.toml ([tool.mypy]); .ci/run runs it before the tests
typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/sentiment.py
	$(BIN)/python bench/spikes.py
	$(BIN)/python bench/collect.py --web

train: $(STAMP)
	$(BIN)/python -m sentiment.train

clean:
	rm -rf $(VENV) repwatch.db repwatch.db-wal repwatch.db-shm .pytest_cache .mypy_cache
