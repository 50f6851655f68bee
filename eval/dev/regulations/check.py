#!/usr/bin/env python3
"""Validate the `regulations` dev eval set (questions.jsonl + corpus/).

    python eval/dev/regulations/check.py            # exit 1 on any error
    python eval/dev/regulations/check.py --others   # also list non-gold files holding an answer string
    python eval/dev/regulations/check.py -v         # also list every answer and how it was matched

Standard library only, plus python-docx to read the .docx (falls back to the DOCX XML through zipfile)
and, when installed, opencc to match Simplified answers against the Traditional corpus.

Checks: JSON per line, required fields and types, unique ids, exactly one language tag and one kind
tag per question, factoid/unanswerable tag agreeing with `answerable`, the expected counts (50
questions, 40 answerable, 10 unanswerable; 34 Traditional, 8 Simplified, 8 English), that every gold
source exists in corpus/, that unanswerable questions have no answers or gold sources, and that every
answer of an answerable question is accounted for:
  - "verbatim": it occurs in one of its gold files (NFKC, whitespace removed; a Simplified answer is
    also tried after OpenCC s2t/s2twp). Verbatim answers must be 2-15 characters long, and at least
    the first answer of each question must be verbatim.
  - "variant": a rewritten number form (Arabic digits, 天 for 日, 兩 for 二, English words with digits)
    whose numbers, with Chinese numerals converted, are exactly those of a verbatim answer of the
    same question (e.g. "30日" for 「三十日」, "4萬元以上20萬元以下" for 「四萬元以上二十萬元以下」).
  - "rendering": a Latin-script English rendering without digits ("within three days"), allowed only
    for questions tagged english.
Anything else is an error.
"""
import argparse
import json
import re
import sys
import unicodedata
import zipfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
QUESTIONS = HERE / "questions.jsonl"

LANGS = {"traditional", "simplified", "english"}
KINDS = {"numeric", "entity", "definition", "duration", "money"}
EXTRA = {"factoid", "unanswerable", "multi-doc"}
EXPECT = {"total": 50, "answerable": 40, "unanswerable": 10,
          "traditional": 34, "simplified": 8, "english": 8}
FIELDS = {"id": str, "question": str, "answers": list, "gold_sources": list, "answerable": bool, "tags": list}

DIG = {"零": 0, "〇": 0, "一": 1, "二": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
SMALL = {"十": 10, "百": 100, "千": 1000}
BIG = {"萬": 10_000, "億": 100_000_000}
NUM_RUN = re.compile("[0-9" + "".join(DIG) + "".join(SMALL) + "".join(BIG) + "]+")


def norm(s: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


def read_doc(path: Path) -> str:
    if path.suffix == ".docx":
        try:
            import docx  # python-docx
            return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
        except ImportError:
            with zipfile.ZipFile(path) as z:
                xml = z.read("word/document.xml").decode("utf-8")
            xml = re.sub(r"</w:p>", "\n", xml)
            return re.sub(r"<[^>]+>", "", xml)
    return path.read_text(encoding="utf-8")


def cn2int(run: str) -> int:
    total = section = num = 0
    i = 0
    while i < len(run):
        c = run[i]
        if c.isdigit():
            j = i
            while j < len(run) and run[j].isdigit():
                j += 1
            num = int(run[i:j])
            i = j
            continue
        if c in DIG:
            num = DIG[c]
        elif c in SMALL:
            section += (num or 1) * SMALL[c]
            num = 0
        elif c in BIG:
            section += num
            total += section * BIG[c]
            section = num = 0
        i += 1
    return total + section + num


def numbers(s: str) -> list:
    s = unicodedata.normalize("NFKC", s)
    s = re.sub(r"(?<=\d),(?=\d{3})", "", s)  # 40,000 -> 40000
    s = s.replace("百分之", "")              # 百分之五十 -> 五十 (compares with 50%)
    return [cn2int(m.group()) for m in NUM_RUN.finditer(s)]


def make_converters():
    try:
        import opencc
    except ImportError:
        return []
    out = []
    for cfg in ("s2t", "s2twp"):
        try:
            out.append(opencc.OpenCC(cfg).convert)
        except Exception:
            try:
                out.append(opencc.OpenCC(cfg + ".json").convert)
            except Exception:
                pass
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--others", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    errors, warnings = [], []
    docs = {p.name: norm(read_doc(p)) for p in sorted(CORPUS.iterdir()) if p.suffix in (".txt", ".docx")}
    convs = make_converters()
    if not convs:
        warnings.append("opencc not installed: Simplified answers are only matched as written")

    rows = []
    for n, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            errors.append(f"line {n}: empty line")
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: bad JSON ({e})")
            continue
        if not isinstance(q, dict):
            errors.append(f"line {n}: not an object")
            continue
        bad = [k for k, t in FIELDS.items() if not isinstance(q.get(k), t)]
        if bad:
            errors.append(f"line {n}: missing or mistyped fields {bad}")
            continue
        extra = set(q) - set(FIELDS) - {"translations", "split"}
        if extra:
            errors.append(f"{q['id']}: unexpected fields {sorted(extra)}")
        rows.append(q)

    ids = Counter(q["id"] for q in rows)
    for i, c in ids.items():
        if c > 1:
            errors.append(f"{i}: id used {c} times")
        if not re.fullmatch(r"rg\d{3}", i):
            errors.append(f"{i}: id should look like rg001")

    counts = Counter()
    kinds = Counter()
    matched = Counter()
    for q in rows:
        qid, tags = q["id"], q["tags"]
        langs = [t for t in tags if t in LANGS]
        ks = [t for t in tags if t in KINDS]
        unknown = [t for t in tags if t not in LANGS | KINDS | EXTRA]
        if len(langs) != 1:
            errors.append(f"{qid}: needs exactly one language tag, has {langs}")
        if len(ks) != 1:
            errors.append(f"{qid}: needs exactly one kind tag {sorted(KINDS)}, has {ks}")
        if unknown:
            errors.append(f"{qid}: unknown tags {unknown}")
        if not q["question"].strip():
            errors.append(f"{qid}: empty question")
        lang = langs[0] if langs else None
        counts["total"] += 1
        counts[lang] += 1
        kinds.update(ks)
        if q["answerable"]:
            counts["answerable"] += 1
            if "factoid" not in tags or "unanswerable" in tags:
                errors.append(f"{qid}: answerable question should be tagged factoid, not unanswerable")
        else:
            counts["unanswerable"] += 1
            if "unanswerable" not in tags or "factoid" in tags:
                errors.append(f"{qid}: unanswerable question should be tagged unanswerable, not factoid")
            if q["answers"] or q["gold_sources"] or q.get("translations"):
                errors.append(f"{qid}: unanswerable question must have no answers or gold sources")
            continue

        golds = q["gold_sources"]
        if not golds:
            errors.append(f"{qid}: no gold sources")
        for g in golds:
            if g not in docs:
                errors.append(f"{qid}: gold source {g!r} not in corpus/")
        if len(set(golds)) != len(golds):
            errors.append(f"{qid}: duplicate gold sources")
        answers = q["answers"]
        if not answers or not all(isinstance(a, str) and a.strip() for a in answers):
            errors.append(f"{qid}: answers must be a non-empty list of non-empty strings")
            continue
        if len(set(answers)) != len(answers):
            errors.append(f"{qid}: duplicate answers")
        gold_text = [docs[g] for g in golds if g in docs]

        def verbatim(a):
            forms = [norm(a)] + [norm(c(a)) for c in convs]
            return any(f in t for f in forms for t in gold_text)

        status = {a: "verbatim" for a in answers if verbatim(a)}
        verb_nums = [numbers(a) for a in status]
        for a in answers:
            if a in status:
                if not 2 <= len(norm(a)) <= 15:
                    errors.append(f"{qid}: verbatim answer {a!r} should be 2-15 characters")
                continue
            nums = numbers(a)
            if nums and nums in verb_nums:
                status[a] = "variant"
            elif re.fullmatch(r"[A-Za-z][A-Za-z .,'()-]*", a) and lang == "english":
                status[a] = "rendering"
            else:
                errors.append(f"{qid}: answer {a!r} neither occurs in {golds} nor is a number/English "
                              f"variant of an answer that does")
        if answers[0] not in status or status[answers[0]] != "verbatim":
            errors.append(f"{qid}: the first answer must occur verbatim in a gold file")
        # every gold file should hold at least one verbatim answer
        for g in golds:
            if g in docs and not any(norm(a) in docs[g] for a in status if status[a] == "verbatim"):
                errors.append(f"{qid}: gold source {g} holds none of the answers")
        matched.update(status.values())
        if args.verbose:
            print(f"{qid}: " + "; ".join(f"{a} [{status.get(a, 'UNMATCHED')}]" for a in answers))
        if args.others:
            for name, text in docs.items():
                if name in golds:
                    continue
                hits = [a for a in answers if status.get(a) == "verbatim" and norm(a) in text]
                if hits:
                    print(f"  note {qid}: non-gold {name} also holds {hits}")

    for k, v in EXPECT.items():
        if counts[k] != v:
            errors.append(f"count {k}: expected {v}, found {counts[k]}")

    size = sum(len(norm(t)) for t in docs.values())
    fmt = Counter(Path(n).suffix for n in docs)
    print(f"corpus: {len(docs)} documents ({', '.join(f'{c} {s}' for s, c in sorted(fmt.items()))}), "
          f"{size} characters (whitespace removed)")
    print(f"questions: {counts['total']} | answerable {counts['answerable']} | unanswerable "
          f"{counts['unanswerable']} | traditional {counts['traditional']} | simplified "
          f"{counts['simplified']} | english {counts['english']}")
    print("kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print("answer strings: " + ", ".join(f"{k} {v}" for k, v in sorted(matched.items())))
    for w in warnings:
        print("warning:", w)
    for e in errors:
        print("ERROR:", e)
    print("OK" if not errors else f"FAILED: {len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
