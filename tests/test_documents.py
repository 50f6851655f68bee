from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import CorpusError
from rag.ingest.documents import decode_bytes, extract_metadata, load_corpus

TEXT = "臺灣的主權AI：國網中心與台智雲。"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("cp950"), "cp950"),
        (TEXT.encode("big5"), "cp950"),
    ],
)
def test_decodes_common_encodings(data: bytes, encoding: str) -> None:
    text, found = decode_bytes(data)
    assert text == TEXT
    assert found == encoding


def test_binary_data_is_refused() -> None:
    with pytest.raises(ValueError, match="binary"):
        decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")


def test_metadata_date_and_title() -> None:
    assert extract_metadata(" date 2026-02-05 短標題\n內文。", "stem") == ("短標題", "2026-02-05")
    assert extract_metadata("# 主權AI\n\n內文", "stem") == ("主權AI", None)
    long_first_line = "很長的第一行" * 20 + "\n"
    assert extract_metadata(long_first_line, "stem") == ("stem", None)


def test_load_corpus_recursive_ids_and_skips(tiny_corpus: Path) -> None:
    (tiny_corpus / "empty.txt").write_bytes(b"")
    (tiny_corpus / "image.txt").write_bytes(b"\x89PNG\x00\x00\x00\x01\x02")
    (tiny_corpus / "deck.pdf").write_bytes(b"%PDF-1.4")
    (tiny_corpus / "notes.rtf").write_text("{\\rtf1 hello}", encoding="utf-8")
    (tiny_corpus / ".hidden.txt").write_text("secret", encoding="utf-8")
    result = load_corpus(tiny_corpus)
    assert [d.id for d in result.documents] == ["food.txt", "sub/europe.md", "taiwan.txt"]
    skipped = dict(result.skipped)
    assert skipped["empty.txt"] == "empty file"
    assert "binary" in skipped["image.txt"]
    assert "damaged PDF" in skipped["deck.pdf"]
    assert "unsupported" in skipped["notes.rtf"]
    assert ".hidden.txt" not in skipped
    europe = next(d for d in result.documents if d.id == "sub/europe.md")
    assert europe.title == "歐洲的AI法規"


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "a.txt").write_text("   \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="No readable document"):
        load_corpus(tmp_path / "blank")


def test_same_bytes_same_hash(tiny_corpus: Path, tmp_path: Path) -> None:
    first = load_corpus(tiny_corpus).documents
    second = load_corpus(tiny_corpus).documents
    assert [d.sha256 for d in first] == [d.sha256 for d in second]
