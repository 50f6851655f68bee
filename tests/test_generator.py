from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_provision import write_gguf

from rag import cores as cores_module
from rag.errors import ModelError
from rag.generate.base import GenerationTimings, Generator
from rag.generate.llama import LlamaGenerator
from rag.generate.provision import DEFAULT_MODEL_NAME, ensure_default_model

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}<|im_start|>assistant\n"
)


def test_constructing_does_not_import_llama_cpp() -> None:
    code = (
        "import sys; from pathlib import Path; from rag.generate.llama import LlamaGenerator; "
        "LlamaGenerator(Path('x.gguf')); assert 'llama_cpp' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_llama_cpp_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    generator = LlamaGenerator(tmp_path / "m.gguf")
    with pytest.raises(ModelError, match="pip install llama-cpp-python"):
        list(generator.stream([{"role": "user", "content": "你好"}], max_tokens=4))


def test_truncated_model_is_refused_before_llama_cpp_sees_it(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    path = tmp_path / "cut.gguf"
    path.write_bytes(write_gguf(path, {"tokenizer.chat_template": CHATML})[:-10])
    with pytest.raises(ModelError, match=r"cut\.gguf is truncated"):
        LlamaGenerator(path).warm_up()


def test_model_without_chat_template_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    path = tmp_path / "base.gguf"
    write_gguf(path)
    with pytest.raises(ModelError, match="no chat template"):
        LlamaGenerator(path).warm_up()


@pytest.mark.parametrize(
    ("cores", "busy_share", "expected"),
    [(2, 0.0, 2), (2, 0.5, 1), (2, 0.1, 2), (4, 0.5, 2), (1, 1.0, 1)],
)
def test_threads_avoid_cores_other_processes_use(
    monkeypatch: pytest.MonkeyPatch, cores: int, busy_share: float, expected: int
) -> None:
    samples = iter([(0, 0), (int(busy_share * 1000), 1000)])
    monkeypatch.setattr(cores_module, "_cpu_jiffies", lambda: next(samples))
    monkeypatch.setattr(cores_module, "available_cores", lambda: cores)
    monkeypatch.setattr(cores_module.os, "cpu_count", lambda: cores)
    assert cores_module.idle_cores(window_s=0) == expected


def test_model_info_reads_the_header_without_loading(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    blob = write_gguf(path, {"llama.context_length": 2048, "general.license": "MIT"})
    info = LlamaGenerator(path, n_ctx=1024, n_threads=3).model_info()
    assert info["name"] == "tiny"
    assert info["size"] == len(blob)
    assert (info["architecture"], info["trained_context"], info["license"]) == (
        "llama",
        2048,
        "MIT",
    )
    assert (info["n_ctx"], info["n_threads"], info["loaded"]) == (1024, 3, False)


# --- the real default model ------------------------------------------------------------------

SYSTEM = (
    "你是一個嚴謹的問答助理，只能根據使用者提供的資料段落回答問題。"
    "規則：一、只使用段落中的事實，不可加入段落以外的知識。"
    "二、每一句話後面用 [n] 標出它根據的段落編號。"
    "三、如果段落裡沒有答案，就回答「資料中沒有這個問題的答案」，不要猜測。"
    "四、一律使用臺灣慣用的繁體中文回答，不要使用簡體字。"
    "五、回答要簡短，最多三句話，不要重複問題。"
) * 2  # long enough that re-reading it is clearly slower than reusing it


def ask(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


@pytest.fixture(scope="module")
def llama(shared_home: Path) -> Iterator[LlamaGenerator]:
    generator = LlamaGenerator(ensure_default_model(shared_home / "models"))
    generator.warm_up()
    yield generator
    generator.close()


@pytest.mark.integration
def test_streams_a_traditional_chinese_answer(llama: LlamaGenerator) -> None:
    generator: Generator = llama  # LlamaGenerator satisfies the contract
    messages = [{"role": "user", "content": "臺灣的首都是哪一個城市？請用一句話回答。"}]
    done: list[GenerationTimings] = []
    pieces = list(generator.stream(messages, max_tokens=40, on_done=done.append))
    assert len(pieces) >= 3
    assert any(city in "".join(pieces) for city in ("臺北", "台北"))
    # How the call went goes to the caller's on_done, once, never onto the shared generator.
    assert len(done) == 1 and not hasattr(llama, "last_timings")
    timings = done[0]
    assert isinstance(timings, GenerationTimings)
    assert timings.prompt_tokens == len(llama.prompt_tokens(messages))
    assert 3 <= timings.tokens <= 40
    # Timings are reported, in order, and agree with each other; how fast is the bench's job.
    assert 0 < timings.ttft_s < timings.generate_s
    decode_s = timings.generate_s - timings.ttft_s
    assert timings.tokens_per_s == pytest.approx((timings.tokens - 1) / decode_s)
    assert 1 <= timings.threads <= os.cpu_count()
    info = generator.model_info()
    assert (info["name"], info["architecture"], info["loaded"]) == (
        DEFAULT_MODEL_NAME,
        "qwen2",
        True,
    )


@pytest.mark.integration
def test_shared_prefix_is_not_evaluated_again(llama: LlamaGenerator) -> None:
    list(llama.stream([{"role": "user", "content": "你好"}], max_tokens=2))  # clear the prefix
    done: list[GenerationTimings] = []
    list(llama.stream(ask("珍珠奶茶起源於哪裡？"), max_tokens=4, on_done=done.append))
    list(llama.stream(ask("滷肉飯大約多少錢？"), max_tokens=4, on_done=done.append))
    cold, warm = done
    assert cold is not None and warm is not None
    assert cold.cached_tokens == 0  # the previous prompt shared no system part
    assert warm.cached_tokens >= llama.count_tokens(SYSTEM)
    assert warm.cached_tokens == llama._fixed_prefix(ask("x"), llama.prompt_tokens(ask("x")))
    # What makes the warm call faster, counted instead of timed: it evaluates less than half
    # of the tokens the cold call evaluated.
    assert warm.prompt_tokens - warm.cached_tokens < (cold.prompt_tokens - cold.cached_tokens) / 2


@pytest.mark.integration
def test_answers_do_not_depend_on_what_was_asked_before(llama: LlamaGenerator) -> None:
    question = ask("請用一句話介紹臺灣。")
    first = "".join(llama.stream(question, max_tokens=24))
    again = "".join(llama.stream(question, max_tokens=24))
    list(llama.stream(ask("滷肉飯大約多少錢？"), max_tokens=4))
    after_other = "".join(llama.stream(question, max_tokens=24))
    list(llama.stream([{"role": "user", "content": "你好"}], max_tokens=4))
    after_reset = "".join(llama.stream(question, max_tokens=24))
    assert first == again == after_other == after_reset


@pytest.mark.integration
def test_same_output_as_create_chat_completion(llama: LlamaGenerator) -> None:
    messages = ask("請用一句話介紹臺灣。")
    ours = "".join(llama.stream(messages, max_tokens=24))
    # Same batch split as ours (system prefix first), so any difference is template or sampling.
    tokens = llama.prompt_tokens(messages)
    llama._llm.reset()
    llama._llm.eval(tokens[: llama._fixed_prefix(messages, tokens)])
    theirs = llama._llm.create_chat_completion(messages, temperature=0.0, max_tokens=24)
    assert ours == theirs["choices"][0]["message"]["content"]


@pytest.mark.integration
def test_stop_strings_and_early_close(llama: LlamaGenerator) -> None:
    text = "".join(llama.stream(ask("請寫三句話介紹臺北。"), max_tokens=60, stop=["。"]))
    assert text and "。" not in text
    done: list[GenerationTimings] = []
    stream = llama.stream(ask("請寫三句話介紹臺中。"), max_tokens=60, on_done=done.append)
    next(stream)
    stream.close()
    assert len(done) == 1 and done[0].tokens < 60
    assert "".join(llama.stream([{"role": "user", "content": "一加一等於多少？"}], max_tokens=8))


@pytest.mark.integration
def test_overlong_prompt_is_refused_clearly(llama: LlamaGenerator) -> None:
    with pytest.raises(ModelError, match="context window holds 4096"):
        list(llama.stream([{"role": "user", "content": "臺灣" * 5000}], max_tokens=8))


def test_core_meter_measures_between_calls_without_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter([0.0, 0.5, 2.0, 4.0])
    jiffies = iter([(0, 0), (500, 1000), (500, 2000)])
    monkeypatch.setattr(cores_module.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(cores_module.time, "process_time", lambda: 0.0)
    monkeypatch.setattr(cores_module, "_cpu_jiffies", lambda: next(jiffies))
    monkeypatch.setattr(cores_module, "available_cores", lambda: 2)
    monkeypatch.setattr(cores_module.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cores_module, "idle_cores", lambda: 2)  # the one waiting call
    meter = cores_module.CoreMeter(interval_s=1.0)
    assert meter() == 2  # first call: a short blocking measurement
    assert meter() == 2  # 0.5 s later: the last answer, nothing read
    assert meter() == 1  # since the first: another process kept one core of two busy
    assert meter() == 2  # and then it stopped


@pytest.mark.integration
def test_a_retry_keeps_what_it_shares_with_the_previous_prompt(llama: LlamaGenerator) -> None:
    head = "資料：\n[1] 珍珠奶茶起源於台中，滷肉飯是常見的小吃。\n\n問題：珍珠奶茶起源於哪裡？\n\n"
    first = ask(head + "規則：只用資料回答。")
    retry = ask(head + "規則：用一句話回答。")
    done: list[GenerationTimings] = []
    list(llama.stream(first, max_tokens=8))
    list(llama.stream(retry, max_tokens=8, reuse_prompt=True, on_done=done.append))
    kept = done[-1]
    pairs = zip(llama.prompt_tokens(first), llama.prompt_tokens(retry), strict=False)
    common = next(i for i, (a, b) in enumerate(pairs) if a != b)
    assert kept is not None and kept.cached_tokens == common
    # Without reuse_prompt, only the system part is kept, as for any new question.
    list(llama.stream(retry, max_tokens=8, on_done=done.append))
    fresh = done[-1]
    assert fresh is not None and fresh.cached_tokens < common
