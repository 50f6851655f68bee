"""The direct answer: the words of a checked answer that fill the question's slot."""

from __future__ import annotations

import pytest

from rag.answer.direct import direct_answer


@pytest.mark.parametrize(
    ("question", "answer", "direct"),
    [
        # The slot inside the question, the sentence restating it around the answer.
        ("岳飛升轉任武功大夫是因為誰的推薦?", "岳飛升轉任武功大夫是因為張俊的推薦[1]。", "張俊"),
        # A measure word or the kind asked for goes with the answer.
        ("新弗洛伊德學派於哪一個世紀誕生?", "新弗洛伊德學派於二十世紀誕生[1]。", "二十世紀"),
        (
            "台灣杉二號是哪一年第一次擠進TOP500的？",
            "台灣杉二號是2018年第一次擠進TOP500的[2]。",
            "2018年",
        ),
        (
            "吳漢章建議透過哪個政府基金來推動中小軟體業者整併？",
            "吳漢章建議透過國發基金推動中小軟體業者整併[1]。",
            "國發基金",
        ),
        # The slot at the end; 「…是?」 asks for what follows it; an answer after a colon.
        (
            "南斯拉夫北方有兩個國家，一個是羅馬尼亞，另一個是?",
            "南斯拉夫北方有兩個國家，一個是羅馬尼亞，另一個是匈牙利[1]。",
            "匈牙利",
        ),
        ("《建築十書》是用什麼文字寫成?", "《建築十書》是用拉丁文寫成的[1]。", "拉丁文"),
        (
            "2001年對網易產生了很大影響的事情為何?",
            "2001年對網易產生了很大影響的事情為：網際網路泡沫破滅，股價大跌[1]。",
            "網際網路泡沫破滅",
        ),
        # The question word first: what the sentence says before repeating the rest.
        (
            "哪一個建築為分割東西歐的鐵幕的一個象徵?",
            "柏林圍牆是分割東西歐的鐵幕的一個象徵[1]。",
            "柏林圍牆",
        ),
        # The other way round: the answer, 是, then the question's subject.
        ("台智雲的總經理是誰？", "吳漢章是台智雲的總經理[1]。", "吳漢章"),
        # Simplified, and the second sentence when the first does not restate the question.
        (
            "客语资料库大概有多少小时的数据？",
            "根据资料。客语资料库大概有1000小时的数据[1]。",
            "1000小时",
        ),
    ],
)
def test_the_words_that_fill_the_slot_are_the_direct_answer(
    question: str, answer: str, direct: str
) -> None:
    assert direct_answer(question, answer) == direct


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        # Why, how and yes-or-no questions are answered by a clause, not a phrase.
        (
            "輝達為什麼會挑台灣當研發中心？",
            "輝達選擇臺灣作為研發中心，是看中臺灣豐富的電子生產資料[1]。",
        ),
        ("機關手槍可不可以連發?", "是的，機關手槍可以連發[1]。"),
        # The sentence does not restate what comes right before the slot.
        (
            "微软和OpenAI联合推出的那个计划叫什么？",
            "「OpenAI for Countries」计划，目的在降低落差[1]。",
        ),
        # A subject answer must come right before the rest of the sentence.
        ("哪個組織負責管理美國海岸防衛隊?", "在文人組織方面，美國海岸防衛隊隸屬於國土安全部[1]。"),
        # The subject repeated without 是 before it: 「巴西在|1930年…」 says nothing new.
        (
            "1930年巴西在第一輪即被淘汰的比賽為哪一個?",
            "巴西在1930年烏拉圭世界盃上第一輪即被淘汰[1]。",
        ),
        # Cut in the wrong place: anchored on 「的」 and 「在」 of different clauses, the span
        # starts with a particle.
        (
            "東德的私有企業主在何時到後一年得期間內多了176300人？",
            "根據原東德統計，私有企業主的數目從1984年的大約500人增加到1985年的大約176,800人[1]。",
        ),
        # A year asked, and no number between the repeated parts: the year is elsewhere.
        (
            "「霍布斯主義」這一詞在哪一年之後被用於稱呼那些態度?",
            "在1660年王政復辟後，「霍布斯主義」這一詞開始被用於稱呼那些態度[1]。",
        ),
        # One character between them is a word of the sentence, not an answer.
        (
            "北美洲的原住民在哪一個時期進入了曼尼托巴境內?",
            "冰河時期，當時北美洲的原住民就進入了曼尼托巴境內[1]。",
        ),
        # Before the rest of a question that starts with its question word, the question's own
        # words (the kind asked for aside) are no answer.
        ("哪一間綜合性的科研機構是韓國的第一家？", "韓國首個綜合性科研機構韓國科學技術研究院[1]。"),
        # Two questions in one.
        ("新加坡排第几？后来又投入多少钱？", "新加坡排第5名，后来投入7.7亿新加坡元[1]。"),
        # English answers reorder the question.
        ("How long does Git cache a password?", "Git caches it for 15 minutes [1]."),
    ],
)
def test_no_direct_answer_where_no_phrase_fills_the_slot(question: str, answer: str) -> None:
    assert direct_answer(question, answer) is None


def test_the_kind_asked_for_and_no_preposition_in_the_direct_answer() -> None:
    question = "哪一種類動物的循環系統是屬於開放式的?"
    assert direct_answer(question, "無脊椎動物的循環系統是屬於開放式的[1]。") == "無脊椎動物"
    assert direct_answer("該島在何時併入?", "該島在於1959年併入[1]。") == "1959年"


def test_a_span_too_long_to_be_a_phrase_is_no_direct_answer() -> None:
    filler = "這是一段很長的說明文字沒有任何標點符號而且一直延續下去直到超過上限為止真的很長"
    assert direct_answer("這份報告的結論是?", f"這份報告的結論是{filler}[1]。") is None
