#!/usr/bin/env bash
# Runs the whole test suite from a fresh Debian machine: installs what it needs, then
# lint (ruff), format check, types (mypy), layer contracts (import-linter), pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh test  # named: a sourced script sees our arguments otherwise
echo "== ruff"; uv run --locked ruff check .
echo "== ruff format"; uv run --locked ruff format --check .
echo "== mypy"; uv run --locked mypy
echo "== import-linter"; uv run --locked lint-imports
# pytest-xdist: the suite mostly waits on the processes it starts (hubs, bridges, Chromium,
# cupsd, tmux), so three workers on two cores overlap the waits; PVP_TEST_WORKERS=0 runs
# it in one process.
echo "== pytest"; uv run --locked pytest -p no:cacheprovider -n "${PVP_TEST_WORKERS:-3}" "$@"
