#!/usr/bin/env python3
"""Build the corpus of the `regulations` dev set from the mojLawSplitJSON mirror of 全國法規資料庫.

Usage:
    git clone https://github.com/kong0107/mojLawSplitJSON /tmp/mojLawSplitJSON
    python eval/dev/regulations/build_corpus.py --repo /tmp/mojLawSplitJSON

Every file is read with `git show <COMMIT>:FalVMingLing/<PCode>.json`, so the clone only needs to
contain the recorded commit. Output goes to `corpus/` next to this script: one UTF-8 .txt per law
(title; 英文名稱, 法規性質 and 最新異動日期 as header lines; a blank line; then every chapter heading
and every article as `第 N 條` on its own line followed by its text, `\r\n` -> `\n`). 沿革 is left out.
LAW_AS_DOCX is written as .docx with python-docx instead (same text; chapters as Heading 1,
articles as Heading 2, every line of an article text as a body paragraph).
Only the 租賃 section (第二編 債, 第二章 各種之債, 第五節 租賃) of 民法 is kept.
"""
import argparse
import json
import subprocess
from pathlib import Path

COMMIT = "0d26e6c7c759821bbb6465162ffe149af5aed203"  # "UpdateDate 20241011", 2024-10-24

# (output name, PCode, section: (first heading, next heading) or None for the whole law)
LAWS = [
    ("就業服務法", "N0090001", None),
    ("就業保險法", "N0050021", None),
    ("職業安全衛生法", "N0060001", None),
    ("租賃住宅市場發展及管理條例", "D0060125", None),
    ("民法債編租賃節", "B0000001", ("第 五 節 租賃", "第 六 節 借貸")),
    ("著作權法", "J0070017", None),
    ("全民健康保險法", "L0060001", None),
    ("電子簽章法", "J0080037", None),
    ("大學法", "H0030001", None),
]
LAW_AS_DOCX = "職業安全衛生法"
SECTION_TITLES = {"民法債編租賃節": "民法（節錄：第二編 債 第二章 各種之債 第五節 租賃）"}


def roc_date(yyyymmdd: str) -> str:
    y, m, d = int(yyyymmdd[:4]), yyyymmdd[4:6], yyyymmdd[6:8]
    return f"民國 {y - 1911} 年 {m} 月 {d} 日"


def load(repo: Path, pcode: str) -> dict:
    raw = subprocess.run(["git", "-C", str(repo), "show", f"{COMMIT}:FalVMingLing/{pcode}.json"],
                         check=True, capture_output=True).stdout
    return json.loads(raw.decode("utf-8"))


def blocks(law: dict, section):
    """Yield ("heading", text) and ("article", number line, text) in order."""
    items = law["法規內容"]
    inside = section is None
    for it in items:
        head = it.get("編章節")
        if head is not None:
            head = head.strip()
            if section is not None:
                if head == section[0]:
                    inside = True
                elif head == section[1]:
                    inside = False
            if inside:
                yield ("heading", head, None)
            continue
        if inside:
            yield ("article", it["條號"].strip(), it["條文內容"].replace("\r\n", "\n").strip())


def header(name: str, law: dict) -> list:
    lines = [SECTION_TITLES.get(name, law["法規名稱"])]
    if law.get("英文法規名稱"):
        lines.append("英文名稱：" + law["英文法規名稱"])
    lines.append("法規性質：" + law["法規性質"])
    lines.append("最新異動日期：" + roc_date(law["最新異動日期"]))
    return lines


def to_text(name: str, law: dict, section) -> str:
    out = header(name, law) + [""]
    for kind, a, b in blocks(law, section):
        out.append(a)
        if kind == "article":
            out.append(b)
    return "\n".join(out) + "\n"


def to_docx(name: str, law: dict, section, path: Path) -> None:
    import docx  # python-docx

    doc = docx.Document()
    hdr = header(name, law)
    doc.add_heading(hdr[0], level=0)
    for line in hdr[1:]:
        doc.add_paragraph(line)
    for kind, a, b in blocks(law, section):
        if kind == "heading":
            doc.add_heading(a, level=1)
        else:
            doc.add_heading(a, level=2)
            for line in b.split("\n"):
                doc.add_paragraph(line)
    doc.core_properties.title = hdr[0]
    doc.save(str(path))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True, help="git clone of kong0107/mojLawSplitJSON")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "corpus"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, pcode, section in LAWS:
        law = load(Path(args.repo), pcode)
        if name == LAW_AS_DOCX:
            path = out / f"{name}.docx"
            to_docx(name, law, section, path)
        else:
            path = out / f"{name}.txt"
            path.write_text(to_text(name, law, section), encoding="utf-8")
        print(f"{path.name}\t{law['法規名稱']} ({pcode})\t{law['最新異動日期']}\t{path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
