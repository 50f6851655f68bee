from __future__ import annotations

from rag.check.catalog import ALL_ON, RuleSet
from rag.check.numbers import measure_conflict, passage_numbers, quantities
from rag.check.rules import asks_money, named_terms, states_money
from rag.check.sentences import parse_markers, split_sentences
from rag.check.support import check_citations, coverage, grams, lexical_support

PASSAGES = [
    "台灣最新最快的超級電腦: 晶創26 (Nano 4) 世界排名29!",
    "華碩雲端暨台智雲總經理吳漢章指出，主權AI的本質已經不只是技術問題。",
    "歐盟通過了AI Act，重視合規與倫理。",
]


def test_marker_forms() -> None:
    assert parse_markers("甲[1]乙【2】丙[3, 1]丁[1，2]戊［2］己[1-3]") == [
        1,
        2,
        3,
        1,
        1,
        2,
        2,
        1,
        2,
        3,
    ]


def test_marker_after_full_stop_joins_its_sentence() -> None:
    assert split_sentences("晶創26排名第29。[1] 總經理是吳漢章。【2】") == [
        "晶創26排名第29。[1]",
        "總經理是吳漢章。【2】",
    ]
    assert split_sentences("Nano 4 ranks 29th [1]. Its score is 81.55 [1].") == [
        "Nano 4 ranks 29th [1].",
        "Its score is 81.55 [1].",
    ]


def test_correct_citation_is_kept() -> None:
    result = check_citations("台智雲總經理是吳漢章[2]。", PASSAGES)
    (sentence,) = result.sentences
    assert sentence.citations == [2] and sentence.supported and not sentence.repaired
    assert result.answer == "台智雲總經理是吳漢章[2]。"


def test_wrong_citation_is_repaired() -> None:
    result = check_citations("台灣最快的超級電腦晶創26世界排名29[3]。", PASSAGES)
    (sentence,) = result.sentences
    assert sentence.citations == [1] and sentence.repaired and sentence.supported


def test_missing_citation_is_added_and_bad_marker_dropped() -> None:
    result = check_citations("歐盟通過了AI Act。總經理是吳漢章[7]。", PASSAGES)
    assert [s.citations for s in result.sentences] == [[3], [2]]
    assert result.dropped_markers == [7]


def test_invented_number_is_unsupported() -> None:
    result = check_citations("晶創26世界排名第15名[1]。", PASSAGES)
    (sentence,) = result.sentences
    assert not sentence.supported and sentence.citations == []
    assert not result.any_supported


def test_script_does_not_matter_for_support() -> None:
    assert lexical_support("台智云总经理是吴汉章", PASSAGES[1]) > 0.7


def test_lead_in_is_not_a_claim() -> None:
    result = check_citations("根據資料：\n總經理是吳漢章[2]。", PASSAGES)
    assert result.sentences[0].citations == [] and result.sentences[0].supported
    assert result.sentences[1].citations == [2]


def test_a_dropped_sentence_says_what_dropped_it() -> None:
    """The support rule without which a passage would have supported the sentence, else
    "support"; nothing for a kept sentence."""
    question = "晶創26在TOP500排第幾名？"
    passage = ["晶創26在TOP500排名第29名。"]

    def dropped(answer: str, passages: list[str], asked: str, rules: RuleSet = ALL_ON) -> str:
        result = check_citations(answer, passages, question=asked, rules=rules)
        return result.sentences[0].dropped_by

    assert dropped("晶創26排名第30名[1]。", passage, question) == "numbers_stated"
    assert dropped("今天天氣很好，適合去海邊散步[1]。", passage, question) == "support"
    assert dropped("晶創26在TOP500排名第29名[1]。", passage, question) == ""
    rival = ["韓國在這項指數排名第6名，領先多國。"]
    asked = "日本在這項指數排第幾名？"
    assert dropped("日本在這項指數排名第6名[1]。", rival, asked) == "question_names"
    # A rule that is off is not blamed.
    off = RuleSet.parse("numbers_stated")
    assert dropped("晶創26排名第30名[1]。", passage, question, off) == ""


def test_answer_is_rebuilt_with_checked_markers() -> None:
    result = check_citations("Nano 4 ranks 29 [3]. 總經理是吳漢章。[2]", PASSAGES)
    assert result.answer == "Nano 4 ranks 29[1]. 總經理是吳漢章[2]。"


def test_dates_in_slides_match_their_parts() -> None:
    passage = "2025.11 台灣共10台上榜"
    assert lexical_support("2025年11月台灣共10台上榜", passage) > 0.7
    assert lexical_support("81.5分", "得分81.55") == 0.0


def test_support_must_come_from_one_place_in_the_passage() -> None:
    passage = (
        "沙烏地阿拉伯成立了Humain公司。\n\n" + "其他內容。" * 10 + "\n\n黃仁勳是輝達的執行長。"
    )
    claim = "Humain的執行長是黃仁勳"
    scattered = coverage(grams(claim), passage)
    assert lexical_support(claim, passage) < scattered


def test_restating_the_question_needs_no_support() -> None:
    question = "會自己拆解問題、協同執行任務的AI叫什麼？"
    passage = "這一波AI的核心是「代理式AI」（Agentic AI）。"
    answer = "會自己拆解問題、協同執行任務的AI叫做「代理式AI」。"
    assert lexical_support(answer, passage, question) >= 0.5
    assert lexical_support(answer, passage) < 0.5


def test_numbers_in_chinese_numerals_and_with_thousands_separators() -> None:
    passage = "印度計畫建造配備至少一萬顆 GPU 的超級電腦，共有256,960個核心。"
    assert lexical_support("印度的超級電腦至少配1萬顆GPU。", passage) >= 0.5
    assert lexical_support("這台超級電腦共有256,960個核心。", passage) >= 0.5
    # 256 alone is not stated: 256,960 is one number.
    assert lexical_support("這台超級電腦有256個核心。", passage) == 0.0
    assert passage_numbers("二十五人與十家公司") >= {"25", "10"}


def test_numbers_the_question_gives_need_no_support() -> None:
    passage = "台灣在越前段，能見度越高（前 100 有 3 台，前 300 有 5 台）"
    question = "TOP500前300名裡面，台灣有幾台？"
    answer = "TOP500前300名裡面，台灣有5台。"
    assert lexical_support(answer, passage, question) >= 0.5
    assert lexical_support(answer, passage) == 0.0  # 500 is nowhere in the passage


def test_named_terms_of_a_question() -> None:
    assert named_terms("沙烏地阿拉伯那家公司Humain的執行長是誰？") == {"humain"}
    assert named_terms("《AI基本法》是哪一天通過的？") == {"ai基本法"}
    assert named_terms("台智雲的總經理是誰？") == set()


def test_a_number_counted_in_other_units_is_unsupported() -> None:
    passage = "台灣約有1000家中小型B2B軟體公司。"
    assert lexical_support("台灣約有1000家B2B軟體公司。", passage) >= 0.5
    assert lexical_support("台灣約有1,000名B2B軟體工程師。", passage) == 0.0
    assert measure_conflict("共1000名員工", "約有1000家公司")
    # A bare table cell says nothing of units: no conflict.
    assert not measure_conflict("排第46名", "| 本次排行 | 主機名稱 |\n| 46 | Ublink |")
    assert quantities("超過 200 個機關、逾 6 億 Tokens") == {"200": {"个"}, "6": {"亿"}}


def test_a_scaled_number_needs_the_scale_in_the_window() -> None:
    row = "| 本次排行 | 首次(年)排行 | 主機名稱 |\n| 135 | (2025) 118 | Nano5 |"
    # 118億 is not the 118 of a ranking column (seen: a revenue question answered so).
    assert measure_conflict("台積電2025年全年營收是118億台幣", row)
    question = "台積電2025年營收是多少？"
    assert lexical_support("台積電2025年全年營收是118億台幣。", row, question) == 0
    # A header that gives the scale, or the passage writing it, is support.
    assert not measure_conflict("營收118億元", "| 公司 | 營收(億元) |\n| 台積電 | 118 |")
    assert not measure_conflict("投資12.5億美元", "計畫投資 12.5 億美元開發運算基礎設施")
    assert not measure_conflict("至少1萬顆GPU", "建造配備至少一萬顆 GPU 的超級電腦")


def test_a_number_restated_from_the_question_needs_no_units_of_the_passage() -> None:
    window = "天文學家認為大約有3乘以10的23次方。"
    sentence = "認為宇宙上的恆星有3×10^23顆的科學家來自美國。"
    assert measure_conflict(sentence, window)
    assert not measure_conflict(sentence, window, "認為恆星有3×10^23顆的科學家來自哪邊？")
    # Units the question does not give are still checked.
    assert measure_conflict("有23名科學家", window, "認為恆星有3×10^23顆的科學家來自哪邊？")


def test_money_questions() -> None:
    assert asks_money("晶創26總共花了多少錢建置？")
    assert asks_money("How much did the supercomputer cost?")
    assert not asks_money("晶創26的Rmax是多少？")
    assert states_money("約新台幣50億元") and states_money("US$1.2 billion")
    assert states_money("十二億") and not states_money("81.55 PFlops")
    assert asks_money("GB10 AI PC售價多少？") and asks_money("What is the price of the GB10?")
    assert not asks_money("搭台馬輪從南竿到東引要花費多少時間？")


def test_a_bare_number_must_stand_next_to_the_names_asked_about() -> None:
    question = "日本在2023年全球人工智慧指數排第幾名？"
    header = "表2 2023年全球人工智慧指數排名前五名國家\n"
    answer = "日本在2023年全球人工智慧指數排第4名。"
    assert lexical_support(answer, header + "| 4 | 加拿大 |", question) == 0.0
    assert lexical_support(answer, header + "| 4 | 日本 |", question) >= 0.5
    # jieba cuts 友崑那 as one name: one of its character pairs is enough.
    row = "| 本次排行 | 主機名稱 | 所屬機構 |\n| 46 | Ublink | 友崑 (Ublink) |"
    asked = "友崑那台Ublink在最新一期排第幾名？"
    assert lexical_support("友崑那台Ublink在最新一期排第46名。", row, asked) >= 0.5


def test_the_kind_of_thing_asked_for_is_not_a_name_the_window_must_give() -> None:
    # jieba tags 東西 and 城市 as place names; after 什麼 / 哪一座 they are what is asked for.
    question = "在生產的發展中，什麼東西的出現，導致私有制的概念？"
    passage = "隨著生產的發展，產品出現了剩餘，由此產生了私有制。"
    assert lexical_support("產品出現了剩餘，由此產生了私有制。", passage, question) >= 0.5
    # A name the question gives still has to be there.
    city = "哪一座城市是德國的首都？"
    assert lexical_support("柏林是首都。", "柏林是法國的首都。", city) == 0.0
    assert lexical_support("柏林是首都。", "柏林是德國的首都。", city) >= 0.5


def test_a_sentence_joining_two_rows_is_supported_by_both() -> None:
    header = "| 本次排行 | 主機名稱 | 所屬機構 |\n"
    rows = [header + "| 159 | HHSAICC2 | 鴻海 |", header + "| 244 | HHSAICC1 | 鴻海 |"]
    question = "鴻海的兩台超級電腦在榜上分別排第幾？"
    both = check_citations("鴻海的兩台超級電腦分別排第159和244名[1]。", rows, question=question)
    assert both.sentences[0].supported and both.sentences[0].citations == [1, 2]
    # A number neither row states is not rescued by reading them together.
    wrong = check_citations("鴻海的兩台超級電腦分別排第159和245名[1]。", rows, question=question)
    assert not wrong.sentences[0].supported
    # Both numbers from one passage (an article's date), the words from another: not joint.
    passages = [
        "印度的「印度 AI 使命」計畫投資 12.5 億美元建造超級電腦。",
        "輝達晶片助攻台灣超級電腦 2025/11/21 12:57",
    ]
    dated = check_citations(
        "印度的「印度 AI 使命」計畫預計在 2025 年 11 月完成[1]。",
        passages,
        question="印度AI任務的超級電腦什麼時候會完成？",
    )
    assert not dated.any_supported
    assert asks_money("台積電2025年全年營收是多少？")


def test_a_question_asking_for_a_number_needs_one() -> None:
    from rag.check.rules import number_missing

    assert number_missing("晶創26一共有多少個核心？", "晶創26是台灣最快的超級電腦。")
    assert not number_missing("晶創26一共有多少個核心？", "共有256,960個核心。")
    assert not number_missing("全球AI指數從幾個面向評比？", "從七個維度評估。")
    assert number_missing("How many cores does it have?", "它是超級電腦。")
    # The question's own number is no answer: 晶創26's 26 does not count.
    assert number_missing("晶創26一共有多少個核心？", "晶創26很快。")
    # 「幾」 that does not ask for a count, and questions that ask why or who.
    assert not number_missing("這幾年台灣AI發展的重點是什麼？", "重點是主權AI。")
    assert not number_missing("整合成幾家大公司，為什麼不容易？", "每個人都想當老闆。")
    assert not number_missing("幾何光學又稱為什麼？", "射線光學。")


def test_a_question_asking_which_year_needs_one() -> None:
    from rag.check.rules import year_missing

    assert year_missing("台灣杉二號是哪一年上榜的？", "它由國網中心建置。")
    assert not year_missing("台灣杉二號是哪一年上榜的？", "2018年首次上榜。")
    assert year_missing(
        "In what year was Git first released?", "The first line tells Git to ignore .o files."
    )
    assert not year_missing("In what year was Git first released?", "Git was released in 2005.")
    assert not year_missing("台灣杉二號在哪裡？", "在新竹。")


def test_office_a_question_asks_the_holder_of() -> None:
    from rag.check.rules import asked_office

    assert asked_office("台智雲的董事長是誰？")[0] == "董事长"
    assert asked_office("国网中心现在的主任是谁？") == ("主任",)
    assert "ceo" in asked_office("哪一位是輝達的執行長？")
    # An office as the kind of person asked about, a question that asks no one, English.
    assert asked_office("哪位美國總統發表了國恥演說？") == ()
    assert asked_office("董事長的任期有多長？") == ()
    assert asked_office("Who is the CEO of NVIDIA?") == ()


def test_a_bare_name_is_an_answer_checked_like_a_sentence() -> None:
    rows = ["| 本次排行 | 所屬機構 | 製造商 |\n| 256 | 中央氣象局 | Fujitsu |"]
    question = "Which vendor built the Central Weather Bureau machines?"
    bare = check_citations("[1] Fujitsu", rows, question=question)
    assert bare.any_supported and bare.sentences[0].citations == [1]
    twice = check_citations("[1] Fujitsu\n\n[2] Fujitsu", rows + rows, question=question)
    assert twice.answer == "Fujitsu[1][2]"
    assert not check_citations("[1] Lenovo", rows, question=question).any_supported
    assert check_citations("吳漢章[1]", ["台智雲總經理吳漢章"]).any_supported
    assert not check_citations("不是[1]", ["這不是問題"]).any_supported  # too short to check


def test_a_table_row_reads_with_its_caption_and_header() -> None:
    from rag.check.support import windows

    passage = "超級電腦晶創26模擬示意圖。\n| Rank | System | Rpeak |\n| 29 | Nano 4 | 117.92 |"
    head = "超級電腦晶創26模擬示意圖。\n| Rank | System | Rpeak |"
    assert windows(passage) == [head, f"{head}\n| 29 | Nano 4 | 117.92 |"]
    header_first = "| Rank | System |\n| 29 | Nano 4 |\n| 46 | Ublink |"
    assert windows(header_first)[:2] == ["| Rank | System |", "| Rank | System |\n| 29 | Nano 4 |"]
    question = "晶創26的理論峰值Rpeak有多少？"
    found = check_citations("晶創26的Rpeak為117.92[1]。", [passage], question=question)
    assert found.any_supported
    invented = check_citations("晶創26的Rpeak為81.55[1]。", [passage], question=question)
    assert not invented.any_supported


def test_a_list_item_reads_with_the_line_that_opens_it() -> None:
    from rag.check.support import windows

    article = (
        "雇主聘僱下列學生從事工作，得不受第四十六條第一項規定之限制；"
        "其工作時間除寒暑假外，每星期最長為二十小時：\n"
        "一、就讀於公立或已立案私立大專校院之外國留學生。\n"
        "二、就讀於公立或已立案私立高級中等以上學校之僑生及其他華裔學生。\n"
        "第 51 條"
    )
    lead, _, second, _ = article.splitlines()
    assert f"{lead}\n{second}" in windows(article)
    assert not any(w.endswith("第 51 條") and w.startswith("雇主") for w in windows(article))
    question = "外國留學生在台灣打工，除了寒暑假以外，每星期最多能工作幾個小時？"
    answer = "雇主聘僱外國留學生從事工作，其工作時間除寒暑假外，每星期最長為二十小時[1]。"
    assert check_citations(answer, [article], question=question).any_supported
    invented = answer.replace("二十小時", "三十小時")
    assert not check_citations(invented, [article], question=question).any_supported


def test_a_slide_of_short_lines_reads_as_one_window() -> None:
    slide = "Peter Wu (吳漢章), Ph.D.\n\n台智雲 總經理\n\nTCA AI大聯盟 會長\n\n2025~2026是關鍵年份"
    answer = "吳漢章, Ph.D. 台智雲 總經理 TCA AI大聯盟 會長 2025~2026是關鍵年份[1]"
    assert check_citations(answer, [slide], question="台智雲的總經理是誰？").any_supported
    # Long lines are prose: a claim spread over three of its sentences is not one statement.
    prose = "\n".join(
        [
            "吳漢章在論壇上談到台灣在全球AI產業鏈中的位置，以及各國政府與民間的投資方向與優先順序。",
            "他指出台智雲近年持續投入大型語言模型與雲端算力服務，並與國網中心合作建置新的超級電腦。",
            "至於2025年到2026年，他認為是定位台灣AI競爭力的關鍵年份，政府與民間都應加速投資。",
        ]
    )
    claim = "吳漢章指出台灣全球AI產業鏈、台智雲大型語言模型、2025年關鍵年份[1]。"
    assert not check_citations(claim, [prose], question="吳漢章說了什麼？").any_supported


def test_rules_do_not_misread_ordinary_words() -> None:
    """Seen on held-out documents (issue 25): 元件 is no price, 首先 no number, and a name
    with a space is the same name without it."""
    from rag.check.rules import number_missing
    from rag.check.support import lexical_support

    assert not states_money("這個元件很重要。") and not states_money("每個單元都要測試。")
    assert states_money("售價為五十元。") and states_money("100美元") and states_money("3,000元")
    assert number_missing("安裝要幾個步驟？", "首先打開設定頁。")
    assert not number_missing("安裝要幾個步驟？", "首次安裝需要三個步驟。")
    question = "晶創26在Top 500排第幾名？"
    assert lexical_support("晶創26排名第29名。", "晶創26在TOP500排名第29名。", question) >= 0.5


def test_a_number_that_labels_a_part_of_a_text_is_no_amount() -> None:
    """「第 4 條」 and 「第三節」 count nothing (issue 25, failure class 7): an answer made of
    article numbers does not say how much or how long, unless the question asks which part."""
    from rag.check.judge import judge
    from rag.check.rules import number_missing

    assert number_missing("房租依法最多可以漲幾個百分比？", "第 4 條 第 459 條")
    assert number_missing("安裝要幾個步驟？", "見第三節。")
    assert number_missing("How many days does it take?", "See Section 5.2.")
    assert not number_missing("加班最多幾小時？", "依第 32 條，每月不得超過四十六小時。")
    assert not number_missing("這規定在勞基法第幾條？", "第 32 條")
    passage = "著作權法 第 56-1 條 錄製物應於錄製後六個月內銷燬之。"
    question = "錄好的帶子最晚要在多久內銷毀？"
    assert judge(question, "traditional", "第 56-1 條[1]", [passage]).refused_by == "asked_measure"
    assert not judge(question, "traditional", "應於錄製後六個月內銷燬[1]。", [passage]).refused


def test_a_number_is_not_found_inside_a_longer_one() -> None:
    """「晶創26在TOP500排第29名」 was supported by a table row's 「29.6%」 (another column of
    another country): a number in a sentence is not the start of a decimal or a longer number
    in the passage; a date written with a point still holds its year and month."""
    from rag.check.numbers import numbers

    question = "晶創26在TOP500排第幾名？"
    shares = "| 國籍 | Top500 |\n| 美國 | 46.6% |\n| 中國 | 29.6% |"
    assert not check_citations(
        "晶創26在TOP500排第29名[1]。", [shares], question=question
    ).any_supported
    ranks = "晶創26在最新一期TOP500排名第29名。"
    checked = check_citations("晶創26在TOP500排第29名[1]。", [shares, ranks], question=question)
    assert checked.sentences[0].citations == [2]
    assert "29" not in numbers("29.6%") and {"2025", "11"} <= numbers("2025.11 發表")
    assert "1290" in numbers("1290") and "29" not in numbers("1290")
