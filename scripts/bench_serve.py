"""Measure `rag serve` with the default models, over the bundled corpus: time to first token
through the API with the model warm (streamed, the first chunk with text, as the official
`openai` client sees it); CLIENTS concurrent clients asking PER_CLIENT questions each (every
request must be answered or refused with 429, nothing else); the server's peak resident
memory (VmHWM). Writes bench/runs/serve.json and the "Serving" section of bench/RESULTS.md.

    python scripts/bench_serve.py [--clients 8] [--per-client 3] [--questions 10]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai

REPO = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- serve: begin -->", "<!-- serve: end -->"


def questions(count: int) -> list[str]:
    rows = [json.loads(line) for line in (REPO / "eval" / "questions.jsonl").open(encoding="utf-8")]
    answerable = [r["question"] for r in rows if r.get("answerable")]
    step = max(1, len(answerable) // count)
    return answerable[::step][:count]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ask_streamed(client: openai.OpenAI, question: str) -> dict[str, Any]:
    started = time.perf_counter()
    first = None
    last: Any = None
    for chunk in client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": question}], stream=True
    ):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
        last = chunk
    extra = last.model_extra or {}
    return {
        "question": question,
        "ttft_s": round(first if first is not None else time.perf_counter() - started, 3),
        "total_s": round(time.perf_counter() - started, 3),
        "refused": extra.get("refused"),
        "citations": len(extra.get("citations", [])),
    }


def concurrent(
    url: str, token: str, asked: list[str], clients: int, per_client: int
) -> dict[str, Any]:
    outcomes: list[dict[str, Any]] = []
    lock = threading.Lock()

    def client_run(k: int) -> None:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=900)
        for j in range(per_client):
            question = asked[(k * per_client + j) % len(asked)]
            started = time.perf_counter()
            try:
                completion = client.chat.completions.create(
                    model="default", messages=[{"role": "user", "content": question}]
                )
                extra = completion.model_extra or {}
                kind = "refused" if extra.get("refused") else "answered"
                detail = ""
            except openai.RateLimitError as exc:
                kind, detail = "429", str(exc.response.headers.get("retry-after"))
            except Exception as exc:  # recorded: the benchmark counts every other error
                kind, detail = "error", f"{type(exc).__name__}: {exc}"
            with lock:
                outcomes.append(
                    {
                        "client": k,
                        "outcome": kind,
                        "detail": detail,
                        "seconds": round(time.perf_counter() - started, 2),
                    }
                )

    started = time.perf_counter()
    threads = [threading.Thread(target=client_run, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o["outcome"]] = counts.get(o["outcome"], 0) + 1
    return {
        "clients": clients,
        "per_client": per_client,
        "wall_s": round(time.perf_counter() - started, 1),
        "counts": counts,
        "slowest_s": max(o["seconds"] for o in outcomes),
        "outcomes": outcomes,
    }


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def section(run: dict[str, Any]) -> str:
    ttft, conc = run["ttft"], run["concurrent"]
    counts = conc["counts"]
    errors = counts.get("error", 0)
    peak = run["peak_rss_mb"]
    targets = [
        ["time to first token p50 through the API, warm (s)", ttft["p50_s"], "<= 5"],
        [f"{conc['clients']} concurrent clients: errors other than 429", errors, "0"],
        ["peak resident memory of the server (MB)", peak, "<= 3,072"],
    ]
    met = [ttft["p50_s"] <= 5, errors == 0, peak <= 3072]
    intro = (
        f"Generated by `python scripts/bench_serve.py` ({run['date']}, {run['cores']} cores, "
        f"load average {run['load_before']} before, {run['load_after']} after): `rag serve` in "
        "its own process with the default models over the bundled corpus, reached over "
        "loopback with the official `openai` client and a bearer token. Time to first token: "
        f"{ttft['n']} eval questions streamed one after another after one untimed question, to "
        "the first chunk with text (retrieval included; the checks run after the stream). "
        f"Concurrency: {conc['clients']} clients at once, {conc['per_client']} questions each, "
        f"not streamed, no retries, queue depth {run['queue']} (one answer is generated at a "
        "time, the others wait their turn). Peak memory: VmHWM of the server process at the end."
    )
    note = [f"**Note.** {run['note']}", ""] if run.get("note") else []
    lines = [
        BEGIN,
        "## Serving (`rag serve`)",
        "",
        intro,
        "",
        *note,
        _row(["target", "measured", "bound", "met"]),
        _row(["---"] * 4),
        *(_row([*t, "yes" if m else "no"]) for t, m in zip(targets, met, strict=True)),
        "",
        _row(
            [
                "TTFT p50 s",
                "TTFT p95 s",
                "total p50 s",
                "concurrent wall s",
                "slowest request s",
                "answered",
                "refused",
                "429",
                "errors",
                "startup s",
            ]
        ),
        _row(["---"] * 10),
        _row(
            [
                ttft["p50_s"],
                ttft["p95_s"],
                ttft["total_p50_s"],
                conc["wall_s"],
                conc["slowest_s"],
                counts.get("answered", 0),
                counts.get("refused", 0),
                counts.get("429", 0),
                errors,
                run["startup_s"],
            ]
        ),
        END,
    ]
    return "\n".join(lines)


def write_section(results: Path, text: str) -> None:
    current = results.read_text(encoding="utf-8") if results.exists() else "# Performance\n"
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        updated = head + text + tail
    else:
        updated = current.rstrip("\n") + "\n\n" + text + "\n"
    results.write_text(updated, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=3)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "runs" / "serve.json")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--note", default="", help="A paragraph on the conditions of the run.")
    parser.add_argument(
        "--rewrite", action="store_true", help="Only rewrite the section from --out (no run)."
    )
    args = parser.parse_args()

    if args.rewrite:
        run = json.loads(args.out.read_text(encoding="utf-8"))
        run["note"] = args.note or run.get("note", "")
        args.out.write_text(json.dumps(run, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        write_section(args.results, section(run))
        return 0
    asked = questions(args.questions)
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        env = {**os.environ, "RAG_INDEX": str(index), "RAG_API_TOKEN": token}
        rag = [sys.executable, "-m", "rag"]
        subprocess.run([*rag, "-q", "index", "--corpus", str(REPO / "corpus")], env=env, check=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        load_before = round(os.getloadavg()[0], 2)
        started = time.perf_counter()
        server = subprocess.Popen(
            [*rag, "serve", "--port", str(port), "--queue", str(args.queue)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while True:
                if server.poll() is not None:
                    raise SystemExit(
                        f"rag serve exited: {server.stderr.read() if server.stderr else ''}"
                    )
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            startup = round(time.perf_counter() - started, 1)
            client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=900)
            ask_streamed(client, asked[0])  # warm
            timed = [ask_streamed(client, q) for q in asked]
            ttfts = [t["ttft_s"] for t in timed]
            conc = concurrent(url, token, asked, args.clients, args.per_client)
            peak = round(peak_rss_mb(server.pid), 1)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    run = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cores": os.cpu_count(),
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
        "queue": args.queue,
        "startup_s": startup,
        "ttft": {
            "n": len(timed),
            "p50_s": round(statistics.median(ttfts), 3),
            "p95_s": round(percentile(ttfts, 0.95), 3),
            "total_p50_s": round(statistics.median(t["total_s"] for t in timed), 3),
            "runs": timed,
        },
        "concurrent": conc,
        "peak_rss_mb": peak,
        "note": args.note,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(run, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_section(args.results, section(run))
    print(json.dumps({k: v for k, v in run.items() if k not in ("ttft", "concurrent")}, indent=2))
    print(json.dumps({"ttft": {k: v for k, v in run["ttft"].items() if k != "runs"}}, indent=2))
    print(json.dumps({"concurrent": {k: v for k, v in conc.items() if k != "outcomes"}}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
