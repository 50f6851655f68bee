"""How often the answer checks of rag.check.rules would refuse an answer a person wrote, on a
SQuAD/DRCD-style file:

- the number and year checks (number_missing, year_missing): for every question that asks for
  a number or a year, does the first human answer state one?
- the office check (asked_office): for every question that asks who holds an office
  (「…的董事長是誰」), does the chunk holding the human answer (chunked as `rag index` does,
  default settings) name that office?

Lists the answers each check would refuse.

Usage: python scripts/answer_types.py ../shared/datasets/drcd/DRCD_dev.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rag.check.rules import (
    asked_office,
    asks_number,
    asks_year,
    names_office,
    number_missing,
    year_missing,
)
from rag.ingest.chunking import chunk_document
from rag.ingest.documents import Document
from rag.settings import Settings


def main(path: Path) -> int:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        sys.exit(f"Cannot read {path} as a SQuAD/DRCD JSON file: {exc}")
    settings = Settings()
    asked = refused = offices = office_refused = 0
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            chunks = None
            for qa in paragraph["qas"]:
                if not qa.get("answers"):
                    continue
                human = qa["answers"][0]
                answer = human["text"]
                if asks_number(qa["question"]) or asks_year(qa["question"]):
                    asked += 1
                    if number_missing(qa["question"], answer) or year_missing(
                        qa["question"], answer
                    ):
                        refused += 1
                        print(f"type check would refuse: {qa['question']} -> {answer}")
                office = asked_office(qa["question"])
                if not office:
                    continue
                offices += 1
                if chunks is None:
                    doc = Document(id="p", text=context, sha256="", encoding="utf-8")
                    chunks = chunk_document(doc, settings.chunk_chars, settings.chunk_overlap)
                at = human["answer_start"]
                holding = [c for c in chunks if c.start <= at < c.end]
                if not names_office(office, [c.text for c in holding]):
                    office_refused += 1
                    print(f"office check would refuse: {qa['question']} -> {answer}")
    print(
        f"{asked} questions ask for a number or a year; the check refuses {refused} human answers"
    )
    print(
        f"{offices} questions ask who holds an office; the check refuses {office_refused} "
        "human answers"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
