"""scripts/answer_types.py: the DRCD measurement behind the answer checks of rag.check.rules."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "answer_types.py"


def _squad(paragraphs: list[tuple[str, list[tuple[str, str]]]]) -> dict[str, object]:
    out = []
    for context, qas in paragraphs:
        items = [
            {"id": str(i), "question": q, "answers": [{"text": a, "answer_start": context.find(a)}]}
            for i, (q, a) in enumerate(qas)
        ]
        out.append({"context": context, "qas": items})
    return {"data": [{"title": "t", "paragraphs": out}]}


def test_counts_human_answers_each_check_would_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("answer_types", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = _squad(
        [
            (
                "台智雲總經理吳漢章指出，公司有1000名員工。",
                [
                    ("台智雲的總經理是誰？", "吳漢章"),
                    ("台智雲有多少名員工？", "1000名"),
                ],
            ),
            # The office is not named next to the answer: the office check would refuse it.
            ("吳漢章創立了台智雲。", [("台智雲的董事長是誰？", "吳漢章")]),
            ("索馬利亞的港口由歐盟出資。", [("港口花了歐盟多少經費？", "歐盟")]),
        ]
    )
    path = tmp_path / "drcd.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert module.main(path) == 0
    out = capsys.readouterr().out
    assert "2 questions ask for a number or a year; the check refuses 1 human answers" in out
    assert "2 questions ask who holds an office; the check refuses 1 human answers" in out
    assert "office check would refuse: 台智雲的董事長是誰？ -> 吳漢章" in out
