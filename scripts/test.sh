#!/usr/bin/env bash
# `make test`: set everything up, check the code style, run the whole test suite.
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
printf '\n== Lint\n'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
printf '\n== Tests\n'
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
