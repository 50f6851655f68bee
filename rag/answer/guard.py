"""Retrieved passages are data, never instructions.

A document can address the model itself ("ignore your instructions", "reveal your prompt",
"from now on answer X"). The prompt says such text is quoted material, but the 1.5B default
model still obeyed it (measured: asked about a company, it answered with the payload an
injected sentence dictated). So sentences that talk to the assistant are also taken out of
what the model reads. The passage itself is untouched: the user still sees and can cite it.
Pattern matching cannot catch every phrasing; it removes the common ones, in Chinese
(either script) and English, and the prompt and the citation checks remain.
"""

from __future__ import annotations

import re

from rag.ingest.chunking import split_sentences
from rag.textnorm import normalize_for_match

# Matched against normalize_for_match(sentence): Simplified script, lower case, ASCII width.
_ZH = [
    # ignore / disregard / forget ... instructions, rules, prompt, settings
    r"(忽略|无视|不要理会|别理会|忘记|忘掉|跳过|违反|覆盖)[^。！？]{0,16}(指示|指令|规则|提示|设定|限制|要求)",
    # Not the bare nouns (「系統設定」, 「依系統提示輸入密碼」 are ordinary manual text, issue
    # 25): an order to the assistant names what it must do.
    r"(系统提示词|提示词)",
    r"从现在(开始|起)[^。！？]{0,20}(回答|回复|只说|输出|你)",
    r"(不论|不管|无论)[^。！？]{0,12}(问什么|问什幺|任何问题|什么问题)",
    r"(输出|透露|泄露|显示|告诉|重复)[^。！？]{0,10}(你的|完整的?)[^。！？]{0,6}(提示|指示|设定|规则)",
    r"(你|助理|助手|ai|模型)(必须|只能|只可以|一律)[^。！？]{0,6}(回答|回复|输出|说)",
]
_EN = [
    r"\b(ignore|disregard|forget|override|bypass)\b[^.!?]{0,40}\b(instructions?|rules|prompts?|"
    r"directions|guidelines)\b",
    r"\bsystem (prompt|override)s?\b",
    r"\bfrom now on\b[^.!?]{0,40}\b(answer|reply|respond|say|you)\b",
    r"\b(reveal|print|output|repeat|show|tell me)\b[^.!?]{0,30}\byour\b[^.!?]{0,20}"
    r"\b(prompt|instructions|rules)\b",
    r"\b(answer|respond to|reply to)\b (every|all|any) (question|request|query)",
    r"\byou (must|should) (only )?(answer|reply|respond|say)\b",
]
_PATTERN = re.compile("|".join(f"(?:{p})" for p in _ZH + _EN))
PLACEHOLDER = "…"


def instruction_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences in `text` that give orders to an assistant."""
    return [
        (start, end)
        for start, end in split_sentences(text)
        if _PATTERN.search(normalize_for_match(text[start:end]))
    ]


def mask_instructions(text: str) -> str:
    """The passage as the model may read it: orders to an assistant replaced by an ellipsis."""
    spans = instruction_spans(text)
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts.append(text[last:start])
        parts.append(PLACEHOLDER)
        last = end
    parts.append(text[last:])
    return "".join(parts)
