# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean translations threatexchange

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/disrupt demo

# axe-core for the accessibility tests, from the npm registry (never from a CDN at run time).
AXE := tests/js/node_modules/axe-core/axe.min.js
$(AXE): tests/js/package-lock.json
	if command -v npm >/dev/null; then cd tests/js && npm ci --no-audit --no-fund --silent && touch node_modules/axe-core/axe.min.js; \
	else echo "npm not found: the accessibility tests will be skipped"; fi

# Partners' client, in its own virtualenv so .venv's pinned hashing stack is untouched:
# threatexchange 1.2.17 and DISRUPT's extension, for tests/platforms/exchange/test_threatexchange_cli.py.
TX_VENV := .venv-threatexchange
TX_EXTENSION := contrib/threatexchange_disrupt
TX_STAMP := $(TX_VENV)/.installed
$(TX_STAMP): $(TX_EXTENSION)/pyproject.toml $(wildcard $(TX_EXTENSION)/threatexchange_disrupt/*.py)
	test -d $(TX_VENV) || $(PYTHON) -m venv $(TX_VENV)
	$(TX_VENV)/bin/pip install --quiet --upgrade pip
	$(TX_VENV)/bin/pip install --quiet 'threatexchange==1.2.17'
	$(TX_VENV)/bin/pip install --quiet --no-deps --force-reinstall ./$(TX_EXTENSION)
	touch $(TX_STAMP)

threatexchange: $(TX_STAMP)

test: $(STAMP) $(AXE) $(TX_STAMP)
	$(VENV)/bin/ruff check disrupt tests bench
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check disrupt tests bench

# After changing a portal string: extract, merge into the catalogues, compile (.po and .mo are
# both committed, so a fresh clone needs no build step).
translations: $(STAMP)
	$(VENV)/bin/pybabel extract -F translations/babel.cfg -k _l -k lazy_gettext -k N_ --no-location \
		--omit-header --sort-output -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations \
		--width 100 --ignore-obsolete
	$(VENV)/bin/pybabel compile -d translations --statistics

clean:
	rm -rf $(VENV) $(TX_VENV) instance-demo .pytest_cache .ruff_cache
