"""Retrieval at 1,000,000 synthetic chunks for each store (issue 24), one store after another.

    python scripts/bench_scale_1m.py --index /tmp/b1m/bundled --work /tmp/b1m/work \
        --stores faiss,milvus --milvus-repeats 1

Calls rag.bench.scale.bench_retrieval (the code `rag bench` runs) once per store and writes
each result to bench/runs/scale-1m-<store>.json as soon as it is done, so one store's result
is kept if the next does not finish. Questions: the answerable ones of eval/questions.jsonl.
`--<store>-repeats` sets the timed passes over the questions (ScaleSpec.repeats, default 2).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import rag.bench.scale as scale
from rag.evaluate.runner import load_eval_file
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, required=True, help="a bundled-corpus index")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--stores", default="faiss,milvus")
    parser.add_argument("--faiss-repeats", type=int, default=2)
    parser.add_argument("--milvus-repeats", type=int, default=2)
    args = parser.parse_args()

    questions = [q for q in load_eval_file(ROOT / "eval" / "questions.jsonl") if q.answerable]
    real_run = scale.run
    for store in args.stores.split(","):
        repeats = getattr(args, f"{store}_repeats")
        settings = load_settings({"store": store})
        scale.run = lambda spec, progress=None, r=repeats: real_run(
            replace(spec, repeats=r), progress
        )
        options = SimpleNamespace(work=args.work / store, sizes=[args.n])
        before = uptime()
        print(
            f"{datetime.now(UTC).isoformat(timespec='seconds')} {store}: start; {before}",
            flush=True,
        )
        started = time.perf_counter()
        try:
            retrieval = scale.bench_retrieval(
                settings, options, args.index, questions, lambda m: print(m, flush=True)
            )
        except Exception as exc:  # keep going to the next store
            print(f"{store}: FAILED after {time.perf_counter() - started:.0f} s: {exc}", flush=True)
            continue
        after = uptime()
        result = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "store_setting": store,
            "questions": len(questions),
            "repeats": repeats,
            "wall_s": round(time.perf_counter() - started, 1),
            "uptime_before": before,
            "uptime_after": after,
            "retrieval": retrieval,
        }
        out = ROOT / "bench" / "runs" / f"scale-1m-{store}.json"
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(
            f"{datetime.now(UTC).isoformat(timespec='seconds')} {store}: done "
            f"in {result['wall_s']} s -> {out}; {after}",
            flush=True,
        )
        print(json.dumps(retrieval), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
