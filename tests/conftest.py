from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's config, models or index by accident."""
    for name in list(__import__("os").environ):
        if name.startswith("RAG_") and name != "RAG_TEST_HOME":
            monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def shared_home() -> Path:
    """Where integration tests keep the converted embedding model between tests."""
    import os

    return Path(os.environ.get("RAG_TEST_HOME", REPO / ".cache" / "test-home"))


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "docs"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "taiwan.txt").write_text(
        "臺灣的超級電腦\n國網中心的晶創26在TOP500排名第29名。它由華碩建造。\n"
        "台智雲提供雲端算力服務，總經理是吳漢章。",
        encoding="utf-8",
    )
    (corpus / "sub" / "europe.md").write_text(
        "# 歐洲的AI法規\n\n歐盟通過了AI Act，重視合規與倫理。法國投資資料中心。",
        encoding="utf-8",
    )
    (corpus / "food.txt").write_text(
        "珍珠奶茶起源於台中。滷肉飯是常見的小吃，價格大約五十元。", encoding="utf-8"
    )
    return corpus
