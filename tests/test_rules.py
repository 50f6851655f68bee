"""The named answer rules: each can be switched off, and an answer says which one refused it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.answerer import Answerer
from rag.check.catalog import ALL_ON, RULES, RuleSet
from rag.check.judge import judge
from rag.check.lines import cut_copied_lines
from rag.check.support import check_citations
from rag.embed.embedder import HashEmbedder
from rag.errors import ConfigError
from rag.index.build import build_index
from rag.index.load import load_index
from rag.retrieve.retriever import Retriever
from rag.settings import load_settings
from tests.test_answer import ScriptedGenerator

PASSAGE = "國網中心的晶創26在TOP500排名第29名，由華碩建造。"


def test_every_rule_says_what_it_guards_against() -> None:
    assert len(RULES) >= 10
    for rule in RULES.values():
        assert rule.stage in ("support", "verdict", "draft") and len(rule.guards) > 30


def test_unknown_rule_names_are_refused_with_the_known_ones() -> None:
    assert RuleSet.parse(" money_asked, retry ").off == {"money_asked", "retry"}
    with pytest.raises(ConfigError, match=r"unknown rule.*no_such_rule.*Known: numbers_stated"):
        RuleSet.parse("no_such_rule")
    with pytest.raises(ConfigError, match="no_such_rule"):
        load_settings(env={"RAG_RULES_OFF": "no_such_rule"})
    assert load_settings(env={"RAG_RULES_OFF": "retry"}).rules_off == "retry"
    # A removed rule is off already: naming it (a rag.toml of an older version) is no error.
    assert RuleSet.parse("cross_language, retry").off == {"retry"}
    assert "cross_language" not in RULES


def test_a_verdict_rule_refuses_only_while_it_is_on() -> None:
    question = "晶創26總共花了多少錢建置？"
    raw = "晶創26由華碩建造[1]。"
    on = judge(question, "traditional", raw, [PASSAGE])
    assert on.refused and on.refused_by == "money_asked"
    # 「多少」 also asks for a number: with the money rule off, the number rule refuses.
    money_off = ALL_ON.without("money_asked")
    assert judge(question, "traditional", raw, [PASSAGE], rules=money_off).refused_by == (
        "number_asked"
    )
    both_off = money_off.without("number_asked")
    off = judge(question, "traditional", raw, [PASSAGE], rules=both_off)
    assert not off.refused and off.refused_by == ""
    assert judge(question, "traditional", "資料中沒有相關資訊", [PASSAGE]).refused_by == "model"
    invented = judge("誰建造晶創26？", "traditional", "台積電在高雄蓋了工廠[1]。", [PASSAGE])
    assert invented.refused_by == "support"


def test_a_support_rule_drops_an_invented_number_only_while_it_is_on() -> None:
    question = "晶創26在TOP500排第幾名？"
    invented = "晶創26在TOP500排名第7名[1]。"
    on = check_citations(invented, [PASSAGE], question=question)
    assert not on.any_supported
    off = check_citations(
        invented, [PASSAGE], question=question, rules=ALL_ON.without("numbers_stated")
    )
    assert off.any_supported


@pytest.fixture
def retriever(tiny_corpus: Path, tmp_path: Path) -> Retriever:
    build_index(tiny_corpus, tmp_path / "idx", HashEmbedder(), 60, 0)
    return Retriever(load_index(tmp_path / "idx"), HashEmbedder(), 0.3)


def test_the_retry_is_a_switchable_rule(retriever: Retriever) -> None:
    question = "台智雲的總經理是誰？"
    replies = ("資料中沒有相關資訊。", "台智雲的總經理是吳漢章[1]。")
    one = ALL_ON.without("top_passage_alone")  # one reading: two replies
    retried = Answerer(retriever, ScriptedGenerator(*replies), top_k=2, rules=one).ask(question)
    assert retried.retried and not retried.refused
    generator = ScriptedGenerator(*replies)
    plain = Answerer(retriever, generator, top_k=2, rules=one.without("retry"))
    answer = plain.ask(question)
    assert answer.refused and answer.refused_by == "model" and len(generator.prompts) == 1
    assert answer.to_json()["refused_by"] == "model"


@pytest.mark.parametrize(
    ("question", "answer", "stands"),
    [
        ("公司要給幾天特休？", "每年給十四日特休[1]。", True),
        ("公司要給幾天特休？", "特休工資加倍發給[1]。", False),
        ("How many GPUs does the system have?", "It cost 12 billion dollars.", True),  # no table
        ("勞工要滿幾歲才能請領？", "年資滿十五年以上者可以請領[1]。", False),
        ("勞工要滿幾歲才能請領？", "年滿六十歲可以請領[1]。", True),
        ("台灣約有多少人使用客家語？", "約212萬[1]。", True),  # a bare number names no other
        ("晶創26在TOP500排第幾名？", "排名第29名[1]。", True),  # a place is not checked
        ("流程可以縮短到多久？", "縮短至數小時[1]。", True),
        ("How many days of leave can a worker take?", "不得超過十四日[1]。", True),
        ("How many days of leave can a worker take?", "事假期間不給工資[1]。", False),
        ("有多少年輕人參加？", "約兩千名年輕人參加[1]。", True),  # 年輕人 asks for people
    ],
)
def test_the_number_must_be_in_the_measure_asked(question: str, answer: str, stands: bool) -> None:
    from rag.check.measure import asked_measure, states_measure

    measures = asked_measure(question)
    assert (not measures or states_measure(answer, measures)) is stands


def test_a_stray_list_number_states_no_answer() -> None:
    # Seen on an English standard: the model copied a numbered list, and the list number
    # 「3」 left between two sentences passed for the duration asked.
    passage = "The CSP SHALL require all actions of the applicant to be clearly visible."
    question = "How long can video calls be during remote identity proofing?"
    sentence = "The CSP SHALL require all actions of the applicant to be clearly visible."
    reply = f"[1] {sentence} [1] 3. {sentence}"
    verdict = judge(question, "english", reply, [passage])
    assert verdict.refused and verdict.refused_by == "asked_measure"
    stated = judge(
        question, "english", "Calls may last 30 minutes [1].", [passage + " 30 minutes."]
    )
    assert not stated.refused


def test_numbers_in_chinese_numerals_must_be_in_the_passage() -> None:
    passage = "滷肉飯是常見的小吃，價格大約五十元。"
    question = "滷肉飯大約多少錢？"
    invented = check_citations("滷肉飯的價格大約三百元[1]。", [passage], question=question)
    assert not invented.any_supported
    assert check_citations(
        "滷肉飯的價格大約五十元[1]。", [passage], question=question
    ).any_supported
    off = ALL_ON.without("chinese_numerals")
    assert check_citations("滷肉飯的價格大約三百元[1]。", [passage], question=question, rules=off)
    # Words with a numeral in them are no numbers (一般, 一起): nothing to find for them.
    plain = "一般來說，大家一起吃的滷肉飯價格大約五十元。"
    assert check_citations(
        "一般來說滷肉飯價格大約五十元[1]。", [plain], question=question
    ).any_supported


def test_a_name_the_question_gives_may_be_in_the_document_title() -> None:
    """An article rarely repeats its subject in the sentence that answers."""
    question = "吳漢章在哪一家公司工作？"
    passage = "他目前擔任台智雲總經理，負責雲端算力服務。"
    answer = "他在台智雲擔任總經理[1]。"
    assert not check_citations(answer, [passage], question=question).any_supported
    titled = check_citations(answer, [passage], question=question, titles=["專訪吳漢章"])
    assert titled.any_supported
    other = check_citations(answer, [passage], question=question, titles=["專訪黃仁勳"])
    assert not other.any_supported


def test_an_answer_that_adds_nothing_to_the_question_is_refused() -> None:
    from rag.check.rules import adds_nothing

    question = "主要支持民主黨的對象包括都市地區的勞工團體以及誰？"
    assert adds_nothing(question, "主要支持民主黨的對象包括都市地區的勞工團體以及。")
    assert not adds_nothing(question, "包括都市地區的勞工團體以及全國農村農夫。")
    # Numbers are compared whole: 5 is not in 「TOP500」.
    assert not adds_nothing("TOP500前300名裡面，台灣有幾台？", "前 300 有 5 台")
    assert adds_nothing("TOP500前300名裡面有幾台？", "TOP500前300名")
    # The question's characters in a new order are an answer.
    assert not adds_nothing("漢江流域的東南方有著哪一個平原?", "漢江流域的東南方有著江漢平原。")
    passage = "主要支持民主黨的對象包括都市地區的勞工團體以及全國農村農夫。"
    reply = "主要支持民主黨的對象包括都市地區的勞工團體以及[1]。"
    assert judge(question, "traditional", reply, [passage]).refused_by == "adds_nothing"
    off = RuleSet.parse("adds_nothing")
    assert not judge(question, "traditional", reply, [passage], rules=off).refused


SLIDE = (
    "台灣AI競爭力的戰略定位與實踐\n\nPeter Wu (吳漢章), Ph.D.\n\n台智雲 總經理\n\n"
    "TCA AI大聯盟 會長\n\n2025~2026是定位台灣AI競爭力的關鍵年份"
)
BLOCK = (
    "吳漢章 (吳漢章), Ph.D. 台智雲 總經理 TCA AI大聯盟 會長 2025~2026是定位台灣AI競爭力的關鍵年份"
)


def test_a_copied_title_block_ends_at_the_line_the_question_is_about() -> None:
    question = "台智雲的總經理是誰？"
    verdict = judge(question, "traditional", f"{BLOCK} [1]", [SLIDE])
    assert verdict.kept.answer == "吳漢章 (吳漢章), Ph.D. 台智雲 總經理[1]"
    assert [s.cut_by for s in verdict.kept.sentences] == ["copied_lines"]
    whole = judge(question, "traditional", f"{BLOCK} [1]", [SLIDE], rules=RuleSet({"copied_lines"}))
    assert whole.kept.answer == f"{BLOCK}[1]" and whole.kept.sentences[0].cut_by == ""


def test_copied_lines_are_not_cut_when_the_cut_loses_what_is_asked() -> None:
    slide = "台智雲 員工\n\n超過 150 人\n\n語音及 AI技術專家團隊"
    # The count asked for is on the line after the question's words: the cut would lose it,
    # so the answer is kept whole.
    assert (
        cut_copied_lines("台智雲 員工 超過 150 人", [slide], "台智雲的員工有多少人？")
        == "台智雲 員工"
    )
    verdict = judge("台智雲的員工有多少人？", "traditional", "台智雲 員工 超過 150 人 [1]", [slide])
    assert verdict.kept.answer == "台智雲 員工 超過 150 人[1]"
    # Prose (lines that end sentences) and a sentence that does not end with the lines: uncut.
    prose = "台智雲的總經理是吳漢章。\n他也是TCA AI大聯盟會長。"
    verdict = judge(
        "台智雲的總經理是誰？", "traditional", f"{prose.replace(chr(10), '')} [1]", [prose]
    )
    assert "會長" in verdict.kept.answer
