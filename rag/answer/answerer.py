"""Answer a question in steps, each taking the previous step's output: understand the
question -> retrieve -> build the prompt -> draft with the model -> check -> render.

What reaches the user is decided here, in code: the model's markers, refusals and script are
checked or converted, never trusted. Nothing of one question is kept on the Answerer: its
callbacks are arguments and its record is the returned Answer, so one Answerer can serve
several questions at once as far as its generator allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rag.answer.direct import direct_answer
from rag.answer.draft import Draft, draft_answer
from rag.answer.extractive import extractive_answer
from rag.answer.prompting import Prompt, build_prompt
from rag.answer.render import refuse, translate_sentences
from rag.answer.types import Answer, citation_for
from rag.answer.understand import Understood, understand
from rag.check.catalog import ALL_ON, RuleSet
from rag.check.copying import repair_copying
from rag.check.judge import Verdict, judge
from rag.check.sentences import CheckResult
from rag.check.support import SUPPORT_THRESHOLD
from rag.generate.base import Generator
from rag.retrieve.retriever import Hit, Retriever
from rag.settings import ALONE_GAP, Settings
from rag.textnorm import Script, to_script

OnText = Callable[[str], None]


@dataclass
class _Attempt:
    """One reading of some passages by the model: its draft and the verdict on it."""

    draft: Draft
    verdict: Verdict
    prompt: Prompt
    offset: int  # how many retrieved passages come before these


def top_lead(hits: Sequence[Hit]) -> float | None:
    """How far retrieval ranks the first of several passages ahead of the second, in fused
    score; None for fewer than two."""
    return hits[0].score - hits[1].score if len(hits) > 1 else None


def stands_out(hits: Sequence[Hit], gap: float = ALONE_GAP) -> bool:
    """Whether retrieval ranks the first of several passages `gap` ahead of the second."""
    lead = top_lead(hits)
    return lead is not None and lead >= gap


def _unstreamed(attempt: _Attempt) -> _Attempt:
    """The attempt as never streamed: the user first sees its answer once it is checked."""
    return replace(attempt, draft=replace(attempt.draft, first=None))


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
        rules: RuleSet = ALL_ON,
        alone_gap: float = ALONE_GAP,
    ):
        self.retriever = retriever
        self.generator = generator
        self.top_k = top_k
        self.look_further = look_further
        self.max_tokens = max_tokens
        self.threshold = threshold
        self.rules = rules  # the named answer rules that are on (rag.check.catalog)
        self.alone_gap = alone_gap  # rule top_passage_alone: the lead of the top passage

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
            rules=RuleSet.parse(settings.rules_off),
            alone_gap=settings.alone_gap,
        )

    def ask(
        self,
        question: str,
        on_token: OnText | None = None,
        history: Sequence[tuple[str, str]] = (),
        on_status: OnText | None = None,
    ) -> Answer:
        """Answer one question. `on_token` gets the answer's pieces as they are shown;
        `on_status` one line when the user waits longer (a rewritten follow-up, other names
        searched, a second reading)."""
        understood = understand(
            question, self.generator, self.retriever.chinese_corpus, history, on_status
        )
        started = time.perf_counter()
        wanted = self.top_k * 2 if self.look_further and self.generator is not None else self.top_k
        search = self.retriever.search(understood.query, wanted)
        retrieve_s = time.perf_counter() - started
        if on_status and search.also_searched:
            on_status(f"(also searched for: {', '.join(search.also_searched)})")
        if self.generator is None:
            answer = extractive_answer(question, understood.script, search.hits)
        else:
            answer = self._generate(understood, search.hits, on_token, on_status)
        answer.standalone_question = understood.standalone
        answer.translated_question = understood.translated
        answer.also_searched = list(search.also_searched)
        answer.timings["retrieve_s"] = round(retrieve_s, 4)
        if understood.translated is not None:
            # The user waits for the translation too: it counts to the first token.
            answer.timings["translate_question_s"] = round(understood.translate_s, 3)
            ttft = answer.timings.get("ttft_s")
            if ttft is not None:
                answer.timings["ttft_s"] = round(ttft + understood.translate_s + retrieve_s, 3)
        return answer

    def _generate(
        self,
        understood: Understood,
        hits: list[Hit],
        on_token: OnText | None,
        on_status: OnText | None,
    ) -> Answer:
        assert self.generator is not None
        started = time.perf_counter()
        first_hits = hits[: self.top_k]
        attempt: _Attempt | None = None
        read_alone = False  # answered from the top passage alone
        other_reply: str | None = None
        shown_before = False  # some of an earlier reply was streamed
        if self.rules.on("top_passage_alone") and stands_out(first_hits, self.alone_gap):
            # Retrieval ranks one passage well ahead of the rest: the model reads it alone
            # first. Among neighbouring passages of one subject the small model often answers
            # from the wrong one (eval/RESULTS.md, fifth round).
            alone = self._attempt(understood, first_hits[:1], 0, on_token)
            if not alone.verdict.refused:
                attempt, read_alone = alone, True
            else:
                other_reply, shown_before = alone.draft.text, alone.draft.first is not None
                if on_status:
                    k = len(first_hits)
                    on_status(f"(passage 1 alone does not answer this; reading 1-{k})")
        if attempt is None:
            # Streamed only when nothing of an earlier reply was (a refusal never is).
            attempt = self._attempt(understood, first_hits, 0, None if shown_before else on_token)
            if shown_before:
                attempt = _unstreamed(attempt)
        considered = first_hits
        further = hits[self.top_k :]
        if attempt.verdict.refused and further:
            # The first passages did not answer: read the next ones before refusing. Streamed
            # only when nothing of the first reply was shown (a refusal is never shown).
            shown = on_token if attempt.draft.first is None and not shown_before else None
            if on_status:
                k = self.top_k
                on_status(
                    f"(passages 1-{k} do not answer this; reading {k + 1}-{k + len(further)})"
                )
            second = self._attempt(understood, further, self.top_k, shown, retry=False)
            considered = hits
            if not second.verdict.refused:
                # Not streamed: the user first sees it once it is checked.
                attempt = second if shown else _unstreamed(second)
        finished = time.perf_counter()
        draft, verdict = attempt.draft, attempt.verdict
        raw, first = draft.text, draft.first
        timings: dict[str, float | None] = {
            "ttft_s": None if first is None else round(first - started, 3),
            "generate_s": round(finished - started, 3),
        }
        for key in ("tokens_per_s", "prompt_tokens", "cached_tokens", "tokens", "threads"):
            timings[key] = draft.stats.get(key)
        info = self.generator.model_info()
        answer = Answer(
            understood.question,
            raw,
            False,
            understood.script,
            "llm",
            retrieved=considered,
            model=info,
        )
        answer.raw_answer, answer.timings, answer.retried = raw, timings, draft.retried
        answer.looked_further = attempt.offset > 0
        answer.read_alone = read_alone
        answer.other_reply = other_reply
        answer.sentences = verdict.checked.sentences if verdict.checked else []
        answer.relevance = verdict.relevance
        answer.refused_by = verdict.refused_by
        answer.refused_reason = verdict.reason if verdict.refused else ""
        bridged = attempt.prompt.bridged
        if bridged:
            timings["draft_s"] = timings["generate_s"]
        if verdict.refused:
            if first is None or bridged:  # nothing was shown before the refusal
                timings["ttft_s"] = timings["generate_s"]
            return refuse(answer)
        kept = verdict.kept
        if bridged:
            kept, shown_at = translate_sentences(self.generator, kept, on_token, understood.script)
            # What the user first sees is the translation: time to first token counts to it.
            timings["ttft_s"] = round(shown_at - started, 3)
            timings["generate_s"] = round(time.perf_counter() - started, 3)
            answer.sentences = kept.sentences
        elif first is None:  # read further without streaming: shown once checked
            timings["ttft_s"] = timings["generate_s"]
        answer.answer = kept.answer
        answer.direct = direct_answer(understood.question, kept.answer)
        answer.citations = [citation_for(n, hits[n - 1]) for n in kept.cited]
        return answer

    def _attempt(
        self,
        understood: Understood,
        hits: list[Hit],
        offset: int,
        on_token: OnText | None,
        retry: bool = True,
    ) -> _Attempt:
        """The model's reply from `hits` (retried once if it says they do not answer) and
        its verdict. Citations are renumbered by `offset`: the hits' places among all those
        retrieved."""
        assert self.generator is not None
        english = understood.translated if self.rules.on("english_draft") else None
        prompt = build_prompt(understood.asked, understood.script, hits, english)
        retry = retry and self.rules.on("retry")
        draft = draft_answer(self.generator, prompt, self.max_tokens, on_token, retry)
        verdict = check_reply(
            self.retriever,
            prompt.question,
            prompt.checked_script,
            draft.text,
            prompt,
            hits,
            self.rules,
            self.threshold,
        )
        if offset and verdict.checked is not None:
            verdict.checked = CheckResult(
                [
                    replace(s, citations=[n + offset for n in s.citations])
                    for s in verdict.checked.sentences
                ],
                [n + offset for n in verdict.checked.dropped_markers],
            )
        return _Attempt(draft, verdict, prompt, offset)


def check_reply(
    retriever: Retriever,
    question: str,
    script: Script,
    reply: str,
    prompt: Prompt,
    hits: Sequence[Hit],
    rules: RuleSet = ALL_ON,
    threshold: float = SUPPORT_THRESHOLD,
) -> Verdict:
    """The verdict on the model's reply to `prompt` (built over `hits`): characters miscopied
    from the passages put back (rule copy_repair), then judged in code with the hits'
    documents and titles. scripts/replay_rules.py judges saved replies with this function."""
    if rules.on("copy_repair"):
        # Compared in the script the reply is written in: a Simplified passage's 背鳍 is no
        # miscopy of the Traditional 背鰭 the reply was converted to.
        written = [to_script(p, prompt.frame, prompt.keep) for p in prompt.readable]
        reply = repair_copying(reply, [*written, question])
    return judge(
        question,
        script,
        reply,
        prompt.passages,
        threshold,
        [retriever.document_text(h.chunk.doc_id) for h in hits],
        rules,
        [retriever.document_title(h.chunk.doc_id) for h in hits],
    )
