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


def test_a_passage_with_no_traditional_only_character_keeps_nothing() -> None:
    # 「一万人」 has no character only Traditional writes: a tie counts as Simplified here.
    prompt = build_prompt("有多少人？", "traditional", [_hit(1, "一万人参加。")])
    assert "万" not in prompt.keep
    assert to_script("一万人", "traditional", prompt.keep) == "一萬人"


def test_copy_repair_does_not_put_back_a_simplified_passage_character() -> None:
    from rag.answer.answerer import check_reply

    class Plain:
        def document_text(self, doc_id: str) -> str:
            return "背鳍硬棘13枚。"

        def document_title(self, doc_id: str) -> str:
            return ""

    hits = [_hit(1, "背鳍硬棘13枚。")]
    prompt = build_prompt("硬棘有幾枚？", "traditional", hits)
    verdict = check_reply(
        Plain(), prompt.question, "traditional", "背鰭硬棘13枚[1]。", prompt, hits
    )
    assert verdict.kept.answer.startswith("背鰭硬棘13枚")
