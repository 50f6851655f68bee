from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.evaluate.metrics import answer_metrics, char_f1, exact_match, is_correct, retrieval_metrics
from rag.evaluate.runner import AnswerFirst, EvalQuestion, export_squad, load_eval_file
from rag.ingest.chunking import Chunk
from rag.retrieve.retriever import Hit, Search


def _record(**kw: object) -> dict:
    base = {
        "answerable": True,
        "gold_sources": ["a.txt"],
        "refused": False,
        "correct": False,
        "cited_sources": [],
        "answer": "",
        "answers": ["吳漢章"],
        "ttft_s": 1.0,
        "total_s": 2.0,
    }
    return {**base, **kw}


def test_retrieval_metrics_rank_of_first_gold() -> None:
    records = [
        {"gold_sources": ["a"], "retrieved": ["a", "b"]},
        {"gold_sources": ["a"], "retrieved": ["b", "c", "a"]},
        {"gold_sources": ["a", "c"], "retrieved": ["b", "c"]},
        {"gold_sources": ["a"], "retrieved": []},
        {"gold_sources": [], "retrieved": ["a"]},  # unanswerable: not scored
    ]
    m = retrieval_metrics(records, 2)
    assert m["n"] == 4
    assert m["hit@1"] == 0.25 and m["hit@2"] == 0.5
    assert m["mrr"] == pytest.approx((1 + 0 + 0.5 + 0) / 4)  # MRR counts ranks within k


def test_answer_matching_ignores_script_width_and_punctuation() -> None:
    assert is_correct("台湾共有１０台超级电脑。", ["10台"])
    assert is_correct("答案是 Peter Wu", ["peter wu"])
    assert not is_correct("", ["10台"])
    assert is_correct("建造配備至少1萬顆GPU的超級電腦。", ["一萬顆"])
    assert is_correct("從七個維度評估", ["7個維度"]) and is_correct("二十五年", ["25年"])
    assert not is_correct("建造配備至少2萬顆GPU的超級電腦。", ["一萬顆"])
    assert not is_correct("資料中沒有相關資訊", [""])


def test_answer_metrics_when_everything_is_refused() -> None:
    records = [_record(refused=True), _record(answerable=False, gold_sources=[], refused=True)]
    m = answer_metrics(records)
    assert m["accuracy"] == 0.0 and m["false_refusals"] == 1.0
    assert m["refused_unanswerable"] == 1.0
    assert m["citation_precision"] is None and m["answered_citing_gold"] is None


def test_citation_precision_and_gold_share() -> None:
    records = [
        _record(correct=True, cited_sources=["a.txt", "b.txt"]),
        _record(cited_sources=[]),
        _record(answerable=False, gold_sources=[], refused=False),
    ]
    m = answer_metrics(records)
    assert m["accuracy"] == 0.5
    assert m["citation_precision"] == 0.5
    assert m["answered_citing_gold"] == 0.5
    assert m["refused_unanswerable"] == 0.0


def test_duplicate_retrieved_documents_count_once() -> None:
    # Several chunks of one document: the second distinct document is rank 2, not rank 3.
    records = [{"gold_sources": ["b"], "retrieved": ["a", "a", "b"]}]
    m = retrieval_metrics(records, 2)
    assert m["hit@2"] == 1.0 and m["mrr"] == 0.5 and m["hit@1"] == 0.0


def test_exact_match_and_f1_character_level() -> None:
    assert exact_match("吳漢章[1]。", ["吳漢章"]) == 1.0  # markers and punctuation ignored
    assert exact_match("总经理是吴汉章", ["吳漢章"]) == 0.0
    # Longest common substring 吳漢章 (3): precision 3/7, recall 1.
    assert char_f1("總經理是吳漢章[2]", ["吳漢章"]) == pytest.approx(2 * (3 / 7) / (3 / 7 + 1))
    assert char_f1("", ["吳漢章"]) == 0.0 and exact_match("", ["吳漢章"]) == 0.0
    assert char_f1("吳漢", ["他", "吳漢章"]) == pytest.approx(0.8)  # best reference wins


def test_direct_answer_scored_where_there_is_one() -> None:
    with_direct = _record(
        answer="台智雲的總經理是吳漢章[1]。", direct_answer="吳漢章", correct=True
    )
    without = _record(answer="吳漢章", correct=True)
    refused = _record(answer="", refused=True, direct_answer=None)
    m = answer_metrics([with_direct, without, refused])
    assert m["exact_match"] == pytest.approx(1 / 3, abs=1e-3)  # only the bare answer
    assert m["direct_exact_match"] == pytest.approx(2 / 3, abs=1e-3)  # the direct one too
    assert m["direct_f1"] > m["f1"] and m["direct_answers"] == pytest.approx(1 / 2)


def test_empty_answer_and_no_citations() -> None:
    m = answer_metrics([_record(answer="", cited_sources=[])])
    assert m["accuracy"] == 0.0 and m["f1"] == 0.0 and m["exact_match"] == 0.0
    assert m["citation_precision"] is None  # nothing cited: precision undefined, not 1
    assert m["citation_recall"] == 0.0 and m["answered_citing_gold"] == 0.0


def test_citation_recall_over_gold_documents_and_supported_sentences() -> None:
    both = _record(
        gold_sources=["a.txt", "b.txt"],
        cited_sources=["a.txt", "c.txt"],
        sentences=[{"supported": True}, {"supported": False}, {"supported": True}],
    )
    m = answer_metrics([both, _record(refused=True, sentences=[{"supported": False}])])
    assert m["citation_recall"] == 0.5  # one of two gold documents; refused one not counted
    assert m["citation_precision"] == 0.5
    assert m["supported_sentences"] == pytest.approx(2 / 3, abs=1e-4)  # refused answers not counted
    assert m["total_p50_s"] == 2.0 and m["ttft_p95_s"] == 1.0


def test_bad_eval_lines_are_named(tmp_path: Path) -> None:
    good = {
        "id": "1",
        "question": "q",
        "answers": ["x"],
        "gold_sources": ["a.txt"],
        "answerable": True,
    }
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(good) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2"):
        load_eval_file(path)
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"a\.txt is not a document"):
        load_eval_file(path, ["b.txt"])
    assert load_eval_file(path, ["a.txt"])[0].answers == ["x"]
    path.write_text(json.dumps({**good, "translations": "70%"}) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'translations' must be a list"):
        load_eval_file(path)
    path.write_text(json.dumps({**good, "translations": ["70%"]}) + "\n", encoding="utf-8")
    assert load_eval_file(path)[0].accepted == ["x", "70%"]


def test_squad_export_one_document_per_paragraph(tmp_path: Path) -> None:
    data = {
        "data": [
            {
                "title": "臺灣",
                "paragraphs": [
                    {
                        "id": "p1",
                        "context": "臺灣位於東亞。",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "臺灣在哪？",
                                "answers": [{"text": "東亞"}, {"text": "東亞"}],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    source = tmp_path / "d.json"
    source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    corpus, eval_file, paragraphs, questions = export_squad(source, tmp_path / "out")
    assert (paragraphs, questions) == (1, 1)
    assert (corpus / "p1.txt").read_text(encoding="utf-8") == "臺灣\n臺灣位於東亞。\n"
    record = json.loads(eval_file.read_text(encoding="utf-8"))
    assert record["answers"] == ["東亞"] and record["gold_sources"] == ["p1.txt"]


class _RankedRetriever:
    """Returns the first k of a fixed ranking, whatever the query."""

    def __init__(self, hits: list[Hit]):
        self.hits = hits
        self.index = "the wrapped index"
        self.queries: list[tuple[str, int]] = []

    def search(self, query: str, top_k: int) -> Search:
        self.queries.append((query, top_k))
        return Search(self.hits[:top_k])


def _hit(rank: int, source: str, start: int, text: str) -> Hit:
    chunk = Chunk(f"c{rank}", source, start, start + len(text), text)
    return Hit(rank, chunk, 1.0 / rank, None, None, rank)


def _question(answers: list[str], answerable: bool = True) -> EvalQuestion:
    return EvalQuestion("q1", "台智雲的總經理是誰？", answers, ["a.txt"], answerable)


def test_answer_first_puts_the_passage_holding_the_answer_first() -> None:
    hits = [
        _hit(1, "a.txt", 0, "台智雲成立於2019年。"),
        _hit(2, "b.txt", 0, "吳漢章是另一家公司的人。"),  # holds the answer, not gold
        _hit(3, "a.txt", 50, "台智雲總經理 吳 漢章 表示"),  # spaces do not matter
        _hit(4, "a.txt", 100, "其他內容。"),
        _hit(5, "a.txt", 200, "吳漢章"),
    ]
    wrapped = _RankedRetriever(hits)
    reader = AnswerFirst(wrapped, [_question(["吳漢章"])])
    got = reader.search("台智雲的總經理是誰？\nWho is the general manager?", 3).hits
    assert [(h.rank, h.chunk.id) for h in got] == [(1, "c3"), (2, "c1"), (3, "c2")]
    assert reader.index == "the wrapped index"
    # Another query, an unanswerable question, or an answer found nowhere: as retrieved.
    assert [h.chunk.id for h in reader.search("別的問題", 2).hits] == ["c1", "c2"]
    unanswerable = AnswerFirst(wrapped, [_question(["吳漢章"], answerable=False)])
    assert [h.chunk.id for h in unanswerable.search("台智雲的總經理是誰？", 2).hits] == ["c1", "c2"]
    missing = AnswerFirst(wrapped, [_question(["黃仁勳"])])
    assert [h.chunk.id for h in missing.search("台智雲的總經理是誰？", 2).hits] == ["c1", "c2"]
