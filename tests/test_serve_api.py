"""The API through the official `openai` client and plain HTTP, against the real server on a
loopback port: answers with checked citations (streamed and not), multi-turn, search,
passages, errors, auth and CORS. The answer model is scripted (tests/serve_fakes.py)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest
from serve_fakes import PassageReader, hash_settings, running_server

from rag.serve.security import ServeConfig
from rag.settings import Settings

QUESTION = "晶創26在TOP500排第幾名？"


@pytest.fixture
def settings(tiny_corpus: Path, tmp_path: Path) -> Settings:
    return hash_settings(tiny_corpus, tmp_path, chunk_chars=40, chunk_overlap=0)


def _client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


def test_models_list_the_knowledge_bases(settings: Settings) -> None:
    from rag.serve.kb import create_kb

    create_kb(settings, "contracts")
    with running_server(settings, PassageReader()) as (url, _services):
        models = _client(url).models.list()
    assert [m.id for m in models.data] == ["default", "contracts"]
    assert models.data[0].model_extra == {"indexed": True, "writable": False}


def test_answer_keeps_checked_citations_through_the_openai_client(
    settings: Settings, tiny_corpus: Path
) -> None:
    with running_server(settings, PassageReader()) as (url, _services):
        completion = _client(url).chat.completions.create(
            model="default", messages=[{"role": "user", "content": QUESTION}]
        )
        message = completion.choices[0].message
        assert "第29名" in (message.content or "")
        citations = completion.model_extra["citations"]
        assert completion.model_extra["refused"] is False
        assert [c["source"] for c in citations] == ["taiwan.txt"]
        cited = citations[0]
        original = (tiny_corpus / "taiwan.txt").read_text(encoding="utf-8")
        assert original[cited["start"] : cited["end"]] == cited["text"]
        assert f"[{cited['n']}]" in (message.content or "")
        # One url_citation per marker, pointing at the passage, which reads back the same.
        assert message.annotations and len(message.annotations) == 1
        note = message.annotations[0]
        assert note.type == "url_citation"
        content = message.content or ""
        start, end = note.url_citation.start_index, note.url_citation.end_index
        assert content[start:end] == f"[{cited['n']}]"
        assert note.url_citation.url == cited["url"]
        passage = httpx.get(cited["url"]).json()
        assert passage["text"] == cited["text"] and passage["source"] == "taiwan.txt"
        around = passage["before"] + passage["text"] + passage["after"]
        assert around in original and len(around) > len(passage["text"])  # its document


def test_streamed_answer_ends_with_citations_and_done(settings: Settings) -> None:
    with running_server(settings, PassageReader()) as (url, _services):
        stream = _client(url).chat.completions.create(
            model="default", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        chunks = list(stream)
        body = {
            "model": "default",
            "stream": True,
            "messages": [{"role": "user", "content": QUESTION}],
        }
        raw = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30).text
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "第29名" in text
    pieces = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 3  # streamed, not sent whole
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    extra = last.model_extra or {}
    assert [c["source"] for c in extra["citations"]] == ["taiwan.txt"]
    assert "國網中心的晶創26在TOP500排名第29名[" in extra["answer"]
    assert extra["direct_answer"] == "29名"  # the words that fill the question's slot
    # Unnamed data lines only (a named event breaks the openai client), ending in [DONE].
    lines = [line for line in raw.split("\n") if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]).get("event") for line in lines[:-1]]
    cards = [e for e in events if e and e["type"] == "citation"]
    assert cards and cards[0]["data"]["document"] == [extra["citations"][0]["text"]]


def test_streamed_answer_that_the_checks_change_ends_with_the_checked_answer(
    settings: Settings,
) -> None:
    invented = "它的造價是八百億元[2]。"
    with running_server(settings, PassageReader(extra=invented)) as (url, _services):
        chunks = list(
            _client(url).chat.completions.create(
                model="default", messages=[{"role": "user", "content": QUESTION}], stream=True
            )
        )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks[:-1] if c.choices)
    assert "八百億" in streamed  # shown while generated
    extra = chunks[-1].model_extra or {}
    assert "八百億" not in extra["answer"]  # not in the checked answer
    closing = chunks[-1].choices[0].delta.content or ""
    assert closing.startswith("\n\nChecked answer") and extra["answer"] in closing


def test_follow_up_uses_the_history(settings: Settings) -> None:
    reader = PassageReader()
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "國網中心的晶創26在TOP500排名第29名[1]。"},
        {"role": "user", "content": [{"type": "text", "text": "它由誰建造？"}]},
    ]
    with running_server(settings, reader) as (url, _services):
        completion = _client(url).chat.completions.create(model="default", messages=messages)
    rewrite = reader.prompts[0][-1]["content"]
    assert QUESTION in rewrite and "它由誰建造？" in rewrite
    assert completion.choices[0].message.content


def test_search_and_passages(settings: Settings) -> None:
    with running_server(settings, PassageReader()) as (url, _services):
        found = httpx.post(f"{url}/v1/search", json={"query": "珍珠奶茶", "top_k": 2}).json()
        first = found["data"][0]
        assert first["source"] == "food.txt" and len(found["data"]) <= 2
        passage = httpx.get(first["url"]).json()
        assert passage["text"] == first["text"] and passage["model"] == "default"
        missing = httpx.get(f"{url}/v1/passages/default:0000")
        assert missing.status_code == 404 and "No passage" in missing.json()["error"]["message"]
        bad = httpx.post(f"{url}/v1/search", json={"query": "  "})
        assert bad.status_code == 400


def test_errors_are_openai_shaped_and_leave_the_server_healthy(settings: Settings) -> None:
    with running_server(settings, PassageReader()) as (url, _services):
        chat = f"{url}/v1/chat/completions"
        headers = {"Content-Type": "application/json"}
        broken = httpx.post(chat, content=b'{"model": "default", "messages": [', headers=headers)
        assert broken.status_code == 400
        assert broken.json()["error"]["type"] == "invalid_request_error"
        assert httpx.post(chat, json={"model": "default"}).status_code == 400
        last_not_user = {"messages": [{"role": "assistant", "content": "hi"}]}
        response = httpx.post(chat, json=last_not_user)
        assert response.status_code == 400 and "last message" in response.json()["error"]["message"]
        with pytest.raises(openai.NotFoundError, match="No knowledge base named 'nope'"):
            _client(url).chat.completions.create(
                model="nope", messages=[{"role": "user", "content": QUESTION}]
            )
        assert httpx.get(f"{url}/v1/nothing-here").status_code == 404
        assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
        ok = _client(url).chat.completions.create(
            model="default", messages=[{"role": "user", "content": QUESTION}]
        )
        assert ok.choices[0].message.content


def test_bearer_token_guards_every_v1_request(settings: Settings) -> None:
    config = ServeConfig(token="s3cret-token")
    with running_server(settings, PassageReader(), config=config) as (url, _services):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
            response = httpx.get(f"{url}/v1/models", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["type"] == "authentication_error"
            assert response.headers["www-authenticate"] == "Bearer"
        unknown = httpx.get(f"{url}/v1/nothing-here")
        assert unknown.status_code == 401  # no probing of what exists
        with pytest.raises(openai.AuthenticationError):
            _client(url, "wrong").models.list()
        assert [m.id for m in _client(url, "s3cret-token").models.list().data] == ["default"]
        # The page and the health check stay open; the page asks for the token itself.
        assert httpx.get(f"{url}/").status_code == 200
        assert httpx.get(f"{url}/healthz").status_code == 200


def test_cors_is_off_unless_an_origin_is_named(settings: Settings) -> None:
    preflight = {
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    with running_server(settings, PassageReader()) as (url, _services):
        response = httpx.get(f"{url}/v1/models", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in response.headers
        response = httpx.options(f"{url}/v1/chat/completions", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    config = ServeConfig(cors_origins=("http://localhost:3000",))
    with running_server(settings, PassageReader(), config=config) as (url, _services):
        allowed = {**preflight, "Origin": "http://localhost:3000"}
        response = httpx.options(f"{url}/v1/chat/completions", headers=allowed)
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
        response = httpx.options(f"{url}/v1/chat/completions", headers=preflight)
        assert response.headers.get("access-control-allow-origin") != "http://evil.example"


def test_page_is_served_with_a_policy_that_keeps_it_local(settings: Settings) -> None:
    with running_server(settings, PassageReader()) as (url, _services):
        page = httpx.get(f"{url}/")
        script = httpx.get(f"{url}/page/app.js")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert script.status_code == 200
    assert "innerHTML" not in script.text  # document text goes in as text only
    assert "http://" not in page.text + script.text and "https://" not in page.text + script.text


def test_without_a_token_only_requests_to_this_machine_are_answered(settings: Settings) -> None:
    # A page on a domain made to resolve to 127.0.0.1 (DNS rebinding) sends its own Host.
    with running_server(settings, PassageReader()) as (url, _services):
        rebound = httpx.get(f"{url}/v1/models", headers={"Host": "evil.example"})
        assert rebound.status_code == 421 and "not this machine" in rebound.text
        assert httpx.get(f"{url}/", headers={"Host": "evil.example:8000"}).status_code == 421
        port = url.rsplit(":", 1)[1]
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
            assert httpx.get(f"{url}/v1/models", headers={"Host": host}).status_code == 200
    with running_server(settings, PassageReader(), config=ServeConfig(token="t")) as (url, _s):
        named = httpx.get(
            f"{url}/v1/models", headers={"Host": "rag.example", "Authorization": "Bearer t"}
        )
        assert named.status_code == 200  # with a token the name does not matter
