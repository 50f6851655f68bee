"""Second names the documents give for a thing, used to widen a search.

Chinese documents often name something once with its other name in brackets: 「晶創26 (Nano
4)」, 「國網中心(NCHC)」, 「Peter Wu (吳漢章)」. A passage elsewhere may use only one of the names
(a TOP500 table row reads 「Nano 4 ASUS ESC…」), and a question using the other finds it by
neither words nor meaning. At index time the pairs are collected from the documents
(`mine_aliases`); at search time a query naming one side also searches for the other
(`Aliases.other_names`). Only Chinese/Latin pairs are taken: a bracket holding Chinese after Chinese
is usually a remark, not a name. A name found in many chunks ("AI" for 人工智慧) would only
add noise to the search and is left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from rag.textnorm import HAN, normalize_for_match, spaceless

ALIASES_FILE = "aliases.json"
_LATIN = r"[A-Za-z][A-Za-z0-9.&\-]*(?: [A-Za-z0-9][A-Za-z0-9.&\-]*){0,4}"
_CHINESE = rf"[{HAN}][{HAN}0-9A-Za-z]{{0,11}}"
_PAIR = re.compile(rf"({_LATIN}|{_CHINESE})\s*[（(]\s*({_LATIN}|{_CHINESE})\s*[)）]")
_HAN_CHAR = re.compile(f"[{HAN}]")
_LETTER = re.compile("[A-Za-z]")
# A name in more chunks than this share (and more than MIN_COMMON of them) is too common to
# tell passages apart.
MAX_CHUNK_SHARE = 0.03
MIN_COMMON = 3
COUNT_SAMPLE = 2000  # chunks read to tell how common a name is
MAX_WORDS_BEFORE = 3  # a longer Latin run before the bracket is cut to words seen again


def _chinese_name(before: str, document: str) -> str | None:
    """The name in a Chinese run that ends at a bracket: the longest ending, starting with a
    Han character, that the document uses again elsewhere (「報導指出輝達」 -> 「輝達」)."""
    for i, ch in enumerate(before):
        candidate = before[i:]
        if len(_HAN_CHAR.findall(candidate)) < 2:
            return None
        if _HAN_CHAR.match(ch) and document.count(candidate) >= 2:
            return candidate
    return None


def _latin_name(before: str, document: str) -> str | None:
    """The name in a Latin run that ends at a bracket: the run itself when short, else its
    longest ending in whole words that the document uses again."""
    words = before.split()
    if len(words) <= MAX_WORDS_BEFORE:
        return before
    for i in range(1, len(words)):
        candidate = " ".join(words[i:])
        if document.count(candidate) >= 2:
            return candidate
    return None


def _pairs_in(document: str) -> Iterable[tuple[str, str]]:
    for match in _PAIR.finditer(document):
        before, inside = match.group(1).strip(), match.group(2).strip()
        latin_before, latin_inside = bool(_LETTER.match(before)), bool(_LETTER.match(inside))
        if latin_before == latin_inside:
            continue
        if latin_before:
            latin, chinese = _latin_name(before, document), inside
        else:
            chinese, latin = _chinese_name(before, document), inside
        if not latin or not chinese or len(_HAN_CHAR.findall(chinese)) < 2:
            continue
        if len(latin) < 2 or not _LETTER.search(latin):
            continue
        yield chinese, latin


def mine_aliases(documents: Sequence[str], chunks: Sequence[str]) -> list[tuple[str, str]]:
    """(Chinese name, Latin name) pairs written 「X (Y)」 or 「Y (X)」 in the documents, both
    names rare enough among the chunks to tell them apart."""
    found: dict[tuple[str, str], None] = {}
    for document in documents:
        for pair in _pairs_in(document):
            found.setdefault(pair, None)
    if not found:
        return []
    # How common a name is, judged on an even sample of the chunks: counting thousands of
    # names through every chunk of a large corpus took over a minute per build.
    sample = chunks[:: max(1, -(-len(chunks) // COUNT_SAMPLE))]
    joined = "\n".join(spaceless(c) for c in sample)
    limit = max(MIN_COMMON, MAX_CHUNK_SHARE * len(sample))
    counts: dict[str, int] = {}

    def common(name: str) -> bool:
        key = spaceless(name)
        if key not in counts:
            counts[key] = joined.count(key)  # occurrences: at least the chunks holding it
        return counts[key] > limit

    return [pair for pair in found if not common(pair[0]) and not common(pair[1])]


def _latin_pattern(name: str) -> re.Pattern[str]:
    """A Latin name as a whole word, its spaces optional (「Nano 4」 matches "nano4")."""
    body = r"\s*".join(re.escape(w) for w in normalize_for_match(name).split())
    return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")


class Aliases:
    """The pairs of one index, and the search-time expansion."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()):
        self.pairs = [(chinese, latin) for chinese, latin in pairs]
        self._keys = [(spaceless(chinese), _latin_pattern(latin)) for chinese, latin in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def other_names(self, query: str) -> list[str]:
        """Names to search for besides `query`: the other side of each pair it names one
        side of and not the other."""
        spaced = normalize_for_match(query)
        key = "".join(spaced.split())
        added: dict[str, None] = {}
        for (chinese, latin), (chinese_key, latin_pattern) in zip(
            self.pairs, self._keys, strict=True
        ):
            has_chinese = chinese_key in key
            has_latin = latin_pattern.search(spaced) is not None
            if has_chinese and not has_latin:
                added.setdefault(latin, None)
            elif has_latin and not has_chinese:
                added.setdefault(chinese, None)
        return list(added)

    def save(self, folder: Path) -> None:
        record = {"version": 1, "pairs": [list(p) for p in self.pairs]}
        (folder / ALIASES_FILE).write_text(
            json.dumps(record, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> Aliases:
        """The pairs saved with a build; none for a build made before they were kept."""
        path = folder / ALIASES_FILE
        if not path.exists():
            return cls()
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        return cls((str(a), str(b)) for a, b in record.get("pairs", []))
