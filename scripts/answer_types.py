"""How often the answer-type check (rag.cite.answer_type_missing) would refuse an answer a
person wrote: for every question of a SQuAD/DRCD-style file that asks for a number or a year,
check the first human answer and list the ones the check would refuse.

Usage: python scripts/answer_types.py ../shared/datasets/drcd/DRCD_dev.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rag.cite import answer_type_missing, asks_answer_type


def main(path: Path) -> int:
    data = json.loads(path.read_text(encoding="utf-8"))
    asked = refused = 0
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if not qa.get("answers") or not asks_answer_type(qa["question"]):
                    continue
                asked += 1
                answer = qa["answers"][0]["text"]
                if answer_type_missing(qa["question"], answer):
                    refused += 1
                    print(f"would refuse: {qa['question']} -> {answer}")
    print(
        f"{asked} questions ask for a number or a year; the check refuses {refused} human answers"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
