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
echo "== pytest"; uv run --locked pytest -p no:cacheprovider "$@"
