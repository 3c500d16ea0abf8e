#!/usr/bin/env bash
# Sets up PVP Relais and runs `pvp` on its embedded default: the demo site, a local
# SQLite database in the user data dir. Extra arguments go to pvp (e.g. --lang en).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh app
exec uv run --locked --no-dev --quiet pvp "$@"
