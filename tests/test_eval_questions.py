"""Sanity checks for the evaluation question set (eval/questions.jsonl).

Plain data checks: no network, no model. Answers must be findable verbatim in their
gold documents after removing whitespace, NFKC-normalising and folding both sides to
Simplified script with OpenCC.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

import opencc
import pytest

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "questions.jsonl"
CORPUS = ROOT / "corpus"

REQUIRED = {
    "id": str,
    "question": str,
    "answers": list,
    "gold_sources": list,
    "answerable": bool,
    "tags": list,
}
LANG_TAGS = {"traditional", "simplified", "english"}

_T2S = opencc.OpenCC("t2s")
_WS = re.compile(r"\s+")


def fold(text: str) -> str:
    """Whitespace-free, NFKC-normalised, Simplified-script form used for matching."""
    text = unicodedata.normalize("NFKC", text)
    text = _WS.sub("", text)
    return _T2S.convert(text)


@cache
def folded_doc(name: str) -> str:
    return fold((CORPUS / name).read_text(encoding="utf-8"))


def load() -> list[dict]:
    rows = []
    with QUESTIONS.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            assert line.strip(), f"blank line {lineno}"
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - failure path
                pytest.fail(f"line {lineno} is not JSON: {exc}")
    return rows


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return load()


def test_fold_handles_script_width_and_space():
    assert fold("臺灣 ＡＩ　２０２５") == fold("台湾AI2025")
    assert fold("吳漢章") == "吴汉章"


def test_keys_and_types(rows):
    for r in rows:
        assert set(REQUIRED) | {"split"} <= set(r) <= set(REQUIRED) | {"translations", "split"}
        assert r["split"] in ("dev", "test"), r["id"]
        if "translations" in r:
            # Renderings for answers in English; the documents hold the `answers` forms.
            assert "english" in r["tags"] and r["answerable"], r["id"]
            assert all(isinstance(t, str) and t.isascii() for t in r["translations"]), r["id"]
        for key, typ in REQUIRED.items():
            assert isinstance(r[key], typ), (r["id"], key)
        assert r["question"].strip(), r["id"]
        assert all(isinstance(a, str) and a.strip() for a in r["answers"]), r["id"]
        assert all(isinstance(g, str) for g in r["gold_sources"]), r["id"]
        assert all(isinstance(t, str) for t in r["tags"]), r["id"]
        assert re.fullmatch(r"q\d{3}", r["id"]), r["id"]
        assert len(LANG_TAGS & set(r["tags"])) == 1, (r["id"], "exactly one language tag")


def test_dev_and_test_halves_cover_every_kind(rows):
    """The rules are tuned on the dev half; the test half is only measured."""
    for answerable in (True, False):
        for lang in LANG_TAGS:
            kind = [r for r in rows if r["answerable"] is answerable and lang in r["tags"]]
            halves = Counter(r["split"] for r in kind)
            assert halves["dev"] and halves["test"], (answerable, lang, halves)
            assert abs(halves["dev"] - halves["test"]) <= 1, (answerable, lang, halves)


def test_ids_unique(rows):
    dup = [k for k, n in Counter(r["id"] for r in rows).items() if n > 1]
    assert not dup, dup


def test_questions_unique(rows):
    dup = [k for k, n in Counter(r["question"] for r in rows).items() if n > 1]
    assert not dup, dup


def test_gold_sources_exist(rows):
    for r in rows:
        for g in r["gold_sources"]:
            assert (CORPUS / g).is_file(), (r["id"], g)
        assert len(set(r["gold_sources"])) == len(r["gold_sources"]), r["id"]


def test_answerable_consistency(rows):
    for r in rows:
        if r["answerable"]:
            assert r["answers"], r["id"]
            assert r["gold_sources"], r["id"]
            assert "unanswerable" not in r["tags"], r["id"]
        else:
            assert r["answers"] == [], r["id"]
            assert r["gold_sources"] == [], r["id"]
            assert "unanswerable" in r["tags"], r["id"]
        if "multi-doc" in r["tags"]:
            assert len(r["gold_sources"]) >= 2, r["id"]


def test_answers_occur_in_gold_documents(rows):
    missing = []
    for r in rows:
        for a in r["answers"]:
            if not any(fold(a) in folded_doc(g) for g in r["gold_sources"]):
                missing.append((r["id"], a))
    assert not missing, missing


def test_language_tags_match_script(rows):
    for r in rows:
        q = r["question"]
        if "simplified" in r["tags"]:
            assert _T2S.convert(q) == q, (r["id"], "not Simplified")
        elif "traditional" in r["tags"]:
            assert _T2S.convert(q) != q, (r["id"], "not Traditional")
        else:
            assert q.isascii(), (r["id"], "English question has non-ASCII text")


def test_counts(rows):
    tags = Counter(t for r in rows for t in r["tags"])
    assert len(rows) >= 85
    assert sum(not r["answerable"] for r in rows) >= 10
    assert tags["simplified"] >= 10
    assert tags["english"] >= 5
    assert tags["multi-doc"] >= 5
    assert tags["numeric"] >= 10


def test_every_document_covered(rows):
    docs = sorted(p.name for p in CORPUS.glob("*.txt"))
    assert docs
    per_doc = Counter(g for r in rows for g in r["gold_sources"])
    thin = {d: per_doc[d] for d in docs if per_doc[d] < 10}
    assert not thin, thin
