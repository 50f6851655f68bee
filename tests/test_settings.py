from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import load_settings


def test_precedence_defaults_file_env_flags(tmp_path: Path) -> None:
    (tmp_path / "rag.toml").write_text('top_k = 7\ncorpus = "mydocs"\n', encoding="utf-8")
    assert load_settings(env={}).top_k == 7
    assert load_settings(env={}).corpus == tmp_path / "mydocs"
    assert load_settings(env={"RAG_TOP_K": "9"}).top_k == 9
    assert load_settings({"top_k": 3}, env={"RAG_TOP_K": "9"}).top_k == 3
    assert load_settings({"top_k": None}, env={}).top_k == 7


def test_switches_read_from_file_and_environment(tmp_path: Path) -> None:
    assert load_settings(env={}).look_further is False
    for word in ("1", "true", "Yes", "on"):
        assert load_settings(env={"RAG_LOOK_FURTHER": word}).look_further is True
    (tmp_path / "rag.toml").write_text("look_further = true\n", encoding="utf-8")
    assert load_settings(env={}).look_further is True
    assert load_settings(env={"RAG_LOOK_FURTHER": "no"}).look_further is False
    bad = "RAG_LOOK_FURTHER: look_further = 'maybe' is not a valid bool"
    with pytest.raises(ConfigError, match=bad):
        load_settings(env={"RAG_LOOK_FURTHER": "maybe"})


def test_bad_values_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RAG_TOP_K"):
        load_settings(env={"RAG_TOP_K": "many"})
    with pytest.raises(ConfigError, match="top_k must be between"):
        load_settings({"top_k": 0}, env={})
    (tmp_path / "rag.toml").write_text("colour = 'red'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="Unknown setting"):
        load_settings(env={})
    (tmp_path / "rag.toml").write_text("top_k = [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rag\.toml"):
        load_settings(env={})


def test_alone_gap_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={}).alone_gap == 1.0
    assert load_settings(env={"RAG_ALONE_GAP": "1.5"}).alone_gap == 1.5
    with pytest.raises(ConfigError, match="alone_gap"):
        load_settings(env={"RAG_ALONE_GAP": "-1"})
