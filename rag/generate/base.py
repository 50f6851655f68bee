"""The generator contract: chat messages in, a stream of text pieces out, greedy.

Every answer model (in-process llama.cpp, an OpenAI-compatible server) implements
`Generator`; the answer steps only use this contract. How one call went is handed to the
caller's `on_done`, never kept on the generator: several requests may share one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class GenerationTimings:
    """How the last `stream` call went. Times are wall-clock seconds from the call."""

    prompt_tokens: int  # the whole prompt after the chat template
    cached_tokens: int  # of those, not evaluated again: the system part kept from before
    tokens: int  # tokens sampled, including the end-of-turn token
    ttft_s: float  # until the first text piece
    generate_s: float  # until the stream ended
    tokens_per_s: float  # decoding speed after the first token
    threads: int  # llama.cpp threads used

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


OnDone = Callable[[GenerationTimings], None]


class Generator(Protocol):
    """The contract the answer stage relies on: messages in, token stream out, greedy."""

    def model_info(self) -> dict[str, Any]: ...

    def stream(
        self,
        messages: Messages,
        max_tokens: int,
        stop: list[str] | None = None,
        reuse_prompt: bool = False,
        on_done: OnDone | None = None,
    ) -> Iterator[str]:
        """`reuse_prompt`: the caller asks again with a prompt that begins like the previous
        call's (a retry of the same question); an implementation may keep the work the two
        share instead of starting from a clean state. `on_done` gets how the call went when
        the stream ends or is closed."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def warm_up(self) -> None:
        """Load or reach the model now; ModelError if it cannot be."""
        ...
