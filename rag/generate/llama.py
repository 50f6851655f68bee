"""The in-process answer model: a GGUF run by llama-cpp-python, loaded lazily, kept loaded."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.cores import available_cores, idle_cores
from rag.errors import ModelError
from rag.generate.base import GenerationTimings, Messages, OnDone
from rag.generate.provision import (
    DEFAULT_MODEL_FILE,
    DEFAULT_MODEL_LICENSE,
    DEFAULT_MODEL_NAME,
    GgufInfo,
    inspect_gguf,
)

log = logging.getLogger(__name__)

LLAMA_CPP_MISSING = (
    "llama-cpp-python is not installed, so no answer can be generated. Install it with\n"
    "  pip install llama-cpp-python\n"
    "(it compiles llama.cpp from source: 6-9 minutes on 2 cores, cmake and a C++ compiler "
    "needed)."
)
_SENTINEL = "\ue000"  # private-use character: marks where the first non-system message starts


class LlamaGenerator:
    """A GGUF chat model run by llama-cpp-python, greedy, kept loaded between calls.

    The system message(s) and the template text up to the first user message form a fixed
    prefix. It is always evaluated as its own batch and its KV cache is kept between calls, so
    a new question only evaluates the rest. Nothing longer is reused: llama.cpp's results
    depend slightly on how the prompt is split into batches, and reusing "whatever matched
    last time" made the same question give different greedy answers depending on history.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        name: str | None = None,
        n_ctx: int = 4096,
        n_threads: int = 0,
        n_batch: int = 512,
        use_mmap: bool = True,
    ) -> None:
        """`n_threads` 0 means: per call, every core that other processes leave idle."""
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_batch = n_batch
        self.use_mmap = use_mmap
        self._name = name
        self._llm: Any = None
        self._formatter: Any = None
        self._threads = 0
        self._gguf: GgufInfo | None = None
        self.load_s: float | None = None

    # -- loading -----------------------------------------------------------------------------

    def _header(self) -> GgufInfo:
        if self._gguf is None:
            self._gguf = inspect_gguf(self.model_path)
        return self._gguf

    def warm_up(self) -> None:
        """Import llama_cpp and load the model (once); ModelError if either is impossible."""
        if self._llm is not None:
            return
        try:
            import llama_cpp
            from llama_cpp import llama_chat_format
        except ImportError:
            raise ModelError(LLAMA_CPP_MISSING) from None
        # llama.cpp only says "Failed to load model" for a broken file; say exactly what is wrong.
        header = self._header()
        template = header.metadata.get("tokenizer.chat_template")
        if not isinstance(template, str) or not template.strip():
            raise ModelError(
                f"{self.model_path} has no chat template in its metadata, so it cannot be given "
                "chat messages. Use an instruct/chat GGUF (one with tokenizer.chat_template)."
            )
        start = time.perf_counter()
        self._threads = self.n_threads or available_cores()
        try:
            llm = llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self._threads,
                n_threads_batch=self._threads,
                n_batch=self.n_batch,
                use_mmap=self.use_mmap,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(
                f"llama.cpp could not load {self.model_path}: {exc}. The file passed the GGUF "
                "checks, so its architecture may be newer than this llama-cpp-python; try "
                "`pip install -U llama-cpp-python` or another model."
            ) from None
        eos, bos = llm.token_eos(), llm.token_bos()
        # The formatter Llama itself builds for "chat_template.default" (create_chat_completion);
        # holding it ourselves gives the exact prompt tokens, for counts and the cache policy.
        self._formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=self._special_text(llm, eos),
            bos_token=self._special_text(llm, bos),
            stop_token_ids=[eos],
        )
        self._llm = llm
        self.load_s = time.perf_counter() - start
        log.debug("loaded %s in %.2f s, %d threads", self.model_path, self.load_s, self._threads)

    @staticmethod
    def _special_text(llm: Any, token: int) -> str:
        if token < 0:
            return ""
        return bytes(llm.detokenize([token], special=True)).decode("utf-8", "replace")

    def close(self) -> None:
        """Free the model; the next call loads it again."""
        if self._llm is not None:
            self._llm.close()
        self._llm = None
        self._formatter = None

    # -- the contract --------------------------------------------------------------------------

    def model_info(self) -> dict[str, Any]:
        """Name, path, size and the header facts; does not load the model."""
        meta = self._header().metadata
        is_default = self.model_path.name == DEFAULT_MODEL_FILE
        name = self._name or (
            DEFAULT_MODEL_NAME if is_default else meta.get("general.name", self.model_path.stem)
        )
        arch = meta.get("general.architecture", "")
        return {
            "name": name,
            "path": str(self.model_path),
            "size": self._header().file_size,
            "architecture": arch,
            "trained_context": meta.get(f"{arch}.context_length"),
            "license": DEFAULT_MODEL_LICENSE if is_default else meta.get("general.license"),
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads or "auto",
            "loaded": self._llm is not None,
            "load_s": self.load_s,
        }

    def count_tokens(self, text: str) -> int:
        """Tokens in plain text (no chat template), with the model's own tokenizer."""
        self.warm_up()
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt_tokens(self, messages: Messages) -> list[int]:
        """The exact tokens the model will read for these messages, chat template included."""
        return self._render(messages)[1]

    def _render(self, messages: Messages) -> tuple[Any, list[int]]:
        self.warm_up()
        try:
            rendered = self._formatter(messages=messages)
        except Exception as exc:  # jinja2 errors and the template's own raise_exception
            raise ModelError(
                f"The chat template of {self.model_path.name} refused the messages: {exc}."
            ) from None
        tokens: list[int] = self._llm.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        return rendered, tokens

    def _fixed_prefix(self, messages: Messages, tokens: list[int]) -> int:
        """Tokens before the content of the first non-system message (0 if not clear-cut)."""
        first = next((i for i, m in enumerate(messages) if m.get("role") != "system"), None)
        if first is None:
            return 0
        probe = [*messages[:first], {"role": messages[first]["role"], "content": _SENTINEL}]
        try:
            text = self._formatter(messages=probe).prompt
        except Exception:  # a template may refuse the probe; then nothing is reused
            return 0
        cut = text.find(_SENTINEL)
        if cut <= 0:
            return 0
        head = self._llm.tokenize(text[:cut].encode("utf-8"), add_bos=False, special=True)
        n = len(head)
        return n if n < len(tokens) - 1 and tokens[:n] == head else 0

    def _prepare(self, messages: Messages, tokens: list[int], reuse: bool = False) -> int:
        """Leave exactly the fixed prefix in the KV cache (with `reuse`, all the tokens the
        previous call shares with this prompt); return how many tokens it kept."""
        llm = self._llm
        threads = self.n_threads or idle_cores()
        if threads != self._threads:
            import llama_cpp

            llama_cpp.llama_set_n_threads(llm.ctx, threads, threads)
            self._threads = threads
        kept = llm.input_ids[: llm.n_tokens].tolist()
        if reuse:
            # llama-cpp-python's own prefix match; at least one token is left to evaluate.
            shared = llm.longest_token_prefix(kept, tokens[:-1])
            if shared:
                llm.n_tokens = shared
                return shared
        n = self._fixed_prefix(messages, tokens)
        if n and len(kept) >= n and kept[:n] == tokens[:n]:
            llm.n_tokens = n  # Llama.generate drops the KV cache beyond this point
            return n
        llm.reset()
        if n:
            llm.eval(tokens[:n])  # same batch split as when it is reused: same results
        return 0

    def stream(
        self,
        messages: Messages,
        max_tokens: int,
        stop: list[str] | None = None,
        reuse_prompt: bool = False,
        on_done: OnDone | None = None,
    ) -> Iterator[str]:
        """Yield the answer's text pieces as they are generated (greedy, temperature 0).
        Every call starts from the same state (only the system part is kept), so an answer
        never depends on the question before it; with `reuse_prompt` the tokens this prompt
        shares with the previous call are kept too (a retry of the same question: still
        deterministic, and its shared passages are not evaluated twice)."""
        rendered, tokens = self._render(messages)
        if len(tokens) >= self.n_ctx:
            raise ModelError(
                f"The prompt is {len(tokens)} tokens but the context window holds {self.n_ctx}. "
                "Use fewer or shorter passages (lower top_k) or a larger n_ctx."
            )
        from llama_cpp import StoppingCriteriaList

        sampled = 0

        def count(_ids: Any, _logits: Any) -> bool:
            nonlocal sampled
            sampled += 1
            return False

        criteria = StoppingCriteriaList([*(rendered.stopping_criteria or []), count])
        stops = [s for s in [*(stop or []), *(rendered.stop or [])] if s]
        start = time.perf_counter()
        first: float | None = None
        cached = 0
        chunks: Any = None
        try:
            cached = self._prepare(messages, tokens, reuse_prompt)
            chunks = self._llm.create_completion(
                prompt=tokens,
                max_tokens=max_tokens,
                temperature=0.0,
                repeat_penalty=1.0,
                stop=stops,
                stream=True,
                stopping_criteria=criteria,
            )
            for chunk in chunks:
                piece = chunk["choices"][0]["text"]
                if piece:
                    if first is None:
                        first = time.perf_counter() - start
                    yield piece
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"llama.cpp failed while generating: {exc}.") from None
        finally:
            if chunks is not None:
                chunks.close()
            total = time.perf_counter() - start
            ttft = total if first is None else first
            decode = total - ttft
            timings = GenerationTimings(
                prompt_tokens=len(tokens),
                cached_tokens=cached,
                tokens=sampled,
                ttft_s=ttft,
                generate_s=total,
                tokens_per_s=(sampled - 1) / decode if sampled > 1 and decode > 0 else 0.0,
                threads=self._threads,
            )
            log.debug("generation: %s", timings)
            if on_done is not None:
                on_done(timings)
