# Two commands do all set-up on a machine that has only python3:
#   make demo   the SDK walk-through and a whole runner day on the embedded default
#   make test   every test of every distribution, lint and type checks
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every distribution in this repository, installed editable into one environment.
DISTS := . adapters/csv adapters/onec-xml adapters/onec-bank adapters/sandbox adapters/gis-zhkh \
	adapters/soap-billing adapters/yookassa adapters/sber adapters/tbank plugins/outbox plugins/email plugins/fcm plugins/rustore plugins/apns plugins/webpush plugins/smsc plugins/atol runner conformance \
	examples/jsonl-format
PYPROJECTS := $(addsuffix /pyproject.toml,$(DISTS))
STAMP := $(VENV)/.installed
TEST_PATHS := tests adapters/csv/tests adapters/onec-xml/tests adapters/onec-bank/tests \
	adapters/sandbox/tests adapters/gis-zhkh/tests adapters/soap-billing/tests \
	adapters/yookassa/tests adapters/sber/tests adapters/tbank/tests plugins/outbox/tests plugins/email/tests plugins/fcm/tests plugins/rustore/tests plugins/apns/tests plugins/webpush/tests plugins/smsc/tests plugins/atol/tests runner/tests \
	conformance/tests examples/jsonl-format/tests

.PHONY: demo test lint type pytest bench dist fuzz mutation i18n clean

$(STAMP): $(PYPROJECTS) requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt $(addprefix -e ,$(DISTS))
	touch $@

demo: $(STAMP)
	$(BIN)/pes demo

test: lint type pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

type: $(STAMP)
	$(BIN)/mypy --strict src adapters/csv/src adapters/onec-xml/src adapters/onec-bank/src \
		adapters/sandbox/src adapters/gis-zhkh/src adapters/soap-billing/src \
		adapters/yookassa/src adapters/sber/src adapters/tbank/src plugins/outbox/src plugins/email/src plugins/fcm/src plugins/rustore/src plugins/apns/src plugins/webpush/src plugins/smsc/src plugins/atol/src runner/src \
		conformance/src

# The suite runs on a UTC host, then the time-zone tests again on hosts east and west of
# Moscow: a time without a zone is in the service's zone, never the host's, so the host's
# TZ must change nothing.
HOST_ZONES := Asia/Yekaterinburg America/New_York

pytest: $(STAMP)
	TZ=UTC $(BIN)/pytest $(TEST_PATHS)
	for zone in $(HOST_ZONES); do TZ=$$zone $(BIN)/pytest -q -m timezone $(TEST_PATHS) || exit 1; done

bench: $(STAMP)
	$(BIN)/python benchmarks/csv_read.py
	$(BIN)/python adapters/onec-xml/benchmarks/xml_read.py

# Coverage-guided fuzzing of every reader and loader (fuzz/README.md), bounded per target.
FUZZ_SECONDS ?= 30

fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -r fuzz/requirements.txt
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS)

# Mutation testing of the conformance suite (conformance/README.md, "Mutation score"): how
# many broken adapters the suite catches. Long (tens of minutes), so not part of make test.
# MUTATION_TARGETS=example (or 1c-xml, yookassa; several with spaces) runs only those.
MUTATION_TARGETS ?=
MUTATION_LEVELS ?= default,latest

mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -r conformance/mutation/requirements.txt
	MUTATION_TARGETS="$(MUTATION_TARGETS)" $(BIN)/python conformance/mutation/run.py \
		--levels $(MUTATION_LEVELS)

# The Russian catalogs (pes_sdk.i18n): new messages from the sources into each .po, then
# .mo compiled. Translate what is new (msgstr ""), then `make i18n` again; the test suite
# fails while a message has no translation (tests/test_translations.py).
i18n: $(STAMP)
	$(BIN)/python tools/catalogs.py update
	$(BIN)/python tools/catalogs.py check

# Wheels and sdists of every distribution into dist/, for installing outside this checkout
# (`pip install --no-index --find-links dist pes-sdk pes-sdk-csv ...`). Built without
# build isolation, from the venv's setuptools: no package index is needed.
dist: $(STAMP)
	rm -rf dist
	for d in $(DISTS); do $(BIN)/python -m build --no-isolation --outdir dist $$d || exit 1; done

clean:
	rm -rf $(VENV) dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
