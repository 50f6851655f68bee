"""The web page in a real browser: Debian's Chromium driven by Playwright (no browser
download). It asks, clicks a citation and checks the passage and the page shown; uploads a
document with progress; and fails on any request that is not to the local server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_fakes import PassageReader, hash_settings, running_server

CHROMIUM = Path("/usr/bin/chromium")
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"
PDF = FIXTURES / "000_a143eb185df1b7b2.pdf"
QUESTION = "吳漢章將AI發展分為哪兩個階段？"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)


@dataclass
class Browser:
    page: Any
    local: list[str] = field(default_factory=list)  # the server's origin, once it runs
    outside: list[str] = field(default_factory=list)  # requests to anywhere else (aborted)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A Chromium page whose requests off the local server are aborted and listed."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        chromium = Browser(browser.new_page())

        def route(request_route: Any) -> None:
            url = request_route.request.url
            if chromium.local and url.startswith(chromium.local[0] + "/"):
                request_route.continue_()
            else:
                chromium.outside.append(url)
                request_route.abort()

        chromium.page.route("**/*", route)
        try:
            yield chromium
        finally:
            browser.close()


def _spaceless(text: str) -> str:
    return "".join(text.split())


def _pdf_page_text(number: int) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(PDF))
    try:
        return _spaceless(pdf[number - 1].get_textpage().get_text_range())
    finally:
        pdf.close()


def test_page_asks_and_opens_the_cited_passage_on_its_page(
    browser: Browser, tmp_path: Path
) -> None:
    page = browser.page
    corpus = tmp_path / "docs"
    corpus.mkdir()
    shutil.copy(PDF, corpus / PDF.name)
    settings = hash_settings(corpus, tmp_path)
    with running_server(settings, PassageReader(delay=0.005)) as (url, _services):
        browser.local.append(url)
        page.goto(url + "/")
        page.wait_for_selector("#kb option[value='default']", state="attached")
        page.fill("#question", QUESTION)
        page.click("#ask")
        cite = page.locator("#conversation .answer button.cite").first
        cite.wait_for(timeout=30_000)
        answer_text = page.text_content("#conversation .answer") or ""
        direct_text = page.text_content("#conversation .direct") or ""
        cite.click()
        page.wait_for_selector("#passage", state="visible")
        shown = {
            key: page.text_content(f"#passage-{key}") or ""
            for key in ("n", "source", "where", "text")
        }
        # What the API says about the same answer (the scripted model answers the same).
        api = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "default", "messages": [{"role": "user", "content": QUESTION}]},
            timeout=30,
        ).json()
        first = api["citations"][0]
        passage = httpx.get(first["url"]).json()
    assert answer_text.replace(" ", "") == api["choices"][0]["message"]["content"].replace(" ", "")
    assert direct_text and direct_text == api["direct_answer"]  # above the answer
    assert shown["n"] == f"[{first['n']}]"
    assert shown["source"] == PDF.name
    assert shown["text"] == passage["text"] == first["text"]
    assert passage["page"] and shown["where"] == f"p. {passage['page']}"
    # The page shown is the page of the PDF that holds the passage.
    assert _spaceless(passage["text"])[:20] in _pdf_page_text(passage["page"])
    assert browser.outside == []


def test_page_uploads_with_progress_and_shows_document_text_as_text(
    browser: Browser, tiny_corpus: Path, tmp_path: Path
) -> None:
    page = browser.page
    settings = hash_settings(tiny_corpus, tmp_path)
    note = tmp_path / "note.txt"
    note.write_text(
        '倉庫的密碼是 <img src="https://evil.example/x.png" onerror="alert(1)"> 七七八八。\n'
        "倉庫位於高雄港第五號碼頭。",
        encoding="utf-8",
    )
    with running_server(settings, PassageReader()) as (url, _services):
        browser.local.append(url)
        page.goto(url + "/")
        page.wait_for_selector("#kb option[value='default']", state="attached")
        page.fill("#new-kb", "notes")
        page.click("#create-form button")
        page.wait_for_selector("#kb option[value='notes']", state="attached")
        assert page.input_value("#kb") == "notes"
        page.set_input_files("#files", str(note))
        page.click("#upload")
        # A locator, not wait_for_function: the page's policy forbids evaluating strings.
        page.locator("#index-status", has_text="Indexed").wait_for(timeout=30_000)
        assert page.get_attribute("#upload-progress", "value") == "100"
        assert page.text_content("#upload-result") == "note.txt: uploaded"
        assert (page.text_content("#doc-list li") or "").startswith("note.txt")
        page.fill("#question", "倉庫位於哪裡？")
        page.click("#ask")
        cite = page.locator("#conversation .answer button.cite").first
        cite.wait_for(timeout=30_000)
        cite.click()
        page.wait_for_selector("#passage", state="visible")
        around = page.text_content(".passage-body") or ""
    assert "<img" in around  # shown as the document's text
    assert page.locator("img").count() == 0  # never made into an element
    assert browser.outside == []
