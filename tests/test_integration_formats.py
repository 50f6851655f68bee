"""Acceptance: the bundled documents in five formats, beside bad files, retrieve as well
as the .txt corpus with the real embedding model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from bad_files import FIXTURES, encrypted_pdf, scanned_pdf

from rag.embed.embedder import E5Embedder
from rag.evaluate.runner import load_eval_file, run_retrieval
from rag.index.build import build_index
from rag.index.load import load_index
from rag.ingest.extract import ExtractOptions
from rag.retrieve.retriever import Retriever
from rag.settings import Settings

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent
CONVERTED = {
    "000_a143eb185df1b7b2": "pdf",
    "001_1e43fc4feda8cb6f": "docx",
    "002_a3962cbbc0e7db72": "pptx",
    "003_6bea5cbf75ef0922": "odt",
    "004_0bea1a8d285e02fc": "html",
}


def _scores(corpus: Path, eval_file: Path, home: Path, work: Path) -> dict[str, float]:
    settings = Settings(home=home)
    embedder = E5Embedder(settings.models_dir)
    # OCR off: with Tesseract the scan (a copy of page 1 of 000) would be indexed as a
    # second document holding that text and compete with it; without, it is a bad file.
    report = build_index(
        corpus,
        work / "index",
        embedder,
        settings.chunk_chars,
        settings.chunk_overlap,
        options=ExtractOptions(ocr_languages=""),
    )
    loaded = load_index(work / "index", embedder.model_id)
    questions = load_eval_file(eval_file, loaded.manifest["documents"])
    run = run_retrieval(Retriever(loaded, embedder, settings.dense_weight), questions, 5)
    return {**run["metrics"], "skipped": len(report.skipped)}


def test_mixed_formats_retrieve_like_text(shared_home: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for stem, kind in CONVERTED.items():
        shutil.copy(FIXTURES / f"{stem}.{kind}", mixed / f"{stem}.{kind}")
    (mixed / "locked.pdf").write_bytes(encrypted_pdf("secret"))
    docx = (FIXTURES / "001_1e43fc4feda8cb6f.docx").read_bytes()
    (mixed / "truncated.docx").write_bytes(docx[: len(docx) // 2])
    (mixed / "notes.pdf").write_text("其實是純文字。", encoding="utf-8")
    (mixed / "scan.pdf").write_bytes(scanned_pdf())
    # The same questions, their gold documents renamed to the converted files.
    eval_file = tmp_path / "questions.jsonl"
    lines = []
    for line in (REPO / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record["gold_sources"] = [f"{s[:-4]}.{CONVERTED[s[:-4]]}" for s in record["gold_sources"]]
        lines.append(json.dumps(record, ensure_ascii=False))
    eval_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = _scores(REPO / "corpus", REPO / "eval" / "questions.jsonl", shared_home, tmp_path / "t")
    formats = _scores(mixed, eval_file, shared_home, tmp_path / "f")
    keys = ("n", "hit@1", "hit@5", "mrr")
    print(
        "\ntxt corpus:",
        {k: text[k] for k in keys},
        "\nmixed formats:",
        {k: formats[k] for k in keys},
    )
    assert formats["skipped"] == 4
    for metric in ("hit@1", "hit@5"):
        assert abs(formats[metric] - text[metric]) <= 0.03, (metric, formats, text)
