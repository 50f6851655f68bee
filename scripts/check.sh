#!/usr/bin/env bash
# Installs what the tests need (into .venv, CPU torch first) and runs lint, types and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install --quiet --upgrade pip
pip install --quiet torch==2.13.0
pip install --quiet -e '.[test]'
ruff check rag tests scripts
ruff format --check rag tests scripts
mypy
python -m pytest "$@"
