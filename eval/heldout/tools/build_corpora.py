#!/usr/bin/env python3
"""Rebuild the held-out corpora from the public repositories they were taken from.

This documents exactly how every corpus file was made; the committed files are the frozen
reference, so there is no need to run it. Each source repository must be a git directory
(a clone or a bare mirror) at the commit named in the set's SOURCES.md:

    python eval/heldout/tools/build_corpora.py --out /tmp/heldout-rebuild \
        --laws PATH/mojLawSplitJSON.git --rustbook PATH/book-tw.git \
        --cmrc PATH/cmrc2018.git --nist PATH/800-63-3.git

The .txt/.md files come out byte-identical. The DOCX (python-docx) and the PDFs (fpdf2 with
the WenQuanYi Micro Hei font of the Debian package fonts-wqy-microhei) come out with the
same text but a new creation date. python-docx and fpdf2 are needed only for those three
files (pip install python-docx fpdf2); without them they are skipped with a note.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import posixpath
import re
import subprocess
import sys
from pathlib import Path

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


class Repo:
    def __init__(self, git_dir: str, commit: str) -> None:
        self.git_dir, self.commit = git_dir, commit

    def show(self, path: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "--git-dir", self.git_dir, "show", f"{self.commit}:{path}"],
                check=True,
                capture_output=True,
            ).stdout
        except subprocess.CalledProcessError:
            return None
        return out.decode("utf-8")

    def files(self) -> list[str]:
        out = subprocess.run(
            ["git", "--git-dir", self.git_dir, "ls-tree", "-r", "--name-only", self.commit],
            check=True,
            capture_output=True,
        ).stdout.decode("utf-8")
        return [line for line in out.split("\n") if line]


def git_dir(path: str) -> str:
    p = Path(path)
    return str(p / ".git") if (p / ".git").is_dir() else str(p)


# ---------------------------------------------------------------- statutes (mojLawSplitJSON)

LAWS = [
    "N0030001",
    "N0030006",
    "N0030014",
    "N0030018",
    "N0030020",
    "I0050021",
    "K0040012",
    "J0170001",
    "D0070118",
    "L0070021",
]
LAW_AS_DOCX = "性別平等工作法"


def law_text(d: dict) -> str:
    lines = [d["法規名稱"]]
    if d.get("英文法規名稱"):
        lines.append("英文名稱：" + d["英文法規名稱"])
    lines.append("法規性質：" + d["法規性質"])
    u = d["最新異動日期"]
    lines.append(f"最新異動日期：民國 {int(u[:4]) - 1911} 年 {u[4:6]} 月 {u[6:]} 日")
    lines.append("")
    for x in d["法規內容"]:
        if "編章節" in x:
            lines += ["", x["編章節"].strip()]
            continue
        lines.append(x["條號"].strip())
        lines.append(x["條文內容"].replace("\r\n", "\n").replace("\r", "\n").strip())
    return "\n".join(lines).strip() + "\n"


def write_docx(text: str, out: Path) -> None:
    import docx  # python-docx
    from docx.oxml.ns import qn

    lines = text.split("\n")
    d = docx.Document()
    st = d.styles["Normal"]
    st.font.name = "Noto Sans CJK TC"
    st.element.rPr.rFonts.set(qn("w:eastAsia"), "Noto Sans CJK TC")
    d.core_properties.title = lines[0]
    d.core_properties.author = "全國法規資料庫（法務部）"
    d.add_heading(lines[0], 0)
    i = 1
    while lines[i].strip():
        d.add_paragraph(lines[i])
        i += 1
    for ln in lines[i:]:
        if not ln.strip():
            continue
        if re.match(r"^第 [一二三四五六七八九十]+ 章", ln):
            d.add_heading(ln, 1)
        elif re.match(r"^第 \d+(-\d+)? 條$", ln):
            d.add_heading(ln, 2)
        else:
            d.add_paragraph(ln)
    d.save(str(out))


def build_statutes(repo: Repo, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for code in LAWS:
        d = json.loads(repo.show(f"FalVMingLing/{code}.json") or "{}")
        text = law_text(d)
        if d["法規名稱"] == LAW_AS_DOCX:
            try:
                write_docx(text, out / f"{LAW_AS_DOCX}.docx")
            except ImportError:
                print("skipped the DOCX: pip install python-docx", file=sys.stderr)
        else:
            (out / f"{d['法規名稱']}.txt").write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- manual (rust-tw/book-tw)

INCLUDE = re.compile(r"\{\{#(rustdoc_include|include)\s+([^}:\s]+)(?::([^}\s]+))?\s*\}\}")


def anchor(text: str, name: str | None) -> str:
    plain = "\n".join(line for line in text.split("\n") if "ANCHOR" not in line)
    if not name or re.match(r"^\d*(:\d*)?$", name):
        return plain
    out, on = [], False
    for line in text.split("\n"):
        if re.search(rf"ANCHOR:\s*{re.escape(name)}\b", line):
            on = True
            continue
        if re.search(rf"ANCHOR_END:\s*{re.escape(name)}\b", line):
            on = False
            continue
        if on and "ANCHOR" not in line:
            out.append(line)
    return "\n".join(out) if out else plain


def book_markdown(repo: Repo, path: str) -> str:
    t = repo.show(path) or ""

    def include(m: re.Match[str]) -> str:
        c = repo.show(posixpath.normpath(posixpath.join("src", m.group(2))))
        return "" if c is None else anchor(c, m.group(3)).rstrip("\n")

    t = INCLUDE.sub(include, t)
    t = t.replace("<!-- ignore -->", "")
    t = re.sub(r'<span class="(caption|filename)">(.*?)</span>', r"\2", t)
    t = re.sub(r"<!--.*?-->\n?", "", t, flags=re.S)
    return re.sub(r"\n{3,}", "\n\n", t)


def build_manual(repo: Repo, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    chosen = [
        f
        for f in repo.files()
        if f.endswith(".md")
        and re.match(r"src/(ch01|ch03|ch04|ch08|ch09|ch11|ch14)-|src/appendix-0[1457]", f)
    ]
    ch14 = []
    for f in chosen:
        text = book_markdown(repo, f)
        if f.startswith("src/ch14-"):
            ch14.append(text)
        else:
            (out / posixpath.basename(f)).write_text(text, encoding="utf-8")
    try:
        write_pdf(
            ch14,
            out / "ch14-more-about-cargo.pdf",
            header="Rust 程式設計語言（正體中文版）第十四章",
            footer="第 {n} 頁",
            title="Rust 程式設計語言 第十四章 更多關於 Cargo 與 Crates.io 的內容",
            author="The Rust Project Developers; rust-tw 正體中文翻譯",
        )
    except ImportError:
        print("skipped the PDF: pip install fpdf2", file=sys.stderr)


# ---------------------------------------------------------------- PDF writer (fpdf2)

CJK = r"\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
TOKEN = re.compile(rf"[{CJK}]|\s+|[^\s{CJK}]+")


def write_pdf(
    markdown_parts: list[str], out: Path, header: str, footer: str, title: str, author: str
) -> None:
    from fpdf import FPDF

    class Doc(FPDF):
        def header(self) -> None:
            self.set_font("mono", size=8)
            self.cell(0, 6, header, align="R")
            self.ln(8)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("mono", size=8)
            self.cell(0, 8, footer.format(n=self.page_no()), align="C")

    pdf = Doc(format="A4")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, 16)
    pdf.add_font("hei", "", FONT, collection_font_number=0)
    pdf.add_font("mono", "", FONT, collection_font_number=1)
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def clean(s: str) -> str:  # markdown marks out, code spans kept verbatim
        parts = s.split("`")
        for i in range(0, len(parts), 2):
            p = re.sub(r"\*\*(.+?)\*\*", r"\1", parts[i])
            parts[i] = re.sub(r"(?<![\w*])\*(\S.*?)\*", r"\1", p)
        s = "".join(parts)
        s = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", s)
        s = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", s)
        return re.sub(r"!\[[^\]]*\]\[?[^\]]*\]?", "", s)

    def wrap(
        text: str,
    ) -> list[str]:  # break between CJK characters or at spaces, never inside a word
        lines, cur = [], ""
        for tok in TOKEN.findall(text):
            if pdf.get_string_width(cur + tok) <= width or not cur.strip():
                cur += tok
                while pdf.get_string_width(cur) > width:
                    k = len(cur)
                    while k > 1 and pdf.get_string_width(cur[:k]) > width:
                        k -= 1
                    lines.append(cur[:k])
                    cur = cur[k:]
            else:
                lines.append(cur.rstrip())
                cur = tok.lstrip()
        if cur.strip() or not lines:
            lines.append(cur.rstrip())
        return lines

    def block(h: float, text: str) -> None:
        for line in wrap(text):
            pdf.cell(width, h, line, new_x="LMARGIN", new_y="NEXT")

    for md in markdown_parts:
        in_code = False
        para: list[str] = []

        def flush() -> None:
            nonlocal para
            if para:
                pdf.set_font("hei", size=10.5)
                cjk_only = all(re.match(r"^[\u3000-\u9fff\uff00-\uffef]", p) for p in para)
                block(6.2, clean(("" if cjk_only else " ").join(para)))
                pdf.ln(2)
            para = []

        for ln in md.split("\n"):
            if ln.startswith("```"):
                flush()
                in_code = not in_code
                if not in_code:
                    pdf.ln(2)
                continue
            if in_code:
                pdf.set_font("mono", size=8.5)
                block(4.6, ln if ln else " ")
                continue
            if re.match(r"^\[[^\]]+\]:\s", ln):
                continue
            m = re.match(r"^(#+)\s+(.*)", ln)
            if m:
                flush()
                pdf.ln(2)
                pdf.set_font("hei", size={1: 17, 2: 14, 3: 12}.get(len(m.group(1)), 11))
                block(8, clean(m.group(2)))
                pdf.ln(1)
                continue
            if not ln.strip():
                flush()
                continue
            if re.match(r"^\s*([*-]|\d+\.)\s", ln) or ln.startswith("|") or ln.startswith(">"):
                flush()
                s = ln.lstrip("> ").strip()
                if re.match(r"^\|?[-| :]+\|?$", s):
                    continue
                s = re.sub(r"^[*-]\s", "・", s)
                if ln.startswith("|"):
                    s = " ".join(c.strip() for c in s.strip("|").split("|"))
                pdf.set_font("hei", size=10.5)
                block(6.2, clean(s))
                continue
            para.append(ln.strip())
        flush()
    pdf.output(str(out))


# ---------------------------------------------------------------- zh-hans (CMRC 2018 dev set)

CMRC_TITLES = [
    "北土城站",
    "巴沟站",
    "苏州街站",
    "海淀黄庄站",
    "西土城站 (北京市)",
    "安贞门站",
    "三元桥站",
    "呼家楼站",
    "劲松站 (北京市)",
    "广茂铁路",
    "大莱龙铁路",
    "德龙烟铁路",
    "龙烟铁路",
    "津蓟铁路",
    "河茂铁路",
    "黑褐新箭雀鲷",
    "班卡雀鲷",
    "霓虹雀鲷",
    "颊鳞雀鲷",
    "黄鳍雀鲷",
    "白尾雀鲷",
    "沼鹿",
    "克什米尔马鹿",
    "坡鹿",
    "波斯黇鹿",
    "新角龙类",
    "冠饰角龙类",
    "结头龙属",
    "隐面龙属",
    "威拉弗龙属",
    "乌拉嘎龙属",
    "环氧氯丙烷",
    "乙烯醇",
    "乙二醛",
    "硫醚",
    "甲醇钠",
    "氯化铷",
    "氢化锂",
    "硼砂",
    "三氯化氮",
    "四氟化碳",
    "鑫诺一号通信卫星",
    "鑫诺二号通信卫星",
    "鑫诺卫星通信",
    "中国空间技术研究院",
    "印度空间研究组织",
    "进步号太空船",
    "底特律圣保罗座堂",
    "底特律圣公会三一堂",
    "底特律第二浸信会教堂",
    "佛堂门天后古庙",
    "鲤鱼门天后庙",
    "深水埗关帝庙",
    "威尔特郡",
    "柴郡",
    "斯塔福德郡",
    "诺丁汉郡",
    "西米德兰兹郡",
    "林肯郡",
    "拉里·约翰逊 (1969年出生)",
    "肖恩·布拉德利",
    "杰里·卢卡斯",
    "厄尔·门罗",
    "拉尔夫·桑普森",
    "佩维斯·埃里森",
    "皮纳图博火山",
    "瑞尼尔山",
    "堰塞湖",
    "塔乌鲁火山",
    "太浩湖",
    "上海轨道交通16号线 (2010年前)",
    "上海轨道交通17号线 (2010年前)",
    "上海轨道交通18号线",
    "亨丁顿舞蹈症",
    "伊维菌素",
    "庆大霉素",
    "色林错",
    "当惹雍错",
    "郯城大地震",
    "岩手宫城内陆地震",
]


def build_zh_hans(repo: Repo, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = json.loads(repo.show("squad-style-data/cmrc2018_dev.json") or "{}")
    by_title = {a["title"]: a for a in data["data"]}
    for title in CMRC_TITLES:
        context = by_title[title]["paragraphs"][0]["context"]
        name = title.replace(" (", "（").replace(")", "）") + ".txt"
        (out / name).write_text(title + "\n\n" + context.strip() + "\n", encoding="utf-8")


# ---------------------------------------------------------------- english (usnistgov/800-63-3)


def nist_markdown(t: str) -> str:
    t = re.sub(r"^---\n.*?\n---\n", "", t, flags=re.S)
    t = re.sub(r'<a name="[^"]*">\s*</a>', "", t)
    t = re.sub(r"<img[^>]*>", "", t)
    t = re.sub(
        r"</?(div|table|tr|td|th|i|b|em|strong|span|br|sup|sub|p|ul|li|ol|tbody|thead|center)[^>]*>",
        "",
        t,
    )
    t = re.sub(r"\[(\[[^\]]+\])\]\([^)]*\)", r"\1", t)
    t = re.sub(r"\[([^\]]+)\]\(#[^)]*\)", r"\1", t)
    t = html.unescape(t)
    t = re.sub(r"[ \t]+\n", "\n", t)
    return re.sub(r"\n{3,}", "\n\n", t).strip() + "\n"


def build_english(repo: Repo, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(repo.files()):
        if not (re.match(r"sp800-63(-3|a|b|c)/(sec\d|app|definitions)", f) and f.endswith(".md")):
            continue
        if "sec3_definitions" in f or "references" in f:
            continue
        doc, sec = f.split("/")
        text = nist_markdown(repo.show(f) or "")
        if f == "sp800-63b/appA_memorized.md":
            try:
                write_pdf(
                    [text],
                    out / "sp800-63b_appA_memorized.pdf",
                    header="NIST SP 800-63B Digital Identity Guidelines",
                    footer="Page {n}",
                    title="NIST SP 800-63B Appendix A: Strength of Memorized Secrets",
                    author="National Institute of Standards and Technology",
                )
            except ImportError:
                print("skipped the PDF: pip install fpdf2", file=sys.stderr)
            continue
        (out / f"{doc}_{sec[:-3]}.md").write_text(text, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", required=True, help="folder to write <set>/corpus/ into")
    ap.add_argument("--laws", help="git dir of kong0107/mojLawSplitJSON")
    ap.add_argument("--rustbook", help="git dir of rust-tw/book-tw")
    ap.add_argument("--cmrc", help="git dir of ymcui/cmrc2018")
    ap.add_argument("--nist", help="git dir of usnistgov/800-63-3")
    args = ap.parse_args()
    out = Path(args.out)
    if args.laws:
        build_statutes(
            Repo(git_dir(args.laws), "0d26e6c7c759821bbb6465162ffe149af5aed203"),
            out / "statutes" / "corpus",
        )
    if args.rustbook:
        build_manual(
            Repo(git_dir(args.rustbook), "afbe069ce8d83343758a7d2837ef16630c7029e3"),
            out / "manual" / "corpus",
        )
    if args.cmrc:
        build_zh_hans(
            Repo(git_dir(args.cmrc), "c0eb1b6ba219847457e6af3180da722bbeb656af"),
            out / "zh-hans" / "corpus",
        )
    if args.nist:
        build_english(
            Repo(git_dir(args.nist), "ce8ada6277a2948308d85b16a4c568874f7d5abb"),
            out / "english" / "corpus",
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
