#!/usr/bin/env python3
"""Validate the english-git dev set (questions.jsonl against corpus/). Standard library only.

    python eval/dev/english-git/check.py            # exit 1 on any error
    python eval/dev/english-git/check.py --others   # also list non-gold files holding an answer

Checks: JSON lines with exactly the expected fields and types; unique ids; counts (questions,
answerable/unanswerable, question languages); one language tag, one kind tag and `factoid` or
`unanswerable` per question; English questions without Han characters and Chinese ones with them;
every gold file exists; every answer of an answerable question occurs in one of its gold files after
the project's answer normalisation (NFKC width folding, lower case, letters and digits only), and at
least one answer occurs there verbatim (case and whitespace aside); answers are 1-8 words and not too
short to mean anything; unanswerable questions have no answers or gold files, and no corpus file
matches the probes that would answer them; every corpus file is listed in SOURCES.md.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
QUESTIONS = HERE / "questions.jsonl"
SOURCES = HERE / "SOURCES.md"

FIELDS = {"id", "question", "answers", "gold_sources", "answerable", "tags"}
LANGS = {"english", "traditional", "simplified"}
KINDS = {"numeric", "person", "entity", "definition", "why", "howto"}
EXPECTED = {
    "questions": 50, "answerable": 40, "unanswerable": 10,
    "english": 42, "traditional": 5, "simplified": 3,
}
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Regexes that would answer an unanswerable question if the corpus matched them (case-insensitive).
PROBES = {
    "git switch version": [r"git switch[^.\n]*(introduc|version|added)", r"(introduc|version)[^.\n]*git switch"],
    "rename similarity": [r"similarity", r"\d+ ?%[^\n]*renam", r"renam[^\n]*\d+ ?%"],
    "first release year": [r"\b(2004|2005|2006)\b[^\n]*(releas|creat|born|first)", r"(releas|creat)[^\n]*\b2005\b"],
    "original author": [r"linus", r"torvalds", r"(created|wrote|written|invented) git\b", r"\bby linus"],
    "tab width default": [r"tabwidth[^.\n]*(default|\b8\b)", r"tab width"],
    "ssh port": [r"port 22\b", r"\b22\b[^\n]*ssh", r"ssh[^\n]*port \d"],
    "stash push version": [r"stash push[^.\n]*(version|introduced in|since|2\.\d+)", r"2\.13"],
    "server keeps deleted branch days": [r"\d+ days", r"(thirty|ninety|fourteen) days"],
    "reflog expiry": [r"\b90\b", r"ninety", r"reflogexpire", r"gc\.reflog"],
    "sha-256 name length": [r"sha-?256", r"64[- ]character", r"64 (hex|char)"],
}
UNANSWERABLE_PROBES = {  # question id -> probe key
    "gd005": "git switch version", "gd010": "rename similarity", "gd015": "first release year",
    "gd020": "original author", "gd025": "tab width default", "gd030": "ssh port",
    "gd035": "stash push version", "gd040": "server keeps deleted branch days",
    "gd045": "reflog expiry", "gd050": "sha-256 name length",
}


def norm(text: str) -> str:
    """The project's answer normalisation (rag.evaluate.metrics.normalize_answer) for English
    answers: width folded, lower case, letters and digits only."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def loose(text: str) -> str:
    """Case and whitespace normalised, for the verbatim check."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def main() -> int:
    ap = argparse.ArgumentParser(description="Validate the english-git dev set.")
    ap.add_argument("--others", action="store_true", help="list non-gold files holding an answer")
    args = ap.parse_args()

    errors: list[str] = []
    warnings: list[str] = []
    docs = {p.name: p.read_text(encoding="utf-8") for p in sorted(CORPUS.iterdir()) if p.is_file()}
    normed = {name: norm(text) for name, text in docs.items()}
    loosed = {name: loose(text) for name, text in docs.items()}

    records = []
    for n, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            errors.append(f"line {n}: empty line")
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: bad JSON ({exc})")
            continue
        if not isinstance(rec, dict) or set(rec) != FIELDS:
            errors.append(f"line {n}: fields {sorted(rec) if isinstance(rec, dict) else type(rec)} != {sorted(FIELDS)}")
            continue
        records.append(rec)

    ids = Counter(r["id"] for r in records)
    for qid, count in ids.items():
        if count > 1:
            errors.append(f"{qid}: id used {count} times")

    counts: Counter[str] = Counter()
    for r in records:
        qid = r["id"]
        if not (isinstance(qid, str) and re.fullmatch(r"gd\d{3}", qid)):
            errors.append(f"{qid}: id should look like gd001")
        if not (isinstance(r["question"], str) and r["question"].strip()):
            errors.append(f"{qid}: empty question")
            continue
        if not (isinstance(r["answers"], list) and all(isinstance(a, str) and a.strip() for a in r["answers"])):
            errors.append(f"{qid}: answers must be a list of non-empty strings")
            continue
        if not (isinstance(r["gold_sources"], list) and all(isinstance(g, str) for g in r["gold_sources"])):
            errors.append(f"{qid}: gold_sources must be a list of strings")
            continue
        if not isinstance(r["answerable"], bool):
            errors.append(f"{qid}: answerable must be true or false")
            continue
        tags = r["tags"]
        if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            errors.append(f"{qid}: tags must be a list of strings")
            continue
        langs = [t for t in tags if t in LANGS]
        kinds = [t for t in tags if t in KINDS]
        unknown = [t for t in tags if t not in LANGS | KINDS | {"factoid", "unanswerable"}]
        if len(langs) != 1:
            errors.append(f"{qid}: needs exactly one language tag, has {langs}")
        if len(kinds) != 1:
            errors.append(f"{qid}: needs exactly one kind tag, has {kinds}")
        if unknown:
            errors.append(f"{qid}: unknown tags {unknown}")
        lang = langs[0] if langs else "?"
        has_han = bool(HAN.search(r["question"]))
        if (lang == "english") == has_han:
            errors.append(f"{qid}: tagged {lang} but the question {'has' if has_han else 'has no'} Han characters")
        counts["questions"] += 1
        counts[lang] += 1

        if r["answerable"]:
            counts["answerable"] += 1
            if "factoid" not in tags or "unanswerable" in tags:
                errors.append(f"{qid}: answerable questions are tagged factoid, not unanswerable")
            if not r["answers"] or not r["gold_sources"]:
                errors.append(f"{qid}: answerable but no answers or no gold sources")
                continue
            missing = [g for g in r["gold_sources"] if g not in docs]
            if missing:
                errors.append(f"{qid}: gold files not in corpus/: {missing}")
                continue
            verbatim = False
            for a in r["answers"]:
                na = norm(a)
                words = len(a.split())
                if not 1 <= words <= 8:
                    errors.append(f"{qid}: answer {a!r} has {words} words (1-8 allowed)")
                if len(na) < 3 or (na.isdigit() and len(na) < 3):
                    errors.append(f"{qid}: answer {a!r} is too short to mean anything after normalisation")
                if not any(na in normed[g] for g in r["gold_sources"]):
                    errors.append(f"{qid}: answer {a!r} not found in gold {r['gold_sources']}")
                if any(loose(a) in loosed[g] for g in r["gold_sources"]):
                    verbatim = True
                if args.others:
                    others = [d for d in docs if d not in r["gold_sources"] and na in normed[d]]
                    if others:
                        print(f"  info {qid}: {a!r} also in {others}")
            if not verbatim:
                errors.append(f"{qid}: no answer occurs verbatim (case/whitespace aside) in a gold file")
        else:
            counts["unanswerable"] += 1
            if "unanswerable" not in tags or "factoid" in tags:
                errors.append(f"{qid}: unanswerable questions are tagged unanswerable, not factoid")
            if r["answers"] or r["gold_sources"]:
                errors.append(f"{qid}: unanswerable but has answers or gold sources")
            key = UNANSWERABLE_PROBES.get(qid)
            if key is None:
                warnings.append(f"{qid}: unanswerable question without corpus probes")
            else:
                for pattern in PROBES[key]:
                    hits = [d for d, text in docs.items() if re.search(pattern, text, re.I)]
                    if hits:
                        errors.append(f"{qid}: probe /{pattern}/ ({key}) matches {hits}")
    for qid in UNANSWERABLE_PROBES:
        if qid not in ids:
            errors.append(f"{qid}: probed as unanswerable but not in the set")
        elif next(r for r in records if r["id"] == qid)["answerable"]:
            errors.append(f"{qid}: probed as unanswerable but marked answerable")

    for key, want in EXPECTED.items():
        if counts[key] != want:
            errors.append(f"count {key}: {counts[key]}, expected {want}")

    listed = set(re.findall(r"`([^`/]+\.(?:md|txt))`", SOURCES.read_text(encoding="utf-8"))) if SOURCES.exists() else set()
    if not SOURCES.exists():
        errors.append("SOURCES.md missing")
    for name in docs:
        if name not in listed:
            errors.append(f"corpus/{name} is not listed in SOURCES.md")

    size = sum(len(t) for t in docs.values())
    print(f"corpus: {len(docs)} files, {size} characters")
    print("questions: {questions} ({answerable} answerable, {unanswerable} unanswerable); "
          "english {english}, traditional {traditional}, simplified {simplified}".format(**{k: counts[k] for k in EXPECTED}))
    for w in warnings:
        print(f"WARNING {w}")
    for e in errors:
        print(f"ERROR {e}")
    print("OK" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
