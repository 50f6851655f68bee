"""One model, many clients: a full queue answers 429 with Retry-After, a client that goes
away stops its answer (the model's stream is closed), and requests share no state."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
from serve_fakes import PassageReader, hash_settings, running_server

from rag.serve.queue import Cancellable, Cancelled, GenerationQueue, QueueFull
from rag.serve.security import ServeConfig
from rag.settings import Settings

QUESTION = "晶創26在TOP500排第幾名？"


@pytest.fixture
def settings(tiny_corpus: Path, tmp_path: Path) -> Settings:
    return hash_settings(tiny_corpus, tmp_path, chunk_chars=40, chunk_overlap=0)


def _wait_for(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_queue_admits_one_running_and_depth_waiting() -> None:
    queue = GenerationQueue(depth=1)
    first, second = queue.admit(), queue.admit()
    with pytest.raises(QueueFull) as full:
        queue.admit()
    assert full.value.retry_after >= 1
    first.leave()
    third = queue.admit()  # a place came free
    for ticket in (second, third):
        ticket.leave()
    assert queue.counts() == {"running": 0, "waiting": 0, "depth": 1}


def test_a_cancelled_request_leaves_the_queue_without_generating() -> None:
    queue = GenerationQueue(depth=2)
    holder, waiter = queue.admit(), queue.admit()
    cancel = threading.Event()
    errors: list[BaseException] = []

    def wait_then_cancel() -> None:
        try:
            with waiter.turn(cancel):
                raise AssertionError("got the model although cancelled")
        except Cancelled as exc:
            errors.append(exc)
        finally:
            waiter.leave()

    with holder.turn(threading.Event()):
        thread = threading.Thread(target=wait_then_cancel)
        thread.start()
        cancel.set()
        thread.join(5)
    holder.leave()
    assert len(errors) == 1 and queue.counts()["waiting"] == 0


def test_cancellable_closes_the_model_stream_of_a_cancelled_request() -> None:
    from rag.serve.queue import CANCEL

    reader = PassageReader(endless=True)
    model = Cancellable(reader)  # type: ignore[arg-type]
    cancel = threading.Event()
    CANCEL.set(cancel)
    try:
        stream = model.stream([{"role": "user", "content": "x"}], 100)
        assert next(stream) == "很"
        cancel.set()
        with pytest.raises(Cancelled):
            next(stream)
    finally:
        CANCEL.set(None)
    assert reader.closed_early == 1 and reader.yielded == 1


def test_full_queue_answers_429_with_retry_after(settings: Settings) -> None:
    hold = threading.Event()
    reader = PassageReader(hold=hold)
    config = ServeConfig(queue_depth=1)
    body = {"model": "default", "messages": [{"role": "user", "content": QUESTION}]}
    with running_server(settings, reader, config=config) as (url, services):
        results: list[int] = []

        def ask() -> None:
            results.append(
                httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30).status_code
            )

        running = threading.Thread(target=ask)
        running.start()
        assert reader.started.wait(10)  # the first holds the model
        waiting = threading.Thread(target=ask)
        waiting.start()
        assert _wait_for(lambda: services.queue.counts()["waiting"] == 1)
        full = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)
        assert full.status_code == 429
        assert int(full.headers["retry-after"]) >= 1
        assert full.json()["error"]["type"] == "rate_limit_error"
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(**body)  # type: ignore[call-overload]
        hold.set()
        running.join(30)
        waiting.join(30)
        assert results == [200, 200]  # both admitted requests were answered
        assert services.queue.counts()["waiting"] == 0


def test_client_that_disconnects_stops_the_generation(settings: Settings) -> None:
    reader = PassageReader(endless=True, delay=0.01)
    body = {
        "model": "default",
        "stream": True,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    with running_server(settings, reader) as (url, services):
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=30) as response:
            lines = response.iter_lines()
            pieces = 0
            for line in lines:
                if '"content": "很"' in line:
                    pieces += 1
                if pieces == 3:
                    break
        # The connection is closed: the answer stops and its place in the queue is freed.
        assert _wait_for(lambda: reader.closed_early == 1), "the model stream was not closed"
        assert _wait_for(
            lambda: services.queue.counts() == {"running": 0, "waiting": 0, "depth": 8}
        )
        stopped_at = reader.yielded
        time.sleep(0.3)
        assert reader.yielded == stopped_at  # nothing generated after
        # The next client is answered as usual.
        reader.endless = False
        answer = httpx.post(
            f"{url}/v1/chat/completions", json={**body, "stream": False}, timeout=30
        ).json()
        assert "第29名" in answer["choices"][0]["message"]["content"]


def test_non_streamed_request_whose_client_leaves_is_stopped(settings: Settings) -> None:
    reader = PassageReader(endless=True, delay=0.01)
    body = {"model": "default", "messages": [{"role": "user", "content": QUESTION}]}
    with running_server(settings, reader) as (url, services):
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/v1/chat/completions", json=body, timeout=1.0)
        assert _wait_for(lambda: reader.closed_early == 1), "the model stream was not closed"
        assert _wait_for(lambda: services.queue.counts()["running"] == 0)


def test_concurrent_requests_get_their_own_answers(settings: Settings) -> None:
    questions = {"晶創26在TOP500排第幾名？": "第29名", "珍珠奶茶起源於哪裡？": "台中"}
    with running_server(settings, PassageReader(delay=0.001)) as (url, _services):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        answers: dict[str, str] = {}

        def ask(question: str) -> None:
            completion = client.chat.completions.create(
                model="default", messages=[{"role": "user", "content": question}]
            )
            answers[question] = completion.choices[0].message.content or ""

        threads = [threading.Thread(target=ask, args=(q,)) for q in list(questions) * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    for question, expected in questions.items():
        assert expected in answers[question]
