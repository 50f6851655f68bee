from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.answer.answerer import Answerer
from rag.answer.translate import for_translation, keeps_numbers, western_amounts
from rag.check.catalog import ALL_ON
from rag.check.sentences import same_answer
from rag.embed.embedder import HashEmbedder
from rag.generate.prompts import is_refusal
from rag.index.build import build_index
from rag.index.load import load_index
from rag.retrieve.retriever import Retriever
from rag.textnorm import to_script, to_simplified

# One reading per question: the second reading of the top passage alone (rule
# top_passage_alone) has its own tests, and would ask these scripts for more replies.
ONE_READING = ALL_ON.without("top_passage_alone")


class ScriptedGenerator:
    """Replies with fixed text, in pieces, and records the prompts it received."""

    def __init__(self, *replies: str):
        self.replies = list(replies)
        self.prompts: list[list[dict[str, str]]] = []

    def model_info(self) -> dict[str, Any]:
        return {"name": "scripted"}

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        stop: list[str] | None = None,
        reuse_prompt: bool = False,
        on_done: Any = None,
    ) -> Iterator[str]:
        self.prompts.append(messages)
        reply = self.replies.pop(0)
        for i in range(0, len(reply), 3):
            yield reply[i : i + 3]


@pytest.fixture
def retriever(tiny_corpus: Path, tmp_path: Path) -> Retriever:
    build_index(tiny_corpus, tmp_path / "idx", HashEmbedder(), 60, 0)
    return Retriever(load_index(tmp_path / "idx"), HashEmbedder(), 0.3)


def _passage_number(answerer: Answerer, question: str, source: str) -> int:
    hits = answerer.retriever.search(question, answerer.top_k).hits
    return next(h.rank for h in hits if h.source == source)


def test_supported_answer_keeps_checked_citation(retriever: Retriever, tiny_corpus: Path) -> None:
    question = "晶創26在TOP500排第幾名？"
    probe = Answerer(retriever, None, top_k=3)
    n = _passage_number(probe, question, "taiwan.txt")
    wrong = n % 3 + 1
    generator = ScriptedGenerator(f"國網中心的晶創26在TOP500排名第29名[{wrong}]。")
    answerer = Answerer(retriever, generator, top_k=3)
    streamed: list[str] = []
    answer = answerer.ask(question, on_token=streamed.append)
    assert not answer.refused
    assert answer.answer == f"國網中心的晶創26在TOP500排名第29名[{n}]。"
    assert answer.sentences[0].repaired
    assert [c.source for c in answer.citations] == ["taiwan.txt"]
    citation = answer.citations[0]
    # The citation quotes passage [n] as shown to the model, and that is the file's own text.
    cited = next(h for h in answer.retrieved if h.rank == n)
    assert citation.n == n and cited.source == "taiwan.txt"
    assert (citation.start, citation.end, citation.text) == (
        cited.chunk.start,
        cited.chunk.end,
        cited.chunk.text,
    )
    original = (tiny_corpus / "taiwan.txt").read_text(encoding="utf-8")
    assert original[citation.start : citation.end] == citation.text
    assert "晶創26在TOP500排名第29名" in citation.text
    assert "".join(streamed).startswith("國網中心")
    # The prompt numbers passages and ends with the rules.
    user = generator.prompts[0][1]["content"]
    assert "[1]" in user and user.rstrip().endswith("用繁體中文。")
    assert question in user


def test_english_question_over_chinese_passages_is_answered_in_chinese_then_translated(
    retriever: Retriever,
) -> None:
    question = "What rank did the NCHC supercomputer reach on the TOP500?"
    generator = ScriptedGenerator(
        "國網中心的超級電腦在TOP500排第幾名？",
        "晶創26在TOP500排名第29名[9]。",
        "Translation: NCHC's 晶創26 ranked 29th on the TOP500 [2].",
    )
    streamed: list[str] = []
    answer = Answerer(retriever, generator, top_k=3).ask(question, on_token=streamed.append)
    assert not answer.refused and answer.script == "english"
    # The question is translated for retrieval, over a Chinese corpus.
    assert question in generator.prompts[0][0]["content"]
    assert answer.translated_question == "國網中心的超級電腦在TOP500排第幾名？"
    # The draft is asked for in the Traditional frame and checked before anything is shown.
    assert generator.prompts[1][1]["content"].rstrip().endswith("用繁體中文。")
    assert question in generator.prompts[1][1]["content"]
    assert answer.raw_answer == "晶創26在TOP500排名第29名[9]。"
    n = next(h.rank for h in answer.retrieved if h.source == "taiwan.txt")
    assert answer.answer == f"NCHC's 晶創26 ranked 29th on the TOP500[{n}]."
    assert [c.source for c in answer.citations] == ["taiwan.txt"]
    assert "晶創26在TOP500排名第29名" in generator.prompts[2][0]["content"]
    assert "".join(streamed).startswith("Translation: NCHC")
    assert answer.timings["draft_s"] is not None


def test_translation_that_changes_a_number_is_not_shown(retriever: Retriever) -> None:
    generator = ScriptedGenerator(
        "排第幾名？", "晶創26在TOP500排名第29名[1]。", "Nano 4 ranked 7th."
    )
    answer = Answerer(retriever, generator, top_k=3, rules=ONE_READING).ask(
        "What rank on the TOP500?"
    )
    assert not answer.refused
    assert answer.answer.startswith("晶創26在TOP500排名第29名[")


def test_translation_that_rescales_an_amount_is_not_shown(retriever: Retriever) -> None:
    # 12.5億 is 1.25 billion; the small model writes "12.5 billion" (seen in eval runs).
    assert keeps_numbers("It invests 1.25 billion dollars.", "計畫投資 12.5 億美元")
    assert keeps_numbers("It invests 1,250 million dollars.", "計畫投資 12.5 億美元")
    assert not keeps_numbers("It invests 12.5 billion dollars.", "計畫投資 12.5 億美元")
    assert keeps_numbers("at least ten thousand GPUs", "至少一萬顆 GPU")
    assert keeps_numbers("at least 10,000 GPUs", "至少一萬顆 GPU")
    assert not keeps_numbers("at least one million GPUs", "至少一萬顆 GPU")
    assert keeps_numbers("a hundred million", "一億")
    generator = ScriptedGenerator(
        "晶創26排第幾名？", "晶創26在TOP500排名第29名[1]。", "It ranked 29th, worth 29 billion."
    )
    answer = Answerer(retriever, generator, top_k=3, rules=ONE_READING).ask(
        "What rank on the TOP500?"
    )
    assert answer.answer.startswith("晶創26在TOP500排名第29名[")


def _one_document(tmp_path: Path, text: str, *replies: str) -> tuple[Answerer, ScriptedGenerator]:
    """An Answerer over a corpus of one Chinese document, reading one passage, and the
    scripted model it asks (for an English question: the translated question, the Chinese
    draft, then the translation of each checked sentence)."""
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "doc.txt").write_text(text, encoding="utf-8")
    build_index(corpus, tmp_path / "idx", HashEmbedder(), 60, 0)
    retriever = Retriever(load_index(tmp_path / "idx"), HashEmbedder(), 0.3)
    generator = ScriptedGenerator(*replies)
    return Answerer(retriever, generator, top_k=1), generator


def test_amounts_are_put_in_english_scale_before_translation(tmp_path: Path) -> None:
    assert western_amounts("計畫投資 12.5 億美元，至少一萬顆 GPU") == (
        "計畫投資 1.25 billion 美元，至少10,000 顆 GPU"
    )
    assert western_amounts("超過 7.7 億新加坡元、三千萬人、兩億") == (
        "超過 770 million 新加坡元、30 million 人、200 million "
    )
    # Idioms and 萬億 are no amounts to rewrite.
    assert western_amounts("千萬不要，十萬火急，3萬億") == "千萬不要，十萬火急，3萬億"
    answerer, generator = _one_document(
        tmp_path,
        "印度計畫投資12.5億美元建造超級電腦。",
        "印度投資多少？",
        "印度計畫投資12.5億美元建造超級電腦[1]。",
        "India plans to invest 1.25 billion US dollars in a supercomputer.",
    )
    answer = answerer.ask("How much is India investing?")
    assert "1.25 billion 美元" in generator.prompts[2][0]["content"]
    assert answer.answer == "India plans to invest 1.25 billion US dollars in a supercomputer[1]."


def test_counted_numbers_are_given_in_digits_for_translation(tmp_path: Path) -> None:
    """「三十日前」 is translated from 「30日前」: the English says "30 days", which readers and
    the number checks compare directly ("thirty days" states no number to check)."""
    from rag.check.numbers import quantities_in_digits

    assert quantities_in_digits("應於三十日前通報，五十人以上者") == "應於30日前通報，50人以上者"
    assert quantities_in_digits("产假八星期，兩年內，十分鐘內") == "产假8星期，2年內，10分鐘內"
    # Numerals that count nothing stay: an adverb, a share, an idiom, 一些.
    for text in ("十分重要", "百分之七十", "千萬不要", "一些人", "第一"):
        assert quantities_in_digits(text) == text
    assert for_translation("投資 12.5 億美元，三十日內") == "投資 1.25 billion 美元，30日內"
    answerer, generator = _one_document(
        tmp_path,
        "憑證機構應於終止服務三十日前通報主管機關。",
        "憑證機構要提前幾天通報？",
        "憑證機構應於終止服務三十日前通報主管機關[1]。",
        "The certification authority must notify the authority 30 days before it stops.",
    )
    answer = answerer.ask(
        "How many days in advance must a certification authority report it will stop?"
    )
    assert "30日前" in generator.prompts[2][0]["content"]
    assert "30 days" in answer.answer


def test_english_draft_that_the_passages_do_not_support_is_refused(retriever: Retriever) -> None:
    # A translation that is no Chinese question is not searched for.
    generator = ScriptedGenerator("What rank?", "晶創26在TOP500排名第7名[1]。")
    answer = Answerer(retriever, generator, top_k=3, rules=ONE_READING).ask(
        "What rank on the TOP500?"
    )
    assert answer.translated_question is None
    assert answer.refused
    assert answer.answer == "The documents do not contain this information."
    assert len(generator.prompts) == 2  # the checked draft was not translated
    # Nothing was shown before the refusal: the first token is the refusal.
    assert answer.timings["ttft_s"] >= answer.timings["draft_s"]


def test_invented_number_is_refused(retriever: Retriever) -> None:
    generator = ScriptedGenerator("晶創26在TOP500排名第7名[1]。")
    answer = Answerer(retriever, generator, top_k=3, rules=ONE_READING).ask("晶創26排第幾名？")
    assert answer.refused and answer.answer == "資料中沒有相關資訊"
    assert answer.citations == [] and answer.retrieved


def test_model_refusal_is_in_the_question_script(retriever: Retriever) -> None:
    # Refused, asked again without that way out, refused again.
    generator = ScriptedGenerator("资料中没有相关信息。", "资料中没有相关信息。")
    answer = Answerer(retriever, generator, top_k=3, rules=ONE_READING).ask(
        "珍珠奶茶的发明人是谁？"
    )
    assert answer.refused and answer.answer == "资料中没有相关信息"
    assert not answer.retried and len(generator.prompts) == 2
    replies = ScriptedGenerator("誰發明了珍珠奶茶？", "I cannot answer that.", "I cannot answer.")
    english = Answerer(retriever, replies, top_k=3, rules=ONE_READING)
    assert english.ask("Who invented bubble tea?").answer == (
        "The documents do not contain this information."
    )


def test_simplified_leaks_are_converted_for_traditional_questions(retriever: Retriever) -> None:
    generator = ScriptedGenerator("台智雲的总经理是吳漢章[1]。")
    answer = Answerer(retriever, generator, top_k=3).ask("台智雲的總經理是誰？")
    assert "總經理" in answer.answer and "总" not in answer.answer
    assert "台智雲" in answer.answer  # characters copied from the passage stay as written


def test_characters_miscopied_from_a_passage_are_put_back(retriever: Retriever) -> None:
    # 「筭力」: one wrong character, found in no passage, between neighbours that are.
    said = "[1] 台智雲提供雲端筭力服務，總經理是吳漢章。"
    answer = Answerer(retriever, ScriptedGenerator(said), top_k=3).ask("台智雲的總經理是誰？")
    assert not answer.refused
    assert "雲端算力服務" in answer.answer and "筭" not in answer.answer
    assert answer.raw_answer == said  # what the model said is kept as said


def test_repair_copying_needs_agreeing_context() -> None:
    from rag.check.copying import repair_copying

    passages = ["東羅馬以絲綢為皇家壟斷的原材料。", "蘇利南在1975年獨立。"]
    assert repair_copying("[1] 綡綢為皇家壟斷。", passages) == "[1] 絲綢為皇家壟斷。"
    assert repair_copying("苏利南在1975年", passages) == "蘇利南在1975年"
    # A word of the model's own after a comma, too little context, characters that are in a
    # passage, places that disagree: unchanged.
    assert repair_copying("地位，因為美英法", ["當時然為美英法"]) == "地位，因為美英法"
    assert repair_copying("綡綢。", passages) == "綡綢。"
    assert repair_copying("皇家壟斷", passages) == "皇家壟斷"
    assert repair_copying("甲乙丙丁戊", ["甲乙己丁戊", "甲乙庚丁戊"]) == "甲乙丙丁戊"
    assert repair_copying("甲乙丙丁戊", ["甲乙己丁戊"]) == "甲乙己丁戊"
    # Spaces around a number are passed over: 「第 56 梘」 is 「第 56 條」 miscopied.
    statute = ["第 56 條 雇主應依勞工每月薪資總額提撥。"]
    assert repair_copying("依第 56 梘 雇主應", statute) == "依第 56 條 雇主應"
    disagree = ["依第 56 節 雇主應", "依第 56 章 雇主應"]
    assert repair_copying("依第 56 梘 雇主應", disagree) == "依第 56 梘 雇主應"


def test_repair_copying_one_byte_off_needs_one_side() -> None:
    from rag.check.copying import byte_neighbours, repair_copying

    assert byte_neighbours("條", "梘") and not byte_neighbours("條", "章")
    statute = ["第 4 條 本法所稱租賃住宅。", "第 56-1 條 電臺為播送之目的。", "第 4 章 罰則"]
    # The model goes on with words of its own after the miscopied 條: one side suffices for
    # the character one byte off from the passage's (章 is no byte neighbour of 梘).
    assert repair_copying("[1] 第 4 梘 出租人應", statute) == "[1] 第 4 條 出租人應"
    assert repair_copying("[1] 第 56-1 梘", statute) == "[1] 第 56-1 條"
    # The nearest neighbours decide when the farther ones are the model's own (「04 日 第 4」).
    assert repair_copying("04 日 第 4 梘", statute) == "04 日 第 4 條"
    # Not one byte off from what the passages have there, or one neighbour only: unchanged.
    assert repair_copying("[1] 第 4 節 出租人應", statute) == "[1] 第 4 節 出租人應"
    assert repair_copying("，4 梘 出租人應", statute) == "，4 梘 出租人應"


def test_simplified_question_gets_simplified_answer(retriever: Retriever) -> None:
    generator = ScriptedGenerator("台智雲的總經理是吳漢章[1]。")
    answer = Answerer(retriever, generator, top_k=3).ask("台智云的总经理是谁？")
    assert answer.answer.startswith("台智云的总经理是吴汉章")
    assert answer.answer == to_simplified(answer.answer)


def test_extractive_answer_without_model(retriever: Retriever) -> None:
    answer = Answerer(retriever, None, top_k=3).ask("滷肉飯大約多少錢？")
    assert answer.mode == "extractive" and not answer.refused
    assert any("五十元" in c.text for c in answer.citations)
    for c in answer.citations:
        original = (retriever.index.folder.parent.parent / "docs" / c.source).read_text(
            encoding="utf-8"
        )
        assert original[c.start : c.end] == c.text


def test_follow_up_is_rewritten_before_retrieval(retriever: Retriever) -> None:
    generator = ScriptedGenerator("滷肉飯大約多少錢？", "滷肉飯價格大約五十元[1]。")
    answerer = Answerer(retriever, generator, top_k=2)
    answer = answerer.ask("那它多少錢？", history=[("台灣有什麼小吃？", "滷肉飯[1]。")])
    assert answer.standalone_question == "滷肉飯大約多少錢？"
    assert "滷肉飯" in generator.prompts[0][0]["content"]
    assert answer.retrieved[0].source == "food.txt"
    # The model answers the standalone question (it does not see the conversation); the
    # answer keeps the question as asked.
    assert "滷肉飯大約多少錢？" in generator.prompts[1][-1]["content"]
    assert answer.question == "那它多少錢？"


def test_follow_up_rewrite_that_is_no_question_is_not_used(retriever: Retriever) -> None:
    # Seen with the default model: the last answer copied instead of a rewritten question.
    generator = ScriptedGenerator("吳漢章，台智雲總經理，TCA AI大聯盟會長。", "總經理是吳漢章[1]。")
    answerer = Answerer(retriever, generator, top_k=2)
    history = [("台智雲的總經理是誰？", "吳漢章[1]。")]
    told: list[str] = []
    answer = answerer.ask("他還擔任什麼職務？", history=history, on_status=told.append)
    assert answer.standalone_question == "台智雲的總經理是誰？ 他還擔任什麼職務？"
    assert told == ["(searched for: 台智雲的總經理是誰？ 他還擔任什麼職務？)"]
    assert answer.retrieved[0].source == "taiwan.txt"


def test_refusal_phrases_and_script_helper() -> None:
    assert is_refusal("資料中沒有相關資訊。")
    assert is_refusal("The documents do not contain this information.")
    assert not is_refusal("總經理是吳漢章。")
    assert to_script("国际", "traditional") == "國際"
    assert to_script("國際", "english") == "國際"


def test_answer_without_the_sum_a_question_asks_for_is_refused() -> None:
    from rag.check.judge import judge

    passages = ["晶創26的Rmax是81.55 PFlops，建置經費約新台幣50億元。"]
    question = "晶創26花了多少錢建置？"
    invented = judge(question, "traditional", "晶創26花了81.55 PF建置[1]。", passages)
    assert invented.refused and "sum" in invented.reason
    stated = judge(question, "traditional", "晶創26約花了50億元[1]。", passages)
    assert not stated.refused and stated.kept.cited == [1]


def test_answer_about_a_term_its_documents_never_mention_is_refused() -> None:
    from rag.check.judge import judge

    question = "「新十大建設」包括哪些項目？"
    passages = ["台灣推動十大建設，包括高速公路與港口。"]
    reply = "「新十大建設」包括高速公路與港口[1]。"
    unrelated = judge(question, "traditional", reply, passages)
    assert unrelated.refused and "新十大建设" in unrelated.reason
    documents = ["政府提出新十大建設。台灣推動十大建設，包括高速公路與港口。"]
    same_doc = judge(question, "traditional", reply, passages, documents=documents)
    assert not same_doc.refused  # the document names it: the checks above decide


def test_answer_from_a_passage_about_someone_else_is_refused() -> None:
    from rag.check.judge import judge

    passages = ["輝達(Nvidia)執行長黃仁勳積極推廣主權AI。", "沙烏地阿拉伯的Humain宣布融資。"]
    reply = "Humain的執行長是黃仁勳[1]。"
    assert judge("沙烏地阿拉伯那家公司Humain的執行長是誰？", "traditional", reply, passages).refused
    assert not judge(
        "輝達的執行長是誰？", "traditional", "輝達的執行長是黃仁勳[1]。", passages
    ).refused


def test_answer_naming_the_holder_of_another_office_is_refused() -> None:
    from rag.check.judge import judge

    passages = ["華碩雲端暨台智雲總經理吳漢章指出，主權AI的本質已經不只是技術問題。"]
    reply = "台智雲總經理吳漢章[1]。"
    chair = judge("台智雲的董事長是誰？", "traditional", reply, passages)
    assert chair.refused and "董事长" in chair.reason
    assert not judge("台智雲的總經理是誰？", "traditional", reply, passages).refused
    assert not judge("台智云的总经理是谁？", "simplified", reply, passages).refused
    # Another name of the same office counts: 執行長 is 首席執行官 is CEO.
    ceo = ["輝達(Nvidia) CEO黃仁勳積極推廣主權AI。"]
    assert not judge("輝達的執行長是誰？", "traditional", "黃仁勳[1]。", ceo).refused


def test_answer_without_the_number_or_year_asked_for_is_refused() -> None:
    from rag.check.judge import judge

    passages = ["新加坡與輝達合作，建立SEA-LION大型語言模型，參數量為30億，2023年發表。"]
    question = "SEA-LION模型有多少參數？"
    topical = judge(
        question, "traditional", "新加坡與輝達合作建立SEA-LION大型語言模型[1]。", passages
    )
    assert topical.refused and "a number" in topical.reason
    assert not judge(question, "traditional", "SEA-LION的參數量為30億[1]。", passages).refused
    assert topical.refused_by == "number_asked"
    year = judge(
        "SEA-LION是哪一年發表的？", "traditional", "新加坡與輝達合作建立SEA-LION[1]。", passages
    )
    assert year.refused and year.refused_by == "year_asked"
    dated = judge("SEA-LION是哪一年發表的？", "traditional", "SEA-LION於2023年發表[1]。", passages)
    assert not dated.refused


def test_refusal_is_retried_without_the_way_out_and_the_retry_is_judged(
    retriever: Retriever,
) -> None:
    question = "晶創26在TOP500排第幾名？"
    n = _passage_number(Answerer(retriever, None, top_k=3), question, "taiwan.txt")
    generator = ScriptedGenerator("資料中沒有相關資訊", f"晶創26在TOP500排名第29名[{n}]。")
    streamed: list[str] = []
    answerer = Answerer(retriever, generator, top_k=3, rules=ONE_READING)
    answer = answerer.ask(question, on_token=streamed.append)
    assert not answer.refused and answer.retried and "29" in answer.answer
    assert answer.citations[0].source == "taiwan.txt"
    # The refusal was held back, never shown; the retry's rules offer no refusal.
    assert "".join(streamed).startswith("晶創26") and "沒有" not in "".join(streamed)
    first, again = (m[-1]["content"] for m in generator.prompts)
    assert "資料中沒有相關資訊" in first and "資料中沒有相關資訊" not in again
    assert first.split("回答規則")[0] == again.split("回答規則")[0]  # same passages
    # A reply of nothing but a passage number is retried too.
    markers_only = ScriptedGenerator(f"[{n}]", f"晶創26在TOP500排名第29名[{n}]。")
    assert Answerer(retriever, markers_only, top_k=3, rules=ONE_READING).ask(question).retried
    # An invented answer on the retry is refused by the checks.
    inventing = ScriptedGenerator("資料中沒有相關資訊", f"晶創26在TOP500排名第7名[{n}]。")
    invented = Answerer(retriever, inventing, top_k=3, rules=ONE_READING).ask(question)
    assert invented.refused and invented.answer == "資料中沒有相關資訊"
    # --json says what dropped the invented sentence: its number is in no passage.
    record = invented.to_json()
    assert record["refused_by"] == "support"
    assert record["sentences"][0]["dropped_by"] == "numbers_stated"
    assert answer.to_json()["sentences"][0]["dropped_by"] is None
    # The user is told why: the number is in no passage.
    assert invented.revision_note() == (
        "not supported by the passages: a number it states is in none of them"
    )
    # A refusal by a rule says what the rule found; the JSON says it in words too.
    costly = ScriptedGenerator(f"晶創26在TOP500排名第29名[{n}]。")
    cost = Answerer(retriever, costly, top_k=3, rules=ONE_READING).ask("晶創26的建置成本是多少錢？")
    assert cost.refused and cost.refused_by == "money_asked"
    assert cost.revision_note() == (
        "refused: the question asks for a sum and the answer states none"
    )
    assert cost.to_json()["refused_reason"] == cost.refused_reason != ""


def test_refusal_phrase_stops_generation_early() -> None:
    from rag.answer.draft import _may_become_refusal

    assert _may_become_refusal("[1] 資料中") and _may_become_refusal("")
    assert not _may_become_refusal("[1] 晶創26") and not _may_become_refusal("資料顯示")


@pytest.fixture
def english_retriever(tmp_path: Path) -> Retriever:
    docs = tmp_path / "en"
    docs.mkdir()
    (docs / "grid.txt").write_text(
        "SuedLink, the main north-south line, will cost about 10 billion euros.\n",
        encoding="utf-8",
    )
    (docs / "wind.txt").write_text("Borkum Riffgrund 3 was built by Orsted.\n", encoding="utf-8")
    build_index(docs, tmp_path / "en-idx", HashEmbedder(), 60, 0)
    return Retriever(load_index(tmp_path / "en-idx"), HashEmbedder(), 0.3)


def test_english_refusal_before_a_retry_is_never_shown(english_retriever: Retriever) -> None:
    retriever = english_retriever
    hits = retriever.search("How much will SuedLink cost?", 2).hits
    n = next(h.rank for h in hits if h.source == "grid.txt")
    # Seen with the default model over an English folder: the refusal phrase, then (asked
    # again) the answer. Only the answer may reach the terminal.
    generator = ScriptedGenerator(
        "The documents do not contain this information.",
        f"SuedLink will cost about 10 billion euros [{n}].",
    )
    streamed: list[str] = []
    answer = Answerer(retriever, generator, top_k=2).ask(
        "How much will SuedLink cost?", on_token=streamed.append
    )
    assert answer.retried and not answer.refused
    assert "".join(streamed) == f"SuedLink will cost about 10 billion euros [{n}]."


def test_chinese_question_over_english_passages_is_answered_in_english_then_translated(
    english_retriever: Retriever,
) -> None:
    hits = english_retriever.search("How much will SuedLink cost?", 2).hits
    n = next(h.rank for h in hits if h.source == "grid.txt")
    generator = ScriptedGenerator(
        "How much will SuedLink cost?",
        f"SuedLink will cost about 10 billion euros [{n}].",
        "SuedLink 大约要花 100 亿欧元。",
    )
    streamed: list[str] = []
    answer = Answerer(english_retriever, generator, top_k=2, rules=ONE_READING).ask(
        "SuedLink 要花多少錢？", on_token=streamed.append
    )
    assert not answer.refused and answer.script == "traditional"
    # The question is translated for retrieval and asked in English, where the passages'
    # words can check the draft; the checked sentence is translated back, in Traditional.
    assert answer.translated_question == "How much will SuedLink cost?"
    draft_prompt = generator.prompts[1][1]["content"]
    assert "How much will SuedLink cost?" in draft_prompt and "in English" in draft_prompt
    assert "SuedLink will cost about 10 billion euros" in generator.prompts[2][0]["content"]
    assert answer.answer == f"SuedLink 大約要花 100 億歐元[{n}]。"
    assert [c.source for c in answer.citations] == ["grid.txt"]
    # Shown a sentence at a time, converted whole: what was shown is what is kept.
    assert same_answer(answer.answer, "".join(streamed))
    # A translation that changes a number is not shown: the checked English sentence is.
    generator = ScriptedGenerator(
        "How much will SuedLink cost?",
        f"SuedLink will cost about 10 billion euros [{n}].",
        "SuedLink 大約要花 10 億歐元。",
    )
    answer = Answerer(english_retriever, generator, top_k=2, rules=ONE_READING).ask(
        "SuedLink 要花多少錢？"
    )
    assert answer.answer == f"SuedLink will cost about 10 billion euros[{n}]."
    # Without a usable translation of the question (Chinese left in it, or an answer instead
    # of a question), it is answered as before, in Chinese.
    for reply in ("SuedLink 要花多少錢？", "SuedLink will cost about 10 billion euros."):
        generator = ScriptedGenerator(reply, "資料中沒有相關資訊", "資料中沒有相關資訊")
        answer = Answerer(english_retriever, generator, top_k=2, rules=ONE_READING).ask(
            "SuedLink 要花多少錢？"
        )
        assert answer.refused and answer.translated_question is None
        assert generator.prompts[1][1]["content"].rstrip().endswith("用繁體中文。")


def test_refusal_begun_then_abandoned_is_cut(english_retriever: Retriever) -> None:
    hits = english_retriever.search("How much will SuedLink cost?", 2).hits
    n = next(h.rank for h in hits if h.source == "grid.txt")
    generator = ScriptedGenerator(
        f"The documents do not contain this[{n}] SuedLink will cost about 10 billion euros."
    )
    streamed: list[str] = []
    answer = Answerer(english_retriever, generator, top_k=2).ask(
        "How much will SuedLink cost?", on_token=streamed.append
    )
    assert not answer.refused and not answer.retried
    shown = f"[{n}] SuedLink will cost about 10 billion euros."
    assert "".join(streamed) == shown and answer.raw_answer == shown
    assert answer.answer == f"SuedLink will cost about 10 billion euros[{n}]."


def test_a_copied_title_block_is_shown_cut_and_json_says_so(tmp_path: Path) -> None:
    answerer, _ = _one_document(
        tmp_path,
        "Peter Wu (吳漢章), Ph.D.\n\n台智雲 總經理\n\nTCA AI大聯盟 會長",
        "Who is the general manager of Taiwan AI Cloud?",  # searched in English too
        "吳漢章 (吳漢章), Ph.D. 台智雲 總經理 TCA AI大聯盟 會長 [1]",
    )
    answer = answerer.ask("台智雲的總經理是誰？")
    assert answer.answer == "吳漢章 (吳漢章), Ph.D. 台智雲 總經理[1]"
    assert [s["cut_by"] for s in answer.to_json()["sentences"]] == ["copied_lines"]
