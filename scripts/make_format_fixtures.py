"""Regenerate tests/fixtures/formats/ from the bundled corpus with real writers.

PDF, DOCX, ODT: LibreOffice (`soffice --headless --convert-to`) from an HTML rendition of a
corpus document (its short lines become headings, its tables real tables). PPTX: python-pptx.
ODP: LibreOffice from that PPTX. HTML: the text inside a page with navigation, a cookie
banner, scripts and a footer. `fixtures.json` records, for sentences of each fixture, the
page (found with poppler's `pdftotext`, an implementation independent of the extractor) or
slide (as laid out here).

Needs LibreOffice (apt-get install libreoffice-writer libreoffice-impress fonts-wqy-zenhei)
and poppler-utils. Run: python scripts/make_format_fixtures.py [--out DIR] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import datetime
import html
import json
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# One corpus document per format, as in the acceptance folder.
PLAN = {
    "000_a143eb185df1b7b2": ["pdf"],
    "001_1e43fc4feda8cb6f": ["docx"],
    "002_a3962cbbc0e7db72": ["pptx", "odp"],
    "003_6bea5cbf75ef0922": ["odt", "pdf"],
    "004_0bea1a8d285e02fc": ["html"],
}
_TERMINAL = tuple("。！？；」.!?:：")
_SEPARATOR_ROW = re.compile(r"^\|?[\s|:-]+\|?$")


def blocks(text: str) -> list[tuple[str, object]]:
    """The document as ("p"|"h"|"table", content) blocks, in order."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    out: list[tuple[str, object]] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if line.startswith("|") or "\t" in lines[i]:
            rows = []
            while i < len(lines) and (lines[i].strip().startswith("|") or "\t" in lines[i]):
                row = lines[i].strip()
                if not _SEPARATOR_ROW.match(row):
                    cells = (
                        row.strip("|").split("|") if row.startswith("|") else lines[i].split("\t")
                    )
                    rows.append([c.strip() for c in cells])
                i += 1
            out.append(("table", rows))
            continue
        markdown = re.match(r"#{1,6}\s+(.*)", line)
        short = len(line) <= 40 and not line.endswith(_TERMINAL) and out
        out.append(("h", markdown.group(1)) if markdown else ("h" if short else "p", line))
        i += 1
    return out


def writer_html(title: str, parts: list[tuple[str, object]]) -> str:
    body = []
    for kind, content in parts:
        if kind == "table":
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                for row in content  # type: ignore[union-attr]
            )
            body.append(f'<table border="1">{rows}</table>')
        elif kind == "h":
            body.append(f"<h2>{html.escape(str(content))}</h2>")
        else:
            body.append(f"<p>{html.escape(str(content))}</p>")
    return (
        f'<!DOCTYPE html><html lang="zh-Hant"><head><meta charset="utf-8">'
        f'<title>{html.escape(title)}</title><meta name="author" content="sovereign-rag corpus">'
        f"</head><body>{''.join(body)}</body></html>"
    )


def web_page(title: str, date: str, parts: list[tuple[str, object]]) -> str:
    """A saved news page: the article between the boilerplate people's pages really carry."""
    article = writer_html(title, parts).split("<body>", 1)[1].split("</body>", 1)[0]
    return f"""<!DOCTYPE html>
<html lang="zh-Hant"><head><meta charset="utf-8">
<title>{html.escape(title)} | 科技新報網</title>
<meta name="author" content="科技新報編輯部">
{f'<meta property="article:published_time" content="{date}">' if date else ""}
<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments);}}
gtag('js',new Date());gtag('config','G-TRACKING');</script>
<style>.cookie{{position:fixed;bottom:0}} nav a{{margin:0 4px}}</style>
</head><body>
<header><a href="/">科技新報網</a>
<nav><a href="/news">最新新聞</a><a href="/ai">人工智慧</a><a href="/chips">半導體</a>
<a href="/about">關於我們</a><a href="/login">會員登入</a></nav></header>
<div class="cookie" id="cookie-banner">本網站使用 Cookie 以提供更好的瀏覽體驗，
繼續瀏覽即表示您同意我們的隱私權政策。<button>我同意</button></div>
<main><article>
<h1>{html.escape(title)}</h1>
<p class="byline">科技新報編輯部 {f'<time datetime="{date}">{date}</time>' if date else ""}</p>
{article}
</article>
<aside><h3>熱門文章</h3><ul><li><a href="/a/1">十款筆電橫向評比</a></li>
<li><a href="/a/2">手機電池保養五大迷思</a></li><li><a href="/a/3">本週優惠活動懶人包</a></li>
</ul></aside></main>
<footer><p>© 2026 科技新報網 版權所有，轉載請註明出處。</p>
<p><a href="/privacy">隱私權政策</a> · <a href="/terms">服務條款</a>
· 客服信箱 service@example.com</p>
</footer>
<script>document.getElementById('cookie-banner').onclick=function(){{this.remove();}};</script>
</body></html>
"""


def add_running_header(odt: Path, dest: Path) -> None:
    """Give every page a running header and a page-number footer, as reports have."""
    header = (
        "<style:header><text:p>主權AI研究報告　第十二期</text:p></style:header>"
        '<style:footer><text:p>第 <text:page-number text:select-page="current"/> 頁'
        "</text:p></style:footer>"
    )
    box = '<style:header-footer-properties fo:min-height="0.4in" fo:margin-{}="0.1in"/>'
    with zipfile.ZipFile(odt) as zin, zipfile.ZipFile(dest, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "styles.xml":
                xml = data.decode("utf-8")
                xml = re.sub(
                    r"(<style:master-page [^>]*?)/>", r"\1>" + header + "</style:master-page>", xml
                )
                xml = xml.replace(
                    "<style:header-style/>",
                    f"<style:header-style>{box.format('bottom')}</style:header-style>",
                )
                xml = xml.replace(
                    "<style:footer-style/>",
                    f"<style:footer-style>{box.format('top')}</style:footer-style>",
                )
                data = xml.encode("utf-8")
            stored = item.filename == "mimetype"
            zout.writestr(item, data, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)


def soffice(src: Path, target: str, out: Path, infilter: str | None = None) -> Path:
    cmd = ["soffice", "--headless", "--convert-to", target, "--outdir", str(out)]
    if infilter:
        cmd.insert(2, f"--infilter={infilter}")
    subprocess.run([*cmd, str(src)], check=True, capture_output=True, timeout=300)
    return out / f"{src.stem}.{target.split(':')[0]}"


def make_pptx(title: str, parts: list[tuple[str, object]], dest: Path) -> list[list[str]]:
    """A deck: a heading starts a slide, body text packed to ~300 chars, tables on their own.

    Returns the texts on each slide (for fixtures.json)."""
    from pptx import Presentation
    from pptx.util import Inches, Pt

    deck = Presentation()
    deck.core_properties.title = title
    deck.core_properties.author = "sovereign-rag corpus"
    deck.core_properties.created = datetime.datetime(2026, 1, 15, 9, 0, 0)
    slides: list[tuple[str, list[tuple[str, object]]]] = []
    for kind, content in parts:
        heading = kind == "h" and (not slides or _size(slides[-1][1]) >= 150)
        if heading or not slides or kind == "table" or _size(slides[-1][1]) > 300:
            slides.append((str(content) if heading else "", []))
        if not heading:
            slides[-1][1].append(("p" if kind == "h" else kind, content))
        if kind == "table":
            slides.append(("", []))
    texts: list[list[str]] = []
    for heading, body in slides:
        if not heading and not body:
            continue
        slide = deck.slides.add_slide(deck.slide_layouts[1 if heading else 6])
        shown = [heading] if heading else []
        if heading:
            slide.shapes.title.text = heading
        for kind, content in body:
            if kind == "table":
                rows = content  # type: ignore[assignment]
                width = max(len(r) for r in rows)  # type: ignore[union-attr]
                shape = slide.shapes.add_table(
                    len(rows),
                    width,
                    Inches(0.3),
                    Inches(1.5),
                    Inches(9.4),
                    Inches(4),  # type: ignore[arg-type]
                )
                for r, row in enumerate(rows):  # type: ignore[arg-type]
                    for c in range(width):
                        cell = shape.table.cell(r, c)
                        cell.text = row[c] if c < len(row) else ""
                        for run in cell.text_frame.paragraphs[0].runs:
                            run.font.size = Pt(9)
                        shown.append(cell.text)
            else:
                frame = (
                    slide.placeholders[1].text_frame
                    if heading
                    else slide.shapes.add_textbox(
                        Inches(0.5), Inches(0.5), Inches(9), Inches(6)
                    ).text_frame
                )
                para = frame.paragraphs[0] if not frame.text else frame.add_paragraph()
                para.text = str(content)
                shown.append(str(content))
        texts.append(shown)
    deck.save(str(dest))
    return texts


def _size(body: list[tuple[str, object]]) -> int:
    return sum(len(str(c)) for _, c in body)


def pdf_pages(pdf: Path) -> list[str]:
    """Each page's text as poppler reads it, whitespace removed."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True)
    return [re.sub(r"\s+", "", page) for page in out.stdout.decode("utf-8").split("\f")]


def probes(parts: list[tuple[str, object]]) -> dict[str, str]:
    """Sentences spread over the document (five paragraphs), each with its heading."""
    paras: list[tuple[str, str]] = []
    heading = ""
    for kind, content in parts:
        if kind == "h":
            heading = str(content)
        elif kind == "p" and len(str(content)) >= 12:
            paras.append((str(content), heading))
    picks = [paras[round(i * (len(paras) - 1) / 4)] for i in range(5)]
    found = {}
    for para, heading in picks:
        longest = max(re.split(r"(?<=[。！？])", para), key=len).strip()
        found[longest[:30]] = heading
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "formats")
    args = parser.parse_args()
    if shutil.which("soffice") is None:
        raise SystemExit("LibreOffice is needed: apt-get install libreoffice-writer")
    args.out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for stem, kinds in PLAN.items():
            source = args.corpus / f"{stem}.txt"
            text = source.read_text(encoding="utf-8")
            parts = blocks(text)
            marked = re.search(r"^#\s+(.+)$", text, re.M)
            title = (
                marked.group(1) if marked else next((str(c) for k, c in parts if k == "h"), stem)
            )
            date = re.search(r"date (\d{4}-\d{2}-\d{2})", text)
            rendition = tmp / f"{stem}.html"
            rendition.write_text(writer_html(title, parts), encoding="utf-8")
            for kind in kinds:
                dest = args.out / f"{stem}.{kind}"
                entry: dict[str, object] = {"source": source.name, "probes": {}}
                if kind in ("docx", "odt", "html"):
                    entry["probes"] = {p: {"section": h} for p, h in probes(parts).items()}
                if kind in ("pdf", "docx", "odt"):
                    plain = soffice(rendition, "odt", tmp / "plain", "HTML (StarWriter)")
                    writer = tmp / f"{stem}.odt"
                    add_running_header(plain, writer)
                    target = {"pdf": "pdf:writer_pdf_Export", "docx": "docx:MS Word 2007 XML"}
                    made = writer
                    if kind != "odt":
                        made = soffice(writer, target[kind], tmp / "out")
                    shutil.copy(made, dest)
                    if kind == "pdf":
                        pages = pdf_pages(dest)
                        for probe in probes(parts):
                            key = re.sub(r"\s+", "", probe)
                            hits = [n for n, page in enumerate(pages, 1) if key in page]
                            entry["probes"][probe] = {"page": hits[0]}  # type: ignore[index]
                elif kind == "pptx":
                    slides = make_pptx(title, parts, dest)
                    for probe in probes(parts):
                        n = next(i for i, s in enumerate(slides, 1) if any(probe in t for t in s))
                        entry["probes"][probe] = {"slide": n}  # type: ignore[index]
                elif kind == "odp":
                    made = soffice(args.out / f"{stem}.pptx", "odp", tmp)
                    shutil.copy(made, dest)
                    entry["probes"] = manifest[f"{stem}.pptx"]["probes"]
                elif kind == "html":
                    dest.write_text(web_page(title, date.group(1) if date else "", parts), "utf-8")
                manifest[dest.name] = entry
    (args.out / "fixtures.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    for path in sorted(args.out.iterdir()):
        print(f"{path.stat().st_size:>9,d}  {path.name}")


if __name__ == "__main__":
    main()
