from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest.chunking import (
    chunk_document,
    heading_line,
    index_text,
    linearize_tables,
    sized_in_words,
    span_text,
    split_sentences,
    text_units,
)
from rag.ingest.documents import Document, load_corpus
from rag.ingest.extract.text import markdown_sections

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _doc(text: str) -> Document:
    return Document(id="d.txt", text=text, sha256="x", encoding="utf-8")


@pytest.mark.parametrize(("target", "overlap"), [(40, 0), (120, 1), (300, 2)])
def test_chunk_text_is_the_original_span(target: int, overlap: int) -> None:
    for doc in load_corpus(CORPUS).documents:
        chunks = chunk_document(doc, target, overlap)
        assert chunks
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert chunk.text == chunk.text.strip()
        # Every non-space character of the document lies in some chunk.
        covered = set()
        for chunk in chunks:
            covered.update(range(chunk.start, chunk.end))
        missing = [i for i, c in enumerate(doc.text) if not c.isspace() and i not in covered]
        assert missing == []


def test_sentences_end_at_chinese_and_ascii_punctuation() -> None:
    text = "第一句。第二句！「第三句？」Fourth one. Fifth!\n第六句"
    spans = [text[s:e] for s, e in split_sentences(text)]
    assert spans == ["第一句。", "第二句！", "「第三句？」", "Fourth one.", "Fifth!", "第六句"]


def test_sentences_are_not_cut_unless_too_long() -> None:
    text = "甲" * 30 + "。" + "乙" * 30 + "。" + "丙" * 30 + "。"
    chunks = chunk_document(_doc(text), target_chars=70, overlap=0)
    assert [c.text for c in chunks] == ["甲" * 30 + "。" + "乙" * 30 + "。", "丙" * 30 + "。"]
    long_sentence = "丁" * 50 + "，" + "戊" * 50 + "。"
    pieces = chunk_document(_doc(long_sentence), target_chars=60, overlap=0)
    assert [c.text for c in pieces] == ["丁" * 50 + "，", "戊" * 50 + "。"]


def test_overlap_carries_sentences() -> None:
    text = "一一一。二二二。三三三。四四四。"
    chunks = chunk_document(_doc(text), target_chars=8, overlap=1)
    assert [c.text for c in chunks] == ["一一一。二二二。", "二二二。三三三。", "三三三。四四四。"]


def test_table_rows_stay_whole_and_know_their_header() -> None:
    text = (
        "前言：以下是超級電腦的排名表格。\n| 排名 | 主機 | Rmax |\n|---|---|---|\n"
        "| 29 | Nano4 (晶創26) | 81.55 |\n| 46 | Ublink | 45.82 |\n後記。"
    )
    chunks = chunk_document(_doc(text), target_chars=30, overlap=0)
    texts = [c.text for c in chunks]
    assert "| 29 | Nano4 (晶創26) | 81.55 |" in texts
    row = next(c for c in chunks if c.text.startswith("| 29"))
    assert row.context == "| 排名 | 主機 | Rmax |"
    assert next(c for c in chunks if c.text.startswith("前言")).context == ""


def test_a_long_table_row_stays_whole() -> None:
    row = (
        "| 29 | Nano 4 "
        + "ASUS ESC N8-E11V, Xeon Platinum, NVIDIA H200 " * 4
        + "| 256,960 | 81.55 |"
    )
    text = "| Rank | System | Cores | Rmax |\n|---|---|---|---|\n" + row + "\n"
    doc = Document(id="t.md", text=text, sha256="x", encoding="utf-8")
    chunks = chunk_document(doc, 60, 0)
    assert any(c.text == row for c in chunks)
    assert all("256,960" not in c.text or "81.55" in c.text for c in chunks)


def test_table_rows_read_with_their_header() -> None:
    table = (
        "| 本次排行 | 主機名稱 | Rmax(PF) |\n|---|---|---|\n"
        "| 46 | Ublink | 45.82 |\n| 135 | Nano5(晶創25) | 13.06 |\n下一段。"
    )
    assert linearize_tables(table).splitlines() == [
        "本次排行: 46；主機名稱: Ublink；Rmax(PF): 45.82。",
        "本次排行: 135；主機名稱: Nano5(晶創25)；Rmax(PF): 13.06。",
        "下一段。",
    ]
    # A header alone, or a row that does not fit its header, stays as written.
    assert linearize_tables("| 國家 | 方向 |\n|---|---|") == "國家 | 方向"
    assert linearize_tables("| a | b |\n| 1 | 2 | 3 |").splitlines()[1] == "| 1 | 2 | 3 |"
    assert linearize_tables("沒有表格。") == "沒有表格。"


def test_size_counts_a_latin_word_as_two_chinese_characters() -> None:
    assert text_units("NVIDIA H200 GPU 晶片。") == 2 * 3 + 3
    assert text_units("It's 3.5 GB.") == 2 * 3 + 1


def test_an_english_sentence_is_not_cut_where_a_chinese_one_of_as_many_letters_would_be() -> None:
    sentence = (
        "Verifiers should permit subscriber-chosen memorized secrets at least 64 characters "
        "in length, and all printing ASCII characters as well as the space character should "
        "be acceptable in memorized secrets."
    )
    assert len(sentence) > 120 and text_units(sentence) <= 120
    doc = Document(id="e.md", text=sentence + " Next one.", sha256="x", encoding="utf-8")
    first = chunk_document(doc, 120, 0)[0]
    assert first.text.startswith(sentence)
    # A document mainly in Chinese is sized in characters, its Latin words included.
    assert chunk_document(_doc("長" * 130 + "。"), 120, 0)[0].text == "長" * 120
    mixed = "輝達的NVIDIA H200晶片" * 10 + "。"
    assert sized_in_words(sentence) and not sized_in_words(mixed)
    assert len(chunk_document(_doc(mixed), 100, 0)[0].text) == 100


def test_heading_line_names_each_heading_once() -> None:
    assert heading_line("勞動基準法", None) == "勞動基準法"
    # A Markdown document's title is its first heading, which opens the heading path too.
    assert heading_line("Git Basics", "Git Basics > Tagging") == "Git Basics > Tagging"
    assert heading_line("  Rust  book ", "Ownership > Borrowing") == (
        "Rust book > Ownership > Borrowing"
    )
    assert heading_line("", "Install") == "Install"
    assert heading_line("", None) == ""


def test_chunks_are_indexed_with_their_title_and_headings_but_read_without() -> None:
    text = "# Setup\n\nFirst install the tool. Then run it once.\n\n## Proxy\n\nSet the proxy."
    sections = tuple(markdown_sections(text))
    doc = Document(
        id="m.md", text=text, sha256="x", encoding="utf-8", title="Setup", locations=sections
    )
    chunks = chunk_document(doc, 40, 0, headings=True)
    proxy = next(c for c in chunks if "Set the proxy" in c.text)
    assert proxy.heading == "Setup > Proxy"
    assert index_text(proxy) == f"Setup > Proxy\n{span_text(proxy)}"
    assert "Setup" not in span_text(proxy)  # what the model reads and the checks see
    plain = chunk_document(doc, 40, 0)  # the default: no headings
    assert all(c.heading == "" and index_text(c) == span_text(c) for c in plain)
