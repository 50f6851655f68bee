"""`rag serve` end to end with the real embedding model and the default GGUF, as the issue's
acceptance asks: with a token set, a plain HTTP client and the official `openai` client get
the page, the models, 401s, a 4xx for a malformed body, and answers about the bundled corpus
whose citations carry source and text, streamed and not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from rag.pipeline import index_folder
from rag.serve.app import create_app
from rag.serve.security import ServeConfig
from rag.serve.server import BackgroundServer
from rag.serve.services import build_services
from rag.settings import load_settings

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent
TOKEN = "integration-token-0123456789"
QUESTION = "台智雲的總經理是誰？"
HOLDERS = {"000_a143eb185df1b7b2.txt", "002_a3962cbbc0e7db72.txt"}


@pytest.fixture(scope="module")
def server(shared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = load_settings(
        {
            "home": shared_home,
            "corpus": REPO / "corpus",
            "index": tmp_path_factory.mktemp("serve") / "index",
        },
        env={},
    )
    index_folder(settings)
    services = build_services(settings, ServeConfig(token=TOKEN))
    assert services.engines.generator is not None, "the default model did not load"
    with BackgroundServer(create_app(services)) as running:
        yield running.url
    services.close()


def _check_citations(citations: list[dict]) -> None:  # type: ignore[type-arg]
    assert citations
    for c in citations:
        assert c["source"] in HOLDERS
        original = (REPO / "corpus" / c["source"]).read_text(encoding="utf-8")
        assert original[c["start"] : c["end"]] == c["text"]


def test_plain_http_client_gets_what_the_issue_asks(server: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and "<html" in page.text
    assert len(httpx.get(f"{server}/v1/models", headers=auth).json()["data"]) >= 1
    assert httpx.get(f"{server}/v1/models").status_code == 401
    wrong = {"Authorization": "Bearer no"}
    assert httpx.get(f"{server}/v1/models", headers=wrong).status_code == 401
    broken = httpx.post(
        f"{server}/v1/chat/completions",
        content=b"{not json",
        headers={**auth, "Content-Type": "application/json"},
    )
    assert 400 <= broken.status_code < 500
    assert httpx.get(f"{server}/healthz").json()["status"] == "ok"

    body = {"model": "default", "messages": [{"role": "user", "content": QUESTION}]}
    whole = httpx.post(f"{server}/v1/chat/completions", json=body, headers=auth, timeout=300)
    assert whole.status_code == 200
    reply = whole.json()
    assert "吳漢章" in reply["choices"][0]["message"]["content"]
    _check_citations(reply["citations"])

    lines = []
    with httpx.stream(
        "POST",
        f"{server}/v1/chat/completions",
        json={**body, "stream": True},
        headers=auth,
        timeout=300,
    ) as response:
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)  # no named events
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    pieces = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(pieces) > 3
    last = chunks[-1]
    assert "吳漢章" in last["answer"]
    _check_citations(last["citations"])


def test_openai_client_reads_the_same_replies(server: str) -> None:
    client = openai.OpenAI(base_url=f"{server}/v1", api_key=TOKEN, max_retries=0, timeout=300)
    assert "default" in [m.id for m in client.models.list().data]
    completion = client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": QUESTION}]
    )
    assert "吳漢章" in (completion.choices[0].message.content or "")
    _check_citations((completion.model_extra or {})["citations"])
    assert completion.choices[0].message.annotations
    chunks = list(
        client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "吳漢章" in text
    _check_citations((chunks[-1].model_extra or {})["citations"])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0).models.list()
