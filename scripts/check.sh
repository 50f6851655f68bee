#!/usr/bin/env bash
# Installs what the tests need (into .venv, CPU torch first) and runs lint, types and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install --quiet --upgrade pip
pip install --quiet torch==2.13.0
pip install --quiet -e '.[test,bench]'
# OCR of scanned PDF pages uses the Tesseract binary when present; install it where we may
# (root with apt-get), so that tests/test_ocr.py runs. Without it those tests are skipped.
if ! command -v tesseract >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends tesseract-ocr tesseract-ocr-chi-tra tesseract-ocr-eng; } \
        >/dev/null || echo "Could not install Tesseract; the OCR tests will be skipped."
fi
# The web page test drives Debian's Chromium with Playwright (no browser download); without
# it that test is skipped.
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends chromium; } \
        >/dev/null || echo "Could not install Chromium; the web page test will be skipped."
fi
ruff check rag tests scripts
ruff format --check rag tests scripts
mypy
python -m pytest "$@"
