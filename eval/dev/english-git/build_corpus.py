#!/usr/bin/env python3
"""Build the english-git dev corpus from a git copy of the Pro Git book (progit/progit2).

Usage: python build_corpus.py GIT_DIR [--commit COMMIT] [--out DIR]

GIT_DIR is a (bare) git directory of https://github.com/progit/progit2. Each selected AsciiDoc
section is read with `git show COMMIT:path` and converted to plain Markdown: markup noise removed
(anchors, index terms, includes, images and their captions, block attribute lines), headings, code
blocks, admonitions, tables, links and cross references rewritten in Markdown form; the prose is not
otherwise changed. Standard library only.
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

COMMIT = "55b541e9e6d747208a76a15d1f1e01463093f67b"

# corpus file name -> source path in the repository
SECTIONS = [
    ("01-introduction_what-is-git.md", "book/01-introduction/sections/what-is-git.asc"),
    ("01-introduction_installing.md", "book/01-introduction/sections/installing.asc"),
    ("01-introduction_first-time-setup.md", "book/01-introduction/sections/first-time-setup.asc"),
    ("02-git-basics_recording-changes.md", "book/02-git-basics/sections/recording-changes.asc"),
    ("02-git-basics_viewing-history.md", "book/02-git-basics/sections/viewing-history.asc"),
    ("02-git-basics_undoing.md", "book/02-git-basics/sections/undoing.asc"),
    ("02-git-basics_remotes.md", "book/02-git-basics/sections/remotes.asc"),
    ("02-git-basics_tagging.md", "book/02-git-basics/sections/tagging.asc"),
    ("02-git-basics_aliases.md", "book/02-git-basics/sections/aliases.asc"),
    ("03-git-branching_basic-branching-and-merging.md", "book/03-git-branching/sections/basic-branching-and-merging.asc"),
    ("03-git-branching_branch-management.md", "book/03-git-branching/sections/branch-management.asc"),
    ("03-git-branching_remote-branches.md", "book/03-git-branching/sections/remote-branches.asc"),
    ("03-git-branching_rebasing.md", "book/03-git-branching/sections/rebasing.asc"),
    ("04-git-server_protocols.md", "book/04-git-server/sections/protocols.asc"),
    ("07-git-tools_stashing-cleaning.md", "book/07-git-tools/sections/stashing-cleaning.asc"),
    ("07-git-tools_rewriting-history.md", "book/07-git-tools/sections/rewriting-history.asc"),
    ("07-git-tools_reset.md", "book/07-git-tools/sections/reset.asc"),
    ("07-git-tools_credentials.md", "book/07-git-tools/sections/credentials.asc"),
    ("08-customizing-git_config.md", "book/08-customizing-git/sections/config.asc"),
    ("08-customizing-git_hooks.md", "book/08-customizing-git/sections/hooks.asc"),
    ("10-git-internals_objects.md", "book/10-git-internals/sections/objects.asc"),
    ("10-git-internals_packfiles.md", "book/10-git-internals/sections/packfiles.asc"),
    ("10-git-internals_maintenance.md", "book/10-git-internals/sections/maintenance.asc"),
]

ANCHOR_LINE = re.compile(r"^\[\[([^\],]+)(?:,([^\]]*))?\]\]\s*$|^\[#([^\],\]]+)\]\s*$")
HEADING = re.compile(r"^(={2,6})\s+(.*\S)\s*$")
ATTR_LINE = re.compile(r"^\[[A-Za-z#.%\"][^\]]*\]\s*$")  # [source,console], [NOTE], [cols=...], ...
SOURCE_ATTR = re.compile(r"^\[source\s*(?:,\s*([A-Za-z0-9_+-]+))?[^\]]*\]\s*$")
ADMONITION = re.compile(r"^\[(NOTE|TIP|WARNING|IMPORTANT|CAUTION)\]\s*$")
INDEX_TERM = re.compile(r"\(\(\([^()]*\)\)\)")
XREF = re.compile(r"<<([A-Za-z_][\w.#-]*)(?:,([^<>]+))?>>")
CURLY_QUOTES = re.compile(r'(?<![\w`])"`(?=\S)(.*?)(?<=\S)`"(?![\w`])')
URL_MACRO = re.compile(r"(https?://[^\s\[\]]+)\[([^\]]*)\]")


def git(git_dir, *args):
    return subprocess.run(["git", "--git-dir", git_dir, *args], check=True,
                          capture_output=True).stdout.decode("utf-8")


def anchor_titles(git_dir, commit):
    """Map every anchor id in the book to the title it labels (heading or block caption)."""
    titles = {}
    files = [p for p in git(git_dir, "ls-tree", "-r", "--name-only", commit).splitlines()
             if p.endswith(".asc")]
    for path in files:
        lines = git(git_dir, "show", f"{commit}:{path}").splitlines()
        for i, line in enumerate(lines):
            m = ANCHOR_LINE.match(line)
            if not m:
                continue
            ident = m.group(1) or m.group(3)
            if m.group(2):
                titles[ident] = m.group(2).strip()
                continue
            for nxt in lines[i + 1:i + 4]:
                if ANCHOR_LINE.match(nxt):
                    continue
                h = HEADING.match(nxt)
                if h:
                    titles[ident] = h.group(2)
                elif nxt.startswith(".") and len(nxt) > 1 and nxt[1].isalnum():
                    titles[ident] = nxt[1:].strip()
                break
    return titles


def inline(text, titles):
    """Inline markup of a prose line."""
    text = INDEX_TERM.sub("", text)

    def xref(m):
        target, label = m.group(1), m.group(2)
        if label:
            return label.strip()
        ident = target.split("#", 1)[-1]
        return titles.get(ident, ident)

    text = XREF.sub(xref, text)

    def url(m):
        address, label = m.group(1), m.group(2).rstrip("^").strip()
        return f"{label} ({address})" if label else address

    text = URL_MACRO.sub(url, text)
    text = CURLY_QUOTES.sub(r'"\1"', text)
    text = text.replace("\\*", "*").replace("\\--", "--")
    return text.rstrip()


def convert(src, titles):
    lines = src.splitlines()
    out = []
    i = 0
    pending_lang = None   # language of a [source] attribute waiting for its ---- block
    in_table = False
    table_rows = 0
    while i < len(lines):
        line = lines[i]
        # listing / source block: copied verbatim, except include directives
        if line.strip() == "----":
            out.append("```" + (pending_lang or ""))
            pending_lang = None
            i += 1
            while i < len(lines) and lines[i].strip() != "----":
                if not lines[i].startswith("include::"):
                    out.append(lines[i].rstrip())
                i += 1
            if out[-1].startswith("```"):  # block emptied by a removed include
                out.pop()
            else:
                out.append("```")
            i += 1
            continue
        if in_table:
            if line.startswith("|==="):
                in_table = False
            elif line.startswith("|"):
                cells = [inline(c.strip(), titles) for c in line.strip()[1:].split("|")]
                out.append("| " + " | ".join(cells) + " |")
                table_rows += 1
                if table_rows == 1:
                    out.append("|" + "---|" * len(cells))
            i += 1
            continue
        if line.startswith("|==="):
            in_table, table_rows = True, 0
            i += 1
            continue
        if ANCHOR_LINE.match(line):
            i += 1
            continue
        if line.startswith(("include::", "image::", "ifdef::", "ifndef::", "endif::")):
            i += 1
            continue
        m = ADMONITION.match(line)
        if m:
            out.append(f"**{m.group(1).capitalize()}:**")
            i += 1
            continue
        m = SOURCE_ATTR.match(line)
        if m:
            pending_lang = m.group(1) or ""
            i += 1
            continue
        if ATTR_LINE.match(line):
            i += 1
            continue
        if re.fullmatch(r"={4,}", line.strip()):  # admonition / example block delimiter
            i += 1
            continue
        if line.strip() == "+":  # list continuation
            i += 1
            continue
        # block title: dropped together with its image, otherwise kept as a plain line
        if re.match(r"\.[^.\s]", line):
            j = i + 1
            while j < len(lines) and ANCHOR_LINE.match(lines[j]):
                j += 1
            if j < len(lines) and lines[j].startswith("image::"):
                i = j + 1
                continue
            out.append(inline(line[1:], titles))
            i += 1
            continue
        m = HEADING.match(line)
        if m:
            level = max(1, len(m.group(1)) - 2)
            out.append("#" * level + " " + inline(m.group(2), titles))
            i += 1
            continue
        if line.startswith(". "):
            out.append("1. " + inline(line[2:], titles))
            i += 1
            continue
        out.append(inline(line, titles))
        i += 1
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("git_dir")
    ap.add_argument("--commit", default=COMMIT)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "corpus"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    titles = anchor_titles(args.git_dir, args.commit)
    total = 0
    for name, path in SECTIONS:
        text = convert(git(args.git_dir, "show", f"{args.commit}:{path}"), titles)
        (out / name).write_text(text, encoding="utf-8")
        total += len(text)
        print(f"{len(text):7d}  {name}")
    print(f"{total:7d}  total characters, {len(SECTIONS)} files", file=sys.stderr)


if __name__ == "__main__":
    main()
