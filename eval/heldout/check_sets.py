#!/usr/bin/env python3
"""Check the frozen held-out eval sets under eval/heldout/ (standard library only).

For every folder eval/heldout/<set>/ that holds a questions.jsonl and a corpus/ folder:

* every line is a JSON object with the project's eval fields and types
  (id, question, answers, gold_sources, answerable; optional tags, translations);
* ids are unique (within the set and across all sets);
* every question carries exactly one language tag (traditional / simplified / english);
* every gold source is a file of the set's corpus;
* an answerable question has answers and gold sources, and at least one of its answers
  occurs in one of its gold documents once all whitespace is removed from both;
* an unanswerable question has no answers, no gold sources and the tag "unanswerable".

Document text: .txt/.md read as UTF-8; .docx read from word/document.xml with zipfile;
.pdf through poppler's `pdftotext` (Debian package poppler-utils) when it is installed.

Prints one summary line per set and exits 1 if anything is wrong.
Usage: python eval/heldout/check_sets.py [--others] [SET ...]
  --others  also list non-gold documents that contain an answer string (a hint, not an error)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

HERE = Path(__file__).resolve().parent
LANGS = ("traditional", "simplified", "english")
KINDS = {"numeric", "person", "definition", "factoid", "procedure", "multi-doc", "unanswerable"}
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def docx_text(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        root = ElementTree.fromstring(z.read("word/document.xml"))
    paragraphs = []
    for p in root.iter(W + "p"):
        paragraphs.append("".join(t.text or "" for t in p.iter(W + "t")))
    return "\n".join(paragraphs)


def pdf_text(path: Path) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        raise RuntimeError(
            f"{path.name}: cannot read a PDF without pdftotext (apt-get install poppler-utils)"
        )
    return subprocess.run(
        [exe, "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
    ).stdout.decode("utf-8")


def document_text(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return docx_text(path)
    if suffix == ".pdf":
        return pdf_text(path)
    return path.read_text(encoding="utf-8")


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_set(
    folder: Path, seen_ids: dict[str, str], show_others: bool = False
) -> tuple[list[str], dict[str, int], str]:
    errors: list[str] = []
    corpus = folder / "corpus"
    qfile = folder / "questions.jsonl"
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    names = {p.relative_to(corpus).as_posix(): p for p in files}
    texts: dict[str, str] = {}
    for name, p in names.items():
        try:
            texts[name] = squeeze(document_text(p))
        except Exception as exc:
            errors.append(f"{folder.name}: cannot read {name}: {exc}")
    stats: dict[str, int] = {
        "documents": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "chars": sum(len(t) for t in texts.values()),
        "questions": 0,
        "answerable": 0,
        "unanswerable": 0,
        **{lang: 0 for lang in LANGS},
    }
    formats = ",".join(sorted({p.suffix.lower() for p in files}))
    for number, line in enumerate(qfile.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{folder.name}/questions.jsonl line {number}"
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: invalid JSON ({exc.msg})")
            continue
        kinds = {
            "id": str,
            "question": str,
            "answers": list,
            "gold_sources": list,
            "answerable": bool,
        }
        bad = [k for k, t in kinds.items() if not isinstance(q.get(k), t)]
        if bad:
            errors.append(f"{where}: missing or mistyped field(s) {', '.join(bad)}")
            continue
        qid = q["id"]
        where = f"{where} ({qid})"
        if qid in seen_ids:
            errors.append(f"{where}: duplicate id (also in {seen_ids[qid]})")
        seen_ids[qid] = folder.name
        extra = set(q) - {
            "id",
            "question",
            "answers",
            "gold_sources",
            "answerable",
            "tags",
            "translations",
        }
        if extra:
            errors.append(f"{where}: unknown field(s) {sorted(extra)}")
        tags = q.get("tags", [])
        translations = q.get("translations", [])
        for field, value in (
            ("answers", q["answers"]),
            ("gold_sources", q["gold_sources"]),
            ("tags", tags),
            ("translations", translations),
        ):
            if not isinstance(value, list) or not all(
                isinstance(v, str) and v.strip() for v in value
            ):
                errors.append(f"{where}: '{field}' must be a list of non-empty strings")
        if not q["question"].strip():
            errors.append(f"{where}: empty question")
        langs = [t for t in tags if t in LANGS]
        if len(langs) != 1:
            errors.append(f"{where}: needs exactly one language tag of {LANGS}, has {langs}")
        unknown = [t for t in tags if t not in LANGS and t not in KINDS]
        if unknown:
            errors.append(f"{where}: unknown tag(s) {unknown}")
        stats["questions"] += 1
        for lang in langs:
            stats[lang] += 1
        for g in q["gold_sources"]:
            if g not in names:
                errors.append(f"{where}: gold source {g!r} is not a file of {folder.name}/corpus")
        if q["answerable"]:
            stats["answerable"] += 1
            if not q["answers"] or not q["gold_sources"]:
                errors.append(f"{where}: answerable question without answers or gold sources")
            if "unanswerable" in tags:
                errors.append(f"{where}: answerable question tagged 'unanswerable'")
            for a in q["answers"]:
                if sum(ch.isalnum() for ch in a) < 2:
                    errors.append(
                        f"{where}: answer {a!r} has fewer than 2 letters or digits, "
                        "so it would match almost any answer"
                    )
            golds = [texts[g] for g in q["gold_sources"] if g in texts]
            if show_others:
                others = sorted(
                    n
                    for n, t in texts.items()
                    if n not in q["gold_sources"] and any(squeeze(a) in t for a in q["answers"])
                )
                if others:
                    more = " ..." if len(others) > 5 else ""
                    print(f"  note {where}: answer also occurs in non-gold {others[:5]}{more}")
            if golds and not any(squeeze(a) in t for a in q["answers"] for t in golds):
                errors.append(
                    f"{where}: none of the answers {q['answers']} occurs in its gold document(s)"
                )
        else:
            stats["unanswerable"] += 1
            if q["answers"] or q["gold_sources"] or translations:
                errors.append(
                    f"{where}: unanswerable question must have no answers, "
                    "translations or gold sources"
                )
            if "unanswerable" not in tags:
                errors.append(f"{where}: unanswerable question without the 'unanswerable' tag")
    return errors, stats, formats


def main(argv: list[str]) -> int:
    show_others = "--others" in argv
    wanted = {a for a in argv if not a.startswith("--")}
    sets = sorted(
        p for p in HERE.iterdir() if (p / "questions.jsonl").is_file() and (p / "corpus").is_dir()
    )
    if wanted:
        sets = [p for p in sets if p.name in wanted]
    if not sets:
        print("no held-out sets found", file=sys.stderr)
        return 1
    seen: dict[str, str] = {}
    all_errors: list[str] = []
    row = "{:<10} {:>4} {:>6} {:<18} {:>3} {:>4} {:>5} {:>7} {:>5} {:>4}"
    print(
        row.format("set", "docs", "KB", "formats", "qs", "ans", "unans", "english", "simpl", "trad")
    )
    for folder in sets:
        errors, s, formats = check_set(folder, seen, show_others)
        all_errors += errors
        print(
            row.format(
                folder.name,
                s["documents"],
                s["bytes"] // 1024,
                formats,
                s["questions"],
                s["answerable"],
                s["unanswerable"],
                s["english"],
                s["simplified"],
                s["traditional"],
            )
        )
    for e in all_errors:
        print("ERROR", e)
    print("OK" if not all_errors else f"{len(all_errors)} error(s)")
    return 0 if not all_errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
