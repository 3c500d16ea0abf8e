#!/usr/bin/env bash
# Extracts the UI's messages (the app's, the hub's and its pages': babel.cfg) and merges them into the French catalog (pvp_tui/locale).
# New entries arrive untranslated: fill their msgstr in pvp.po (tests/test_i18n.py checks).
set -euo pipefail
cd "$(dirname "$0")/.."
pot=$(mktemp --suffix=.pot)
uv run pybabel -q extract --no-location --sort-output -F babel.cfg -k _ -k N_ -o "$pot" . >/dev/null
uv run pybabel update --no-fuzzy-matching --ignore-obsolete --width 100 -l fr -D pvp -i "$pot" -d pvp_tui/locale
rm -f "$pot"
