"""The verdict on a drafted answer, decided in code: refused when the model says the
passages do not answer, when no sentence is supported by a cited passage, or when one of the
answer rules (rag.check.rules) finds it does not give what the question asks; unsupported
sentences are dropped from what is kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.check.catalog import ALL_ON, RuleSet
from rag.check.lines import cut_copied_lines
from rag.check.measure import asked_measure, states_measure
from rag.check.rules import (
    adds_nothing,
    amounts_stated,
    asked_office,
    asks_money,
    named_terms,
    names_office,
    number_missing,
    states_money,
    year_missing,
)
from rag.check.sentences import CheckResult
from rag.check.support import SUPPORT_THRESHOLD, check_citations, relevance
from rag.generate.prompts import is_refusal
from rag.textnorm import Script, spaceless


@dataclass
class Verdict:
    refused: bool
    reason: str
    checked: CheckResult | None = None
    relevance: float | None = None
    # What refused the answer: "model" (it said the passages do not answer), "support" (no
    # sentence supported), or the name of a rule in rag.check.catalog; "" when it stands.
    refused_by: str = ""

    @property
    def kept(self) -> CheckResult:
        """Only the supported sentences: what the user is shown."""
        assert self.checked is not None
        return CheckResult(
            [s for s in self.checked.sentences if s.supported], self.checked.dropped_markers
        )


def _stated(checked: CheckResult) -> str:
    """What an answer states: its cited, supported sentences (a stray list number 「3」 or a
    lead-in 「根據資料：」 left between them states nothing)."""
    return " ".join(s.text for s in checked.sentences if s.supported and s.citations)


def _unmet(question: str, kept: str, rules: RuleSet) -> tuple[str, str] | None:
    """Why the answer stated (`kept`) does not give what the question asks, and the rule that
    says so; None when every verdict rule on the words stated is met."""
    if rules.on("adds_nothing") and adds_nothing(question, kept):
        return "the answer says nothing the question does not", "adds_nothing"
    if rules.on("money_asked") and asks_money(question) and not states_money(kept):
        return "the question asks for a sum and the answer states none", "money_asked"
    if rules.on("number_asked") and number_missing(question, kept):
        return "the question asks for a number and the answer gives none", "number_asked"
    if rules.on("year_asked") and year_missing(question, kept):
        return "the question asks for a year and the answer gives none", "year_asked"
    measures = asked_measure(question) if rules.on("asked_measure") else ()
    if measures and not states_measure(amounts_stated(question, kept), measures):
        asked = " or ".join(measures)
        return f"the question asks for a number of {asked} and the answer gives none", (
            "asked_measure"
        )
    return None


def _cut_lines(
    checked: CheckResult, passages: Sequence[str], question: str, rules: RuleSet
) -> CheckResult:
    """The answer with each supported sentence's copied lines cut (rag.check.lines), if it
    still meets every verdict rule so cut; else as it was."""
    sentences = []
    for s in checked.sentences:
        cited = [passages[n - 1] for n in s.citations]
        cut = cut_copied_lines(s.text, cited, question) if s.supported and cited else None
        sentences.append(replace(s, text=cut, cut_by="copied_lines") if cut else s)
    if all(a is b for a, b in zip(sentences, checked.sentences, strict=True)):
        return checked
    shorter = CheckResult(sentences, checked.dropped_markers)
    return checked if _unmet(question, _stated(shorter), rules) else shorter


def judge(
    question: str,
    script: Script,
    raw: str,
    passages: Sequence[str],
    threshold: float = SUPPORT_THRESHOLD,
    documents: Sequence[str] | None = None,
    rules: RuleSet = ALL_ON,
    titles: Sequence[str] | None = None,
) -> Verdict:
    """Decide in code whether a model's answer stands: refused when the model says the
    passages do not answer, when no sentence is supported by a cited passage, or when a rule
    of rag.check.catalog that is on finds the answer does not give what the question asks
    (a sum, a number, a year, a number in the measure asked; the cited documents
    (`documents[i]`: the whole text of passage i's document) never mention a term the
    question names; no cited passage names the office asked about). Unsupported sentences
    are dropped from what is kept, and lines copied past what the question is about cut
    (rule copied_lines)."""
    if not raw or is_refusal(raw):
        return Verdict(True, "model refused", refused_by="model")
    checked = check_citations(raw, passages, threshold, question, rules, titles)
    if not checked.any_supported:
        return Verdict(True, "no supported sentence", checked, refused_by="support")
    kept = _stated(checked)
    unmet = _unmet(question, kept, rules)
    if unmet:
        return Verdict(True, unmet[0], checked, refused_by=unmet[1])
    if rules.on("copied_lines"):
        checked = _cut_lines(checked, passages, question, rules)
    score = None
    if script != "english":
        cited_ns = sorted({n for s in checked.sentences for n in s.citations})
        scope = documents if documents is not None else passages
        seen = spaceless("".join(scope[n - 1] for n in cited_ns))
        missing = sorted(t for t in named_terms(question) if "".join(t.split()) not in seen)
        if missing and rules.on("named_terms"):
            reason = f"the cited documents never mention {', '.join(missing)}"
            return Verdict(True, reason, checked, refused_by="named_terms")
        cited = [passages[n - 1] for s in checked.sentences for n in s.citations]
        office = asked_office(question)
        if office and rules.on("office_holder") and not names_office(office, cited):
            reason = f"the question asks who is {office[0]} and no cited passage names it"
            return Verdict(True, reason, checked, refused_by="office_holder")
        # Reported, not a gate: how much of the question the best cited passage covers. A
        # floor on it refused more correct answers than inventions (eval/RESULTS.md).
        score = max(relevance(question, p) for p in cited)
    return Verdict(False, "supported", checked, score)
