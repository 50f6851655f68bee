"""Answer a question: retrieve, prompt, generate, check citations, refuse or convert script.

What reaches the user is decided here, in code: the model's markers, refusals and script are
checked or converted, never trusted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.answer.guard import mask_instructions
from rag.answer.prompts import (
    NO_LLM_NOTICE,
    PROMPTS,
    REFUSAL_MARKERS,
    TRANSLATE_QUESTION,
    TRANSLATE_TO_ENGLISH,
    build_messages,
)
from rag.check.cite import (
    SUPPORT_THRESHOLD,
    CheckedSentence,
    CheckResult,
    Similarity,
    answer_type_missing,
    asked_office,
    asks_money,
    check_citations,
    chinese_numerals_as_digits,
    grams,
    named_terms,
    names_office,
    numbers,
    passage_numbers,
    relevance,
    repair_copying,
    states_money,
    strip_markers,
)
from rag.generate.llama import Generator
from rag.index.build import embed_text
from rag.ingest.chunking import linearize_tables, location
from rag.ingest.chunking import split_sentences as split_source_sentences
from rag.retrieve.retriever import Hit, Retriever
from rag.textnorm import (
    Script,
    detect_script,
    han_share,
    normalize_for_match,
    spaceless,
    to_simplified,
    to_traditional,
)

if TYPE_CHECKING:
    from rag.settings import Settings

# e5 cosine between an English sentence and a Chinese passage: below LOW is unrelated, at
# HIGH or above the passage says the same thing. Scaled to [0, 1] to compare with overlap.
SEMANTIC_LOW = 0.80
SEMANTIC_HIGH = 0.88


@dataclass(frozen=True)
class Citation:
    n: int
    source: str
    start: int
    end: int
    text: str
    # Where the passage is in its file (chunks never cross a page, slide or section).
    page: int | None = None
    slide: int | None = None
    section: str | None = None

    def location(self) -> dict[str, object]:
        return location(self.page, self.slide, self.section)

    def to_json(self) -> dict[str, object]:
        fields = {"n": self.n, "source": self.source, "start": self.start, "end": self.end}
        return {**fields, **self.location(), "text": self.text}


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    script: Script
    mode: str  # "llm" or "extractive"
    citations: list[Citation] = field(default_factory=list)
    sentences: list[CheckedSentence] = field(default_factory=list)
    retrieved: list[Hit] = field(default_factory=list)
    timings: dict[str, float | None] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    raw_answer: str = ""
    standalone_question: str | None = None
    translated_question: str | None = None
    also_searched: list[str] = field(default_factory=list)
    relevance: float | None = None
    retried: bool = False  # the model said the passages do not answer, then was asked again
    looked_further: bool = False  # answered from the passages after the first top_k

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "translated_question": self.translated_question,
            "also_searched": self.also_searched,
            "answer": self.answer,
            "refused": self.refused,
            "script": self.script,
            "mode": self.mode,
            "citations": [c.to_json() for c in self.citations],
            "sentences": [
                {
                    "text": s.text,
                    "citations": s.citations,
                    "supported": s.supported,
                    "repaired": s.repaired,
                    "support": round(s.support, 3),
                }
                for s in self.sentences
            ],
            "retrieved": [
                {
                    "n": h.rank,
                    "source": h.source,
                    "start": h.chunk.start,
                    "end": h.chunk.end,
                    **h.chunk.location(),
                    "score": round(h.score, 4),
                    "text": h.chunk.text,
                }
                for h in self.retrieved
            ],
            "raw_answer": self.raw_answer,
            "retried": self.retried,
            "looked_further": self.looked_further,
            "relevance": None if self.relevance is None else round(self.relevance, 3),
            "timings": self.timings,
            "model": self.model,
        }


# Share of Chinese characters among the letters of the passages from which an English
# question is answered through a Chinese draft. A table row such as 「| 29 | Nano4 (晶創26) |
# 國網中心(NCHC) | ASUSTeK |」 is about a quarter Chinese, and the small model answers it in
# English no better than prose (eval/RESULTS.md).
BRIDGE_HAN_SHARE = 0.15


def to_script(text: str, script: Script, keep: frozenset[str] = frozenset()) -> str:
    """Write Chinese text in the question's script (Taiwan wording for Traditional).

    Characters in `keep` (those of the passages) stay as written when the conversion is
    one-to-one, so that 台灣 copied from a document does not become 臺灣.
    """
    if script == "english":
        return text
    converted = to_traditional(text) if script == "traditional" else to_simplified(text)
    if not keep or len(converted) != len(text):
        return converted
    return "".join(o if o in keep else c for o, c in zip(text, converted, strict=True))


def passage_text(hit: Hit) -> str:
    """A passage as checked: its table header if any, then its text, line breaks kept."""
    return embed_text(hit.chunk)


def prompt_text(passage: str, script: Script) -> str:
    """A passage as the model reads it: on one line, table rows as 「header: value」, in the
    question's script, without sentences that give orders to an assistant (rag.answer.guard). Shown
    Traditional passages for a Simplified question, the model tends to say they hold
    nothing."""
    flat = " ".join(linearize_tables(mask_instructions(passage)).split())
    return to_script(flat, script) if script == "simplified" else flat


def is_refusal(text: str) -> bool:
    norm = normalize_for_match(text)
    return any(marker in norm for marker in REFUSAL_MARKERS)


def _no_answer(text: str) -> bool:
    """A refusal, or a reply of nothing but passage numbers (「[4]」)."""
    return not strip_markers(text).strip() or is_refusal(text)


_LEAD = re.compile(r"^[\s\[【［\]】］\d,，、]*")


# What a reply may be the start of while nothing is shown: the refusal markers and each
# language's whole refusal phrase ("The documents do not contain…" starts with no marker).
_HELD_BACK = tuple(
    dict.fromkeys(spaceless(t) for t in (*REFUSAL_MARKERS, *(p.refusal for p in PROMPTS.values())))
)


def _lead_norm(text: str) -> str:
    """A reply's start as compared with refusal phrases: markers and spaces aside."""
    return spaceless(_LEAD.sub("", text))


def _may_become_refusal(text: str) -> bool:
    """Whether a reply so far (markers and spaces aside) is still the start of a refusal
    phrase: nothing is shown until it is not."""
    norm = _lead_norm(text)
    return any(phrase.startswith(norm) for phrase in _HELD_BACK)


@dataclass
class Verdict:
    refused: bool
    reason: str
    checked: CheckResult | None = None
    relevance: float | None = None

    @property
    def kept(self) -> CheckResult:
        """Only the supported sentences: what the user is shown."""
        assert self.checked is not None
        return CheckResult(
            [s for s in self.checked.sentences if s.supported], self.checked.dropped_markers
        )


def judge(
    question: str,
    script: Script,
    raw: str,
    passages: Sequence[str],
    threshold: float = SUPPORT_THRESHOLD,
    similarity: Similarity | None = None,
    documents: Sequence[str] | None = None,
) -> Verdict:
    """Decide in code whether a model's answer stands: refused when the model says the
    passages do not answer, when no sentence is supported by a cited passage, when the question
    asks for a sum of money and the answer states none, or (Chinese questions) when the cited
    passages' documents (`documents[i]`: the whole text of passage i's document) never mention
    a term the question names, or the question asks who holds an office (「董事長是誰」) and
    no cited passage names it. Unsupported sentences are dropped from what is kept."""
    if not raw or is_refusal(raw):
        return Verdict(True, "model refused")
    checked = check_citations(raw, passages, threshold, similarity, question=question)
    if not checked.any_supported:
        return Verdict(True, "no supported sentence", checked)
    kept = " ".join(s.text for s in checked.sentences if s.supported)
    if asks_money(question) and not states_money(kept):
        return Verdict(True, "the question asks for a sum and the answer states none", checked)
    wanted = answer_type_missing(question, kept)
    if wanted:
        return Verdict(True, f"the question asks for {wanted} and the answer gives none", checked)
    score = None
    if script != "english":
        cited_ns = sorted({n for s in checked.sentences for n in s.citations})
        scope = documents if documents is not None else passages
        seen = spaceless("".join(scope[n - 1] for n in cited_ns))
        missing = sorted(t for t in named_terms(question) if "".join(t.split()) not in seen)
        if missing:
            return Verdict(True, f"the cited documents never mention {', '.join(missing)}", checked)
        cited = [passages[n - 1] for s in checked.sentences for n in s.citations]
        office = asked_office(question)
        if office and not names_office(office, cited):
            reason = f"the question asks who is {office[0]} and no cited passage names it"
            return Verdict(True, reason, checked)
        # Reported, not a gate: how much of the question the best cited passage covers. A
        # floor on it refused more correct answers than inventions (eval/RESULTS.md).
        score = max(relevance(question, p) for p in cited)
    return Verdict(False, "supported", checked, score)


@dataclass
class _Attempt:
    """One reading of some passages by the model: its reply and the verdict on it."""

    raw: str
    first: float | None  # when its first piece was shown (None: never)
    retried: bool
    stats: dict[str, Any]
    verdict: Verdict
    bridged: bool
    offset: int  # how many retrieved passages come before these


# What a rewritten follow-up must contain to be taken as a question (normalised forms).
_QUESTION_LIKE = re.compile(
    r"[?？]|什么|谁|哪|多少|几|如何|怎|为什么|为何|吗|呢|是否"
    r"|\b(?:what|who|whom|whose|which|when|where|why|how|is|are|was|were|do|does|did|can)\b"
)


# Characters (spaces and markers aside) from which a refusal begun and abandoned is cut.
_ABANDONED_MIN = 8


def _abandoned_refusal(text: str) -> int:
    """How many leading characters of a reply are a refusal begun and then abandoned for an
    answer ("The documents do not contain this[1] SuedLink will…", seen over English
    documents): that start says the opposite of what follows. 0 when there is none."""
    end = 0  # a longer start can only be a refusal phrase's start if a shorter one is
    while end < len(text) and _may_become_refusal(text[: end + 1]):
        end += 1
    return end if len(_lead_norm(text[:end])) >= _ABANDONED_MIN else 0


class Answerer:
    """Holds the retriever and (optionally) a generator; both stay loaded between questions.

    With `look_further`, a question the first `top_k` passages do not answer (the model
    says so, or its answer is refused by the checks) is asked once more over the next `top_k`
    passages before it is refused.
    """

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator | None,
        top_k: int = 4,
        max_tokens: int = 256,
        threshold: float = SUPPORT_THRESHOLD,
        look_further: bool = False,
    ):
        self.retriever = retriever
        self.generator = generator
        self.top_k = top_k
        self.look_further = look_further
        # Told (one line) when the answer takes a second reading: the user waits longer.
        self.on_status: Callable[[str], None] | None = None
        self.max_tokens = max_tokens
        self.threshold = threshold
        self._chinese_corpus: bool | None = None

    @classmethod
    def from_settings(
        cls, retriever: Retriever, generator: Generator | None, settings: Settings
    ) -> Answerer:
        return cls(
            retriever,
            generator,
            settings.answer_k,
            settings.max_tokens,
            look_further=settings.look_further,
        )

    def ask(
        self,
        question: str,
        on_token: Callable[[str], None] | None = None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Answer:
        script = detect_script(question)
        standalone = None
        if history and self.generator is not None:
            standalone = self.rewrite(question, history, script)
            if self.on_status and standalone != question:
                self.on_status(f"(searched for: {standalone})")
        query = standalone or question
        translated = None
        translate_s = 0.0
        if script == "english" and self.generator is not None and self.chinese_corpus():
            begun = time.perf_counter()
            translated = self.translate_question(query)
            translate_s = time.perf_counter() - begun
        started = time.perf_counter()
        wanted = self.top_k * 2 if self.look_further and self.generator is not None else self.top_k
        hits = self.retriever.search(f"{query}\n{translated}" if translated else query, wanted)
        retrieve_s = time.perf_counter() - started
        if self.on_status and self.retriever.last_other_names:
            self.on_status(f"(also searched for: {', '.join(self.retriever.last_other_names)})")
        if self.generator is None:
            answer = self._extractive(question, script, hits)
        else:
            # The model sees the standalone question: it is not shown the conversation.
            answer = self._generate(query, script, hits, on_token)
            answer.question = question
        answer.standalone_question = standalone
        answer.translated_question = translated
        answer.also_searched = list(self.retriever.last_other_names)
        answer.timings["retrieve_s"] = round(retrieve_s, 4)
        if translated is not None:
            # The user waits for the translation too: it counts to the first token.
            answer.timings["translate_question_s"] = round(translate_s, 3)
            ttft = answer.timings.get("ttft_s")
            if ttft is not None:
                answer.timings["ttft_s"] = round(ttft + translate_s + retrieve_s, 3)
        return answer

    def chinese_corpus(self) -> bool:
        """Whether the index is mostly Chinese text (judged once, on up to 2,000 chunks)."""
        if self._chinese_corpus is None:
            chunks = self.retriever.index.chunks[:2000]
            share = han_share([c.text for c in chunks])
            self._chinese_corpus = share >= BRIDGE_HAN_SHARE
        return self._chinese_corpus

    def translate_question(self, question: str) -> str | None:
        """The question in Traditional Chinese, for retrieval; None when the model gives
        nothing usable."""
        assert self.generator is not None
        prompt = TRANSLATE_QUESTION.format(text=question)
        pieces = self.generator.stream([{"role": "user", "content": prompt}], 80, stop=["\n"])
        text = to_traditional(_clean_translation("".join(pieces)))
        return text if text and han_share([text]) >= BRIDGE_HAN_SHARE else None

    def rewrite(self, question: str, history: Sequence[tuple[str, str]], script: Script) -> str:
        """A follow-up question rewritten into a standalone one, using recent turns."""
        assert self.generator is not None
        turns = "\n".join(f"Q: {q}\nA: {a}" for q, a in list(history)[-3:])
        prompt = PROMPTS[script].rewrite.format(history=turns, question=question)
        pieces = self.generator.stream([{"role": "user", "content": prompt}], 64, stop=["\n"])
        rewritten = "".join(pieces).strip().strip("「」\"'")
        last = list(history)[-1][0]
        asks = _QUESTION_LIKE.search(normalize_for_match(rewritten))
        if not asks or len(rewritten) > 2 * (len(question) + len(last)) + 20:
            # The small default model sometimes answers or copies the last answer instead
            # (seen: a slide's title block for 「他還擔任什麼職務？」): the last question with
            # the follow-up still says what it is about.
            return f"{last} {question}"
        return to_script(rewritten, script)

    def _generate(
        self,
        question: str,
        script: Script,
        hits: list[Hit],
        on_token: Callable[[str], None] | None,
    ) -> Answer:
        assert self.generator is not None
        started = time.perf_counter()
        first_hits = hits[: self.top_k]
        attempt = self._attempt(question, script, first_hits, 0, on_token)
        considered = first_hits
        further = hits[self.top_k :]
        if attempt.verdict.refused and further:
            # The first passages did not answer: read the next ones before refusing. Streamed
            # only when nothing of the first reply was shown (a refusal is never shown).
            shown = on_token if attempt.first is None else None
            if self.on_status:
                k = self.top_k
                self.on_status(
                    f"(passages 1-{k} do not answer this; reading {k + 1}-{k + len(further)})"
                )
            second = self._attempt(question, script, further, self.top_k, shown, retry=False)
            considered = hits
            if not second.verdict.refused:
                # Not streamed: the user first sees it once it is checked.
                attempt = second if shown else replace(second, first=None)
        finished = time.perf_counter()
        raw, first, verdict = attempt.raw, attempt.first, attempt.verdict
        info = self.generator.model_info()
        timings: dict[str, float | None] = {
            "ttft_s": None if first is None else round(first - started, 3),
            "generate_s": round(finished - started, 3),
        }
        for key in ("tokens_per_s", "prompt_tokens", "cached_tokens", "tokens"):
            timings[key] = attempt.stats.get(key)
        answer = Answer(question, raw, False, script, "llm", retrieved=considered, model=info)
        answer.raw_answer, answer.timings, answer.retried = raw, timings, attempt.retried
        answer.looked_further = attempt.offset > 0
        answer.sentences = verdict.checked.sentences if verdict.checked else []
        answer.relevance = verdict.relevance
        if attempt.bridged:
            timings["draft_s"] = timings["generate_s"]
        if verdict.refused:
            if first is None or attempt.bridged:  # nothing was shown before the refusal
                timings["ttft_s"] = timings["generate_s"]
            return self._refuse(answer)
        kept = verdict.kept
        if attempt.bridged:
            kept, shown_at = self._translate(kept, on_token)
            # What the user first sees is the translation: time to first token counts to it.
            timings["ttft_s"] = round(shown_at - started, 3)
            timings["generate_s"] = round(time.perf_counter() - started, 3)
            answer.sentences = kept.sentences
        elif first is None:  # read further without streaming: shown once checked
            timings["ttft_s"] = timings["generate_s"]
        answer.answer = kept.answer
        answer.citations = [_citation(n, hits[n - 1]) for n in kept.cited]
        return answer

    def _attempt(
        self,
        question: str,
        script: Script,
        hits: list[Hit],
        offset: int,
        on_token: Callable[[str], None] | None,
        retry: bool = True,
    ) -> _Attempt:
        """The model's reply from `hits` (retried once if it says they do not answer) and
        its verdict. Citations are renumbered by `offset`: the hits' places among all those
        retrieved."""
        assert self.generator is not None
        passages = [passage_text(h) for h in hits]
        # An English question over Chinese passages is answered in Chinese, checked, and the
        # checked sentences translated (rag.answer.prompts.TRANSLATE_TO_ENGLISH says why).
        bridged = script == "english" and han_share(passages) >= BRIDGE_HAN_SHARE
        frame: Script = "traditional" if bridged else script
        keep = frozenset("".join(passages)) if frame == "traditional" else frozenset()
        # The model reads the passages in the question's script: shown Traditional passages
        # for a Simplified question, it tends to answer that the passages say nothing.
        readable = [prompt_text(p, frame) for p in passages]
        numbered = list(enumerate(readable, start=1))
        messages = build_messages(PROMPTS[frame], question, numbered)
        shown = None if bridged else on_token
        raw, first = self._draft(messages, frame, keep, shown)
        stats = self._last_stats()
        retried = False
        if retry and _no_answer(raw):
            # The small default model says 「資料中沒有相關資訊」 for answers that are in the
            # passages (8 of 20 false refusals in eval/RESULTS.md, session 3). Asked once more
            # without that way out, it answered half of those; what it says then is judged
            # like any answer, and an invented one is refused by the checks below.
            again = build_messages(
                replace(PROMPTS[frame], rules=PROMPTS[frame].retry_rules), question, numbered
            )
            second, second_first = self._draft(again, frame, keep, shown, reuse=True)
            if not _no_answer(second):
                raw, first, retried = second, second_first, True
                stats = self._last_stats()
        verdict = judge(
            question,
            script,
            # What is checked and shown, with characters miscopied from the passages put back.
            repair_copying(raw, [*readable, question]),
            passages,
            self.threshold,
            self._similarity(hits),
            [self.retriever.index.document_text(h.chunk.doc_id) for h in hits],
        )
        if offset and verdict.checked is not None:
            verdict.checked = CheckResult(
                [
                    replace(s, citations=[n + offset for n in s.citations])
                    for s in verdict.checked.sentences
                ],
                [n + offset for n in verdict.checked.dropped_markers],
            )
        return _Attempt(raw, first, retried, stats, verdict, bridged, offset)

    def _draft(
        self,
        messages: list[dict[str, str]],
        frame: Script,
        keep: frozenset[str],
        on_token: Callable[[str], None] | None,
        reuse: bool = False,
    ) -> tuple[str, float | None]:
        """One reply of the model in `frame`'s script, and when its first piece was shown
        (None: never). Pieces are held back while the reply may still be the refusal phrase,
        so a refusal that is retried is never shown, and generation stops once it is one."""
        assert self.generator is not None
        pieces: list[str] = []
        first: float | None = None
        dropped = 0  # characters of an abandoned refusal start, never shown
        stream = self.generator.stream(messages, self.max_tokens, reuse_prompt=reuse)
        try:
            for piece in stream:
                pieces.append(to_script(piece, frame, keep))
                text = "".join(pieces)
                if is_refusal(text):
                    break
                if first is None and not _may_become_refusal(text):
                    first = time.perf_counter()
                    dropped = _abandoned_refusal(text)
                    if on_token:
                        on_token(text[dropped:].lstrip())
                elif first is not None and on_token:
                    on_token(pieces[-1])
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()  # ends the model's generation and records its timings
        return "".join(pieces)[dropped:].strip(), first

    def _last_stats(self) -> dict[str, Any]:
        last = getattr(self.generator, "last_timings", None)
        return last.as_dict() if last is not None else {}

    def _translate(
        self, kept: CheckResult, on_token: Callable[[str], None] | None
    ) -> tuple[CheckResult, float]:
        """Each checked Chinese sentence in English, streamed, with its citations put back in
        code, and when the first piece was shown. A translation that states a number the
        sentence does not is discarded and the checked Chinese sentence shown instead."""
        assert self.generator is not None
        first: float | None = None
        out: list[CheckedSentence] = []
        for sentence in kept.sentences:
            prompt = TRANSLATE_TO_ENGLISH.format(text=western_amounts(sentence.text))
            pieces: list[str] = []
            for piece in self.generator.stream([{"role": "user", "content": prompt}], 160):
                first = first or time.perf_counter()
                pieces.append(piece)
                if on_token:
                    on_token(piece)
            english = _clean_translation("".join(pieces))
            text = english if english and _keeps_numbers(english, sentence.text) else sentence.text
            if on_token:
                on_token("".join(f"[{n}]" for n in sentence.citations) + " ")
            out.append(replace(sentence, text=text))
        return CheckResult(out, kept.dropped_markers), first or time.perf_counter()

    def _refuse(self, answer: Answer) -> Answer:
        answer.answer = PROMPTS[answer.script].refusal
        answer.refused = True
        answer.citations = []
        return answer

    def _similarity(self, hits: list[Hit]) -> Callable[[str, Sequence[str]], list[float]] | None:
        """Cross-language support: e5 cosine of a sentence against the cited chunks."""
        embedder = self.retriever.embedder
        if embedder is None or any(h.position < 0 for h in hits):
            return None
        vectors = np.asarray(self.retriever.index.vectors()[[h.position for h in hits]])

        def similarity(sentence: str, _passages: Sequence[str]) -> list[float]:
            cosines = vectors @ embedder.embed_query(sentence)
            scaled = (cosines - SEMANTIC_LOW) / (SEMANTIC_HIGH - SEMANTIC_LOW)
            return [float(x) for x in np.clip(scaled, 0.0, 1.0)]

        return similarity

    def _extractive(self, question: str, script: Script, hits: list[Hit]) -> Answer:
        """The retrieved sentences that share most with the question, each cited."""
        wanted = grams(question)
        scored: list[tuple[float, int, int, int]] = []  # (score, hit index, start, end)
        for i, hit in enumerate(hits):
            chunk = hit.chunk
            for start, end in split_source_sentences(chunk.text):
                overlap = len(wanted & grams(chunk.text[start:end])) / max(1, len(wanted))
                # Earlier passages were ranked higher by retrieval: a small tie-breaking prior.
                scored.append((overlap + 0.05 * (len(hits) - i), i, start, end))
        scored.sort(reverse=True)
        chosen = sorted(scored[:2], key=lambda s: (s[1], s[2]))
        answer = Answer(question, "", False, script, "extractive", retrieved=hits)
        if not chosen:
            return self._refuse(answer)
        parts, citations = [], []
        for _, i, start, end in chosen:
            hit = hits[i]
            text = hit.chunk.text[start:end]
            flat = " ".join(text.split())
            # Quote as written when the document is already in the question's script.
            shown = flat if detect_script(flat) == script else to_script(flat, script)
            parts.append(f"{shown}[{hit.rank}]")
            citations.append(
                Citation(
                    hit.rank,
                    hit.source,
                    hit.chunk.start + start,
                    hit.chunk.start + end,
                    text,
                    **hit.chunk.location(),  # type: ignore[arg-type]
                )
            )
        answer.answer = NO_LLM_NOTICE[script] + "\n" + "\n".join(parts)
        answer.citations = citations
        answer.sentences = [
            CheckedSentence(p, [c.n], True, False, 1.0)
            for p, c in zip(parts, citations, strict=True)
        ]
        return answer


_LABEL = re.compile(r"^\s*(?:translation|english|answer)\s*[:：]\s*", re.IGNORECASE)
# Chinese number words and the factor they scale by, for numbers a translation may rescale:
# 12.5億 is 1.25 billion, 7成 is 70%.
_SCALES = {"亿": 1e8, "万": 1e4, "成": 10.0}
_SCALED = re.compile(r"(\d+(?:\.\d+)?)\s*([亿万成])")


# A Chinese amount in 萬 (10^4) or 億 (10^8), in digits or numerals with a digit among them
# (「千萬不要」 and 「十萬火急」 are no amounts); 萬億 is left alone.
_CN_AMOUNT = re.compile(
    r"(\d[\d,]*(?:\.\d+)?|[零〇一二兩两三四五六七八九十百千]*[一二兩两三四五六七八九][零〇一二兩两三四五六七八九十百千]*)"
    r"\s*([億亿萬万])(?![億亿])"
)


def _in_english_scale(amount: float) -> str:
    """1.25e9 -> '1.25 billion', 7.7e8 -> '770 million', 1e4 -> '10,000'."""
    for scale, word in ((1e9, "billion"), (1e6, "million")):
        if amount >= scale:
            return f"{round(amount / scale, 6):g} {word}"
    return f"{round(amount):,}" if amount == round(amount) else f"{amount:g}"


def western_amounts(text: str) -> str:
    """Chinese amounts rewritten in thousands, millions and billions before a sentence is
    translated: 「12.5 億美元」 -> 「1.25 billion 美元」. Asked to translate 12.5億 the default
    model writes "12.5 billion" (ten times too much); given 1.25 billion it copies it."""

    def rewrite(match: re.Match[str]) -> str:
        number, unit = match.group(1), normalize_for_match(match.group(2))
        digits = number.replace(",", "")
        if not digits[0].isdigit():
            digits = chinese_numerals_as_digits(normalize_for_match(digits))
        return _in_english_scale(float(digits) * _SCALES[unit]) + " "

    return _CN_AMOUNT.sub(rewrite, text)


def _clean_translation(text: str) -> str:
    """The translation alone: first line, no label, no quotes or markers the model added."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    first = _LABEL.sub("", lines[0]) if lines else ""
    return strip_markers(first).strip().strip("\"'“”「」").strip()


# An English amount with a scale word, the number in digits or words: "12.5 billion",
# "one million", "ten thousand", "a hundred million".
_EN_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_EN_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_EN_SCALED = re.compile(
    rf"\b(\d+(?:\.\d+)?|{'|'.join(_EN_NUMBER_WORDS)})\s+(hundred\s+)?"
    rf"({'|'.join(_EN_SCALES)})\b"
)


def _english_amounts(english: str) -> list[float]:
    """The values of the English amounts with a scale word: "12.5 billion" is 1.25e10."""
    found = []
    for number, hundred, scale in _EN_SCALED.findall(english.lower().replace(",", "")):
        value = float(_EN_NUMBER_WORDS.get(number) or number)
        found.append(value * (100 if hundred else 1) * _EN_SCALES[scale])
    return found


def _keeps_numbers(english: str, chinese: str) -> bool:
    """Whether every number the translation states is one the Chinese sentence states,
    directly or rescaled (億 to millions or billions, 萬 to thousands or millions, 成 to %),
    and every amount it scales ("12.5 billion", "one million") has the value of one the
    Chinese states: 12.5億 is 1.25 billion, 一萬 is ten thousand."""
    allowed = set(passage_numbers(chinese))
    norm = normalize_for_match(chinese).replace(",", "")
    values = {float(n) for n in allowed}
    for value, unit in _SCALED.findall(chinese_numerals_as_digits(norm)):
        amount = float(value) * _SCALES[unit]
        values.add(amount)
        if amount.is_integer():  # 一萬 is 10,000 written out
            allowed.add(str(int(amount)))
        scales = (1.0,) if unit == "成" else (1e3, 1e6, 1e9)
        for scale in scales:
            allowed |= numbers(f"{amount / scale:g}")
    same = [any(abs(a - v) <= 1e-6 * a for v in values) for a in _english_amounts(english)]
    return numbers(english) <= allowed and all(same)


def _citation(n: int, hit: Hit) -> Citation:
    return Citation(
        n,
        hit.source,
        hit.chunk.start,
        hit.chunk.end,
        hit.chunk.text,
        **hit.chunk.location(),  # type: ignore[arg-type]
    )
