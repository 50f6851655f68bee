"""Reading the next passages before refusing (Answerer(look_further=True)), with a scripted
model."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.answerer import Answerer
from rag.embed.embedder import HashEmbedder
from rag.index.build import build_index
from rag.index.load import load_index
from rag.ingest.chunking import split_sentences
from rag.retrieve.retriever import Hit, Retriever
from tests.test_answer import ScriptedGenerator

QUESTION = "台智雲的總經理是誰？"
# Names nothing, asks for no number or office: any sentence copied from a passage stands.
OPEN_QUESTION = "這些文件說了哪些事情？"
REFUSAL = "資料中沒有相關資訊。"


@pytest.fixture
def retriever(tiny_corpus: Path, tmp_path: Path) -> Retriever:
    build_index(tiny_corpus, tmp_path / "idx", HashEmbedder(), 60, 0)
    return Retriever(load_index(tmp_path / "idx"), HashEmbedder(), 0.3)


def _first_sentence(hit: Hit) -> str:
    start, end = split_sentences(hit.chunk.text)[0]
    return hit.chunk.text[start:end].strip().rstrip("。")


def test_refused_first_passages_then_answered_from_the_next(retriever: Retriever) -> None:
    hits = retriever.search(OPEN_QUESTION, 2).hits
    second = _first_sentence(hits[1])
    # Round 1: a refusal, asked again, a refusal. Round 2 reads passage 2 alone, as [1].
    generator = ScriptedGenerator(REFUSAL, REFUSAL, f"{second}[1]。")
    answerer = Answerer(retriever, generator, top_k=1, look_further=True)
    told: list[str] = []
    streamed: list[str] = []
    answer = answerer.ask(OPEN_QUESTION, on_token=streamed.append, on_status=told.append)
    assert told == ["(passages 1-1 do not answer this; reading 2-2)"]
    assert not answer.refused and answer.looked_further
    # The citation is renumbered to the passage's place among all those retrieved.
    assert answer.answer == f"{second}[2]。"
    assert [(c.n, c.source) for c in answer.citations] == [(2, hits[1].source)]
    assert [h.source for h in answer.retrieved] == [h.source for h in hits]
    assert len(generator.prompts) == 3
    assert second in generator.prompts[2][-1]["content"]
    assert hits[0].chunk.text.split()[0] not in generator.prompts[2][-1]["content"]
    # Nothing of the refusals was shown; the second reading was streamed.
    assert "".join(streamed) == f"{second}[1]。"
    assert answer.to_json()["looked_further"] is True


def test_unsupported_reply_from_the_next_passages_is_refused(retriever: Retriever) -> None:
    generator = ScriptedGenerator(REFUSAL, REFUSAL, "台智雲的總經理是王小明[1]。")
    answer = Answerer(retriever, generator, top_k=1, look_further=True).ask(QUESTION)
    assert answer.refused and answer.answer == "資料中沒有相關資訊"
    assert not answer.looked_further and answer.citations == []
    assert len(answer.retrieved) == 2  # both readings are listed as the closest passages
    # The second reading is not retried: three prompts, not four.
    assert len(generator.prompts) == 3


def test_shown_draft_refused_by_the_checks_then_answered_quietly(retriever: Retriever) -> None:
    hits = retriever.search(OPEN_QUESTION, 2).hits
    second = _first_sentence(hits[1])
    # An invented number: refused by the checks after it was shown.
    generator = ScriptedGenerator("晶創26在TOP500排名第7名[1]。", f"{second}[1]。")
    streamed: list[str] = []
    answerer = Answerer(retriever, generator, top_k=1, look_further=True)
    answer = answerer.ask(OPEN_QUESTION, on_token=streamed.append)
    assert not answer.refused and answer.answer == f"{second}[2]。"
    # The first draft was shown before it was checked; the second is shown once checked,
    # so the first token the user reads of the answer comes when generation ends.
    assert "".join(streamed) == "晶創26在TOP500排名第7名[1]。"
    assert answer.timings["ttft_s"] == answer.timings["generate_s"]


def test_without_look_further_one_reading_only(retriever: Retriever) -> None:
    generator = ScriptedGenerator(REFUSAL, REFUSAL)
    answer = Answerer(retriever, generator, top_k=1).ask(QUESTION)
    assert answer.refused and len(generator.prompts) == 2 and len(answer.retrieved) == 1


def test_supported_first_reading_does_not_look_further(retriever: Retriever) -> None:
    hits = retriever.search(QUESTION, 1).hits
    first = _first_sentence(hits[0])
    generator = ScriptedGenerator(f"{first}[1]。")
    answer = Answerer(retriever, generator, top_k=1, look_further=True).ask(QUESTION)
    assert not answer.refused and not answer.looked_further
    assert len(generator.prompts) == 1 and len(answer.retrieved) == 1
