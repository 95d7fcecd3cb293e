# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean translations

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

test: $(STAMP) $(AXE)
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
	rm -rf $(VENV) instance-demo .pytest_cache .ruff_cache
