"""The prompt a question gets: characters kept only as Traditional passages write them."""

from __future__ import annotations

from rag.answer.prompting import build_prompt
from rag.ingest.chunking import Chunk
from rag.retrieve.retriever import Hit
from rag.textnorm import to_script


def _hit(n: int, text: str) -> Hit:
    return Hit(n, Chunk(f"c{n}", f"d{n}.txt", 0, len(text), text), 1.0, None, None)


def test_characters_are_kept_only_as_traditional_passages_write_them() -> None:
    hits = [_hit(1, "台灣的經濟成長很快。"), _hit(2, "中国的经济发展很快。")]
    prompt = build_prompt("經濟成長多快？", "traditional", hits)
    assert "台" in prompt.keep  # 台灣 as the Taiwanese document writes it, not 臺灣
    assert "经" not in prompt.keep and "发" not in prompt.keep
    assert to_script("经济发展", "traditional", prompt.keep) == "經濟發展"
