"""The named answer rules: each guards against one failure of the small model, can be switched
off in settings (`rules_off`), and is named in an answer's JSON when it refused the answer or
dropped a sentence. eval/RESULTS.md holds each rule's measured effect on the dev half and on
the held-out sets (scripts/replay_rules.py replays saved runs with a rule off).

Removed because they paid nowhere (no verdict changed on the dev half, the bundled test
half or any held-out set, 2026-12-06): number_topic (an answer adding only a number needed
it next to the question's topic) and day_asked (which day needed a day); for the same reason
(no verdict changed on the four dev and six held-out sets, 2026-12-07): cross_language (an
English sentence over Chinese passages could stand on e5 similarity; English questions over
Chinese passages are drafted in Chinese and translated, and where the model drafts in English
anyway, 5 of 50 such questions in the saved runs, it changed none of their verdicts).

The support check itself (a sentence stands only on a window of a cited passage that holds
most of its words) is no rule here: without it nothing is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    name: str
    stage: str  # "support" (per sentence and window), "verdict" (whole answer) or "draft"
    guards: str  # what failure it guards against


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule(
            "numbers_stated",
            "support",
            "A number the sentence states (beyond the question's) must be in the supporting "
            "window: invented figures are the small model's commonest error.",
        ),
        Rule(
            "chinese_numerals",
            "support",
            "Numbers in Chinese numerals count too: 「三百元」 is no 「五十元」 and 「十天」 "
            "no 「十四日」; the small model changes them while copying.",
        ),
        Rule(
            "measure_words",
            "support",
            "The number must count the same thing as in the window (1000家 is not 1000名) and "
            "not be scaled where the window never scales it (a table's 118 is no 118億).",
        ),
        Rule(
            "question_names",
            "support",
            "Half of the names a Chinese question gives must be in the supporting window: "
            "another country's table row does not answer for Japan.",
        ),
        Rule(
            "two_passages",
            "support",
            "A sentence joining two facts (two table rows) may stand on one window of each of "
            "two passages, each stating one of its numbers.",
        ),
        Rule(
            "money_asked",
            "verdict",
            "A question asking for a sum of money needs an answer that states one.",
        ),
        Rule(
            "number_asked",
            "verdict",
            "A question asking how many, how much or which rank needs a number the question "
            "does not already give; a number labelling a part of a text (「第 4 條」) is none.",
        ),
        Rule(
            "year_asked",
            "verdict",
            "A question asking which year needs a year: a sentence about something else, "
            "however well supported, does not say when.",
        ),
        Rule(
            "asked_measure",
            "verdict",
            "A question asking a number of days, months, years, hours, people, an age, a "
            "share or a count of times needs an answer stating a number in that measure (or "
            "a bare number): a sum in dollars is no GPU count, years of service no age.",
        ),
        Rule(
            "named_terms",
            "verdict",
            "The cited documents must mention the Latin words and quoted titles a Chinese "
            "question names.",
        ),
        Rule(
            "office_holder",
            "verdict",
            "An answer to who holds an office must cite a passage naming that office: "
            "「台智雲總經理吳漢章」 does not say who chairs 台智雲.",
        ),
        Rule(
            "copied_lines",
            "verdict",
            "A run of a passage's short lines copied whole (a slide's title block) ends at the "
            "last line the question is about, if the answer so cut still gives what the "
            "question asks: 「吳漢章 (吳漢章), Ph.D. 台智雲 總經理」, not the whole block.",
        ),
        Rule(
            "copy_repair",
            "draft",
            "A character the model miscopied from a passage (one byte off) is put back before "
            "the checks.",
        ),
        Rule(
            "retry",
            "draft",
            "After the model says the passages do not answer, it is asked once more without "
            "that way out; its answer is checked like any other.",
        ),
        Rule(
            "top_passage_alone",
            "draft",
            "When retrieval ranks the top passage well ahead of the second, the model reads "
            "it alone first (all passages if that answer is refused): among neighbouring "
            "passages of one subject it often answers from the wrong one.",
        ),
        Rule(
            "english_draft",
            "draft",
            "A Chinese question over English passages is asked in English and answered in "
            "English, so that the checks can compare the answer with the passages' words; the "
            "checked sentences are then translated into the question's script.",
        ),
        Rule(
            "adds_nothing",
            "verdict",
            "An answer whose every number, Latin word and pair of adjacent Chinese characters "
            "is already in the question adds nothing: the question restated, its blank "
            "unfilled.",
        ),
    )
}


# Rules removed (above): naming one in `rules_off` asks for what is already so, and is no error,
# so that a rag.toml written for an older version still loads.
REMOVED_RULES = frozenset({"number_topic", "day_asked", "cross_language"})


@dataclass(frozen=True)
class RuleSet:
    """Which rules are on; all are unless named in `off`."""

    off: frozenset[str] = frozenset()

    def on(self, name: str) -> bool:
        assert name in RULES, name
        return name not in self.off

    def without(self, name: str) -> RuleSet:
        return RuleSet(self.off | {name})

    @classmethod
    def parse(cls, text: str) -> RuleSet:
        """From a comma-separated list of rule names to switch off (the `rules_off` setting)."""
        names = {n.strip() for n in text.split(",") if n.strip()} - REMOVED_RULES
        unknown = sorted(names - set(RULES))
        if unknown:
            raise ConfigError(
                f"rules_off names unknown rule(s) {', '.join(unknown)}. Known: {', '.join(RULES)}."
            )
        return cls(frozenset(names))


ALL_ON = RuleSet()
