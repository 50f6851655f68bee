"""Reading the top passage alone first (rule top_passage_alone) when retrieval ranks it well
ahead of the next, with a scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.answerer import Answerer, stands_out
from rag.check.catalog import ALL_ON
from rag.embed.embedder import HashEmbedder
from rag.generate.prompts import is_refusal
from rag.index.build import build_index
from rag.index.load import load_index
from rag.ingest.chunking import split_sentences
from rag.retrieve.retriever import Hit, Retriever
from rag.settings import load_settings
from tests.test_answer import ScriptedGenerator

# Names nothing, asks for no number or office: any sentence copied from a passage stands.
QUESTION = "這些文件說了哪些事情？"
REFUSAL = "資料中沒有相關資訊。"
ALWAYS = 0.0  # a lead every top passage has (hits come best first)


@pytest.fixture
def retriever(tiny_corpus: Path, tmp_path: Path) -> Retriever:
    build_index(tiny_corpus, tmp_path / "idx", HashEmbedder(), 60, 0)
    return Retriever(load_index(tmp_path / "idx"), HashEmbedder(), 0.3)


def _last_sentence(hit: Hit) -> str:
    start, end = split_sentences(hit.chunk.text)[-1]
    return hit.chunk.text[start:end].strip().rstrip("。")


def _hits(retriever: Retriever) -> list[Hit]:
    hits = retriever.search(QUESTION, 3).hits
    assert len({h.chunk.doc_id for h in hits}) == 3  # three documents
    return hits


def test_top_passage_that_stands_out_is_read_alone(retriever: Retriever) -> None:
    hits = _hits(retriever)
    top, lower = _last_sentence(hits[0]), _last_sentence(hits[2])
    generator = ScriptedGenerator(f"{top}[1]。")
    streamed: list[str] = []
    answerer = Answerer(retriever, generator, top_k=3, alone_gap=ALWAYS)
    answer = answerer.ask(QUESTION, on_token=streamed.append)
    assert not answer.refused and answer.read_alone and answer.answer == f"{top}[1]。"
    assert [c.source for c in answer.citations] == [hits[0].source]
    # One prompt, holding the top passage only; streamed as it came.
    (prompt,) = generator.prompts
    assert top in prompt[-1]["content"] and lower not in prompt[-1]["content"]
    assert "[2]" not in prompt[-1]["content"]
    assert "".join(streamed) == f"{top}[1]。"
    record = answer.to_json()
    assert record["read_alone"] is True and record["other_reply"] is None


def test_top_passage_that_does_not_answer_then_all_passages(retriever: Retriever) -> None:
    hits = _hits(retriever)
    lower = _last_sentence(hits[2])
    # Refused, asked again without the way out, refused again; then all three passages.
    generator = ScriptedGenerator(REFUSAL, REFUSAL, f"{lower}[3]。")
    told: list[str] = []
    streamed: list[str] = []
    answer = Answerer(retriever, generator, top_k=3, alone_gap=ALWAYS).ask(
        QUESTION, on_token=streamed.append, on_status=told.append
    )
    assert told == ["(passage 1 alone does not answer this; reading 1-3)"]
    assert not answer.refused and not answer.read_alone and answer.answer == f"{lower}[3]。"
    assert len(generator.prompts) == 3 and lower in generator.prompts[2][-1]["content"]
    assert is_refusal(answer.other_reply or "")
    # What was streamed differs from the answer only by the checks: the refusal was not shown.
    assert answer.revision_note() == "citations checked"
    # Nothing of the refusals was shown: the reading of all passages streams.
    assert "".join(streamed) == f"{lower}[3]。"


def test_shown_answer_from_the_top_passage_refused_then_all_read_quietly(
    retriever: Retriever,
) -> None:
    hits = _hits(retriever)
    lower = _last_sentence(hits[2])
    # An invented number: shown, then refused by the checks.
    generator = ScriptedGenerator("晶創26在TOP500排名第7名[1]。", f"{lower}[3]。")
    streamed: list[str] = []
    answerer = Answerer(retriever, generator, top_k=3, alone_gap=ALWAYS)
    answer = answerer.ask(QUESTION, on_token=streamed.append)
    assert answer.answer == f"{lower}[3]。" and not answer.read_alone
    assert answer.revision_note() == "read again over all passages"
    # The second reading is shown once checked: the first token the user reads of the answer
    # comes when generation ends.
    assert "".join(streamed) == "晶創26在TOP500排名第7名[1]。"
    assert answer.timings["ttft_s"] == answer.timings["generate_s"]


def test_top_passage_not_far_enough_ahead_all_are_read(retriever: Retriever) -> None:
    hits = _hits(retriever)
    lower = _last_sentence(hits[2])
    generator = ScriptedGenerator(f"{lower}[3]。")
    answer = Answerer(retriever, generator, top_k=3, alone_gap=1e9).ask(QUESTION)
    assert len(generator.prompts) == 1 and answer.answer == f"{lower}[3]。"
    assert not answer.read_alone and answer.other_reply is None


def test_rule_switched_off_reads_all_passages(retriever: Retriever) -> None:
    hits = _hits(retriever)
    lower = _last_sentence(hits[2])
    generator = ScriptedGenerator(f"{lower}[3]。")
    rules = ALL_ON.without("top_passage_alone")
    answer = Answerer(retriever, generator, top_k=3, rules=rules, alone_gap=ALWAYS).ask(QUESTION)
    assert len(generator.prompts) == 1 and answer.answer == f"{lower}[3]。"


def test_stands_out_is_the_lead_of_the_first_over_the_second(retriever: Retriever) -> None:
    hits = _hits(retriever)
    lead = hits[0].score - hits[1].score
    assert stands_out(hits, lead) and not stands_out(hits, lead + 0.01)
    assert not stands_out(hits[:1], ALWAYS)  # one passage: nothing to read apart


def test_the_lead_comes_from_the_settings(retriever: Retriever) -> None:
    settings = load_settings({"alone_gap": 0.0}, env={})
    hits = _hits(retriever)
    top = _last_sentence(hits[0])
    generator = ScriptedGenerator(f"{top}[1]。")
    answer = Answerer.from_settings(retriever, generator, settings).ask(QUESTION)
    assert answer.read_alone and len(generator.prompts) == 1
    assert Answerer.from_settings(retriever, None, load_settings({}, env={})).alone_gap == 1.0
