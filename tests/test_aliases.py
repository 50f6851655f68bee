from __future__ import annotations

from pathlib import Path

import pytest

from rag.index.aliases import Aliases, mine_aliases

SLIDES = (
    "台灣最新最快的超級電腦: 晶創26 (Nano 4) 世界排名29!\n"
    "輝達晶片助攻台灣超級電腦晶創26 奪全球超級電腦第29名\n"
    "| 29 | Nano4 (晶創26) | 81.55 | 國網中心(NCHC) | 研究 |\n"
    "國網中心負責維運。\n"
    "報導指出輝達（Nvidia）執行長黃仁勳推廣主權AI，輝達的晶片供不應求。\n"
    "國科會主委吳誠文於今(2024)年宣布，SOTA (State of the Art) 模型。"
)
FILLER = [f"第{i}段談的是別的事情，與主權AI無關。" for i in range(40)]


def test_pairs_in_both_orders_with_the_name_cut_from_the_words_before_it() -> None:
    pairs = mine_aliases([SLIDES], [SLIDES, *FILLER])
    assert ("晶創26", "Nano 4") in pairs
    assert ("晶創26", "Nano4") in pairs
    assert ("國網中心", "NCHC") in pairs
    # 「報導指出輝達」: the name is the ending the text uses again.
    assert ("輝達", "Nvidia") in pairs
    # A year in brackets is no name; neither is Latin after Latin.
    assert not any(latin == "2024" or chinese.endswith("於今") for chinese, latin in pairs)
    assert not any(latin == "State of the Art" for _, latin in pairs)


def test_names_in_many_chunks_are_left_out() -> None:
    text = "人工智慧（AI）正在改變世界。晶創26 (Nano 4) 很快。晶創26 排第29名。"
    chunks = [text] + [f"AI 的第{i}個應用" for i in range(20)]
    pairs = mine_aliases([text], chunks)
    assert ("晶創26", "Nano 4") in pairs
    assert all(latin != "AI" for _, latin in pairs)
    # A large corpus is judged on a sample of its chunks: the same answer.
    many = [text] + [f"AI 的第{i}個應用" for i in range(5000)]
    assert mine_aliases([text], many) == pairs


def test_no_brackets_no_pairs() -> None:
    assert mine_aliases(["沒有括號的文件。"], ["沒有括號的文件。"]) == []


def test_query_naming_one_side_gets_the_other() -> None:
    aliases = Aliases([("晶創26", "Nano 4"), ("國網中心", "NCHC")])
    assert aliases.other_names("晶創26的理論峰值Rpeak有多少？") == ["Nano 4"]
    # Simplified question, Latin name without its space, other case.
    assert aliases.other_names("晶创26一共有多少个核心？") == ["Nano 4"]
    assert aliases.other_names("How fast is nano4?") == ["晶創26"]
    assert aliases.other_names("What does the NCHC run?") == ["國網中心"]
    # Both names already there, or a Latin name only inside a longer word: nothing added.
    assert aliases.other_names("晶創26 (Nano 4) 有多快？") == []
    assert aliases.other_names("Who uses nano45 chips?") == []


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    Aliases([("晶創26", "Nano 4")]).save(tmp_path)
    assert Aliases.load(tmp_path).pairs == [("晶創26", "Nano 4")]
    assert len(Aliases.load(tmp_path / "missing")) == 0


def test_index_keeps_pairs_and_search_uses_them(tmp_path: Path) -> None:
    from rag.embed.embedder import HashEmbedder
    from rag.errors import IndexCorruptError
    from rag.index.aliases import ALIASES_FILE
    from rag.index.build import build_index
    from rag.index.load import load_index
    from rag.retrieve.retriever import Retriever

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "news.txt").write_text(
        "台灣最新最快的超級電腦是晶創26 (Nano 4)，世界排名第29名。\n\n晶創26由國網中心建置。",
        encoding="utf-8",
    )
    (corpus / "top500.md").write_text(
        "| 排名 | 系統 | 核心數 |\n| --- | --- | --- |\n| 29 | Nano 4 ASUS ESC N8 | 256,960 |\n",
        encoding="utf-8",
    )
    (corpus / "other.txt").write_text(
        "\n\n".join(f"第{i}段：歐洲的超級電腦與核心數另有統計。" for i in range(30)),
        encoding="utf-8",
    )
    build_index(corpus, tmp_path / "idx", HashEmbedder(), 60, 0)
    index = load_index(tmp_path / "idx")
    assert ("晶創26", "Nano 4") in index.aliases.pairs
    retriever = Retriever(index, None, 0.0)
    found = retriever.search("晶創26有多少核心？", 3)
    hits = found.hits
    assert found.also_searched == ["Nano 4"]
    assert any(h.chunk.doc_id == "top500.md" for h in hits)

    (index.folder / ALIASES_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="rebuild"):
        _ = load_index(tmp_path / "idx").aliases
    (index.folder / ALIASES_FILE).write_text('[["晶創26", "Nano 4"]]', encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="not a JSON object"):
        _ = load_index(tmp_path / "idx").aliases


def test_search_and_ask_say_what_else_was_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from rag.cli.app import app

    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    monkeypatch.setenv("RAG_DENSE_WEIGHT", "0.3")
    monkeypatch.chdir(tmp_path)
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text(
        "國網中心(NCHC)位於新竹。國網中心負責超級電腦。", encoding="utf-8"
    )
    (corpus / "b.txt").write_text("NCHC operates the Nano 4 system.", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["index", "--corpus", str(corpus), "--index", "i"]).exit_code == 0
    result = runner.invoke(app, ["search", "國網中心在哪裡？", "--index", "i"])
    assert result.exit_code == 0, result.output
    assert "(also searched for: NCHC)" in result.output
    result = runner.invoke(app, ["search", "國網中心在哪裡？", "--index", "i", "--json"])
    assert json.loads(result.stdout)["also_searched"] == ["NCHC"]
    result = runner.invoke(app, ["ask", "國網中心在哪裡？", "--index", "i", "--no-llm", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["also_searched"] == ["NCHC"]
