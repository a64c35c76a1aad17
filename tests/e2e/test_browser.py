"""The app in a real browser (Playwright + Debian's Chromium): patient chat, emergency banner,
inert model output, clinician login, comparison, rating and export. Mock model, fake retriever.
Screenshots go to ``artifacts/screenshots/``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from chatbot.storage import Storage
from tests.app_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EMERGENCY_TEXT,
    ScriptedGenerator,
    app_settings,
    make_service,
    serve,
)
from tests.conftest import REPO, make_chunk

pytestmark = pytest.mark.browser

SHOTS = REPO / "artifacts" / "screenshots"
AUTH = ("dr_ada", "correct horse battery")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed at /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed (requirements-dev.txt)")
    from app import create_app

    chunks = [
        make_chunk(
            "asthma",
            "Asthma is a long-term condition in which the airways narrow and swell, causing wheezing. "
            "Inhalers that relieve or prevent symptoms are the main treatment.",
            title="Asthma",
            url="https://www.nhlbi.nih.gov/health/asthma",
            source="MedlinePlus",
            license="public domain (U.S. government work)",
        ),
        make_chunk(
            "hives",
            "Hives are itchy welts on the skin. <img src=http://evil.example/passage.png> Antihistamines ease them.",
            title="Hives <b onmouseover=alert(1)>rash</b>",
            url="javascript:alert('title')",
            source="starter",
        ),
    ]
    data = tmp_path_factory.mktemp("browser") / "data"
    settings = app_settings(data)
    gen = ScriptedGenerator()
    gen.gate.set()
    app = create_app(settings, make_service(settings, chunks, gen), storage=Storage(settings.database_path))
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serve(app) as url:
        yield {"url": url, "settings": settings}


@pytest.fixture(scope="module")
def browser(site: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, site: dict[str, Any]) -> Iterator[Any]:
    """A fresh browser context; records every request and dialog, which tests then check."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.requests = []  # type: ignore[attr-defined]
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: pg.requests.append(r.url))  # type: ignore[attr-defined]

    def on_dialog(d: Any) -> None:
        pg.dialogs.append(d.message)  # type: ignore[attr-defined]
        d.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    context.close()


def off_host(urls: list[str]) -> list[str]:
    return [
        u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).hostname != "127.0.0.1"
    ]


def ask(page: Any, text: str) -> None:
    box = page.locator("#message textarea")
    box.fill(text)
    box.press("Enter")


def test_patient_gets_streamed_answer_with_source(page: Any, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/")
    page.get_by_text("not a diagnosis").wait_for()
    ask(page, "What is asthma and how is it treated?")
    chat = page.locator("#chat")
    chat.get_by_text("Sources").wait_for()
    link = chat.get_by_role("link", name="Asthma")
    assert link.get_attribute("href") == "https://www.nhlbi.nih.gov/health/asthma"
    assert "airways narrow" in chat.inner_text()
    assert "public domain" in chat.inner_text()
    page.screenshot(path=str(SHOTS / "patient-answer.png"), full_page=True)
    assert not off_host(page.requests), off_host(page.requests)


def test_intro_once_and_no_label_over_the_chat(page: Any, site: dict[str, Any]) -> None:
    """Issue 15: the intro text appeared twice (header and empty chat) and the "Conversation"
    label badge overlapped the first line of each reply."""
    from chatbot import prompts

    page.goto(site["url"] + "/")
    page.get_by_text("not a diagnosis").wait_for()
    assert page.get_by_text(prompts.APP_INTRO).count() == 1
    assert page.locator("#chat").get_by_text("Conversation", exact=True).count() == 0


def test_the_start_of_a_new_reply_stays_in_view_on_a_phone(browser: Any, site: dict[str, Any]) -> None:
    """Issue 15: the chat scrolled to the bottom of a long reply; on a 390 px phone only a source
    excerpt was left in view. The question just asked stays at the top of the chat pane."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(site["url"] + "/")
    pg.get_by_text("not a diagnosis").wait_for()
    for i, question in enumerate(["What is asthma and how is it treated?", "What is asthma?"]):
        ask(pg, question)
        pg.locator("#chat").get_by_text("Sources", exact=True).nth(i).wait_for()
        pg.wait_for_timeout(500)
    scroll, offset = pg.evaluate(
        """() => { const pane = document.querySelector('#chat .bubble-wrap');
        const rows = document.querySelectorAll('#chat .message-row.user-row');
        const row = rows[rows.length - 1];
        return [pane.scrollTop, row.getBoundingClientRect().top - pane.getBoundingClientRect().top]; }"""
    )
    pg.screenshot(path=str(SHOTS / "patient-phone-second-reply.png"))
    context.close()
    assert scroll > 0  # the first turn scrolled away...
    assert 0 <= offset <= 40, offset  # ...and the new question (the reply right under it) is at the top


def test_text_typed_while_an_answer_streams_is_kept(page: Any, site: dict[str, Any]) -> None:
    """Issue 15: what the patient typed while an answer was produced was wiped when it arrived."""
    page.goto(site["url"] + "/")
    page.get_by_text("not a diagnosis").wait_for()
    ask(page, "What is asthma and how is it treated?")
    box = page.locator("#message textarea")
    page.wait_for_function("() => document.querySelector('#message textarea').value === ''")  # taken
    box.press_sequentially("and for a child?")
    page.locator("#chat").get_by_text("Sources", exact=True).wait_for()
    page.wait_for_timeout(1000)  # the stream's last updates
    assert box.input_value() == "and for a child?"


def test_red_flag_shows_emergency_banner(page: Any, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/")
    assert not page.locator(".emergency-banner").is_visible()
    ask(page, "I have sudden chest pain spreading to my arm")
    banner = page.locator(".emergency-banner")
    banner.wait_for()
    assert EMERGENCY_TEXT in banner.inner_text()
    page.screenshot(path=str(SHOTS / "patient-emergency.png"), full_page=True)
    # "New conversation" clears the chat and the banner.
    page.locator("#new-conversation").click()
    banner.wait_for(state="detached")


def test_model_output_renders_inert(page: Any, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/")
    ask(page, "evil hives question")
    chat = page.locator("#chat")
    chat.get_by_text("Done").first.wait_for()
    page.wait_for_timeout(1000)  # give any injected image or script the chance to fire
    text = chat.inner_text()
    assert "<script>alert('xss')</script>" in text  # shown as text, not run
    assert page.locator("#chat script, #chat img[src*='evil'], #chat iframe").count() == 0
    for a in chat.locator("a").all():
        assert (a.get_attribute("href") or "").startswith("https://"), a.get_attribute("href")
    assert page.dialogs == []  # type: ignore[attr-defined]
    assert not off_host(page.requests), off_host(page.requests)  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "patient-inert-output.png"), full_page=True)


def test_sessions_in_two_browsers_are_isolated(browser: Any, site: dict[str, Any]) -> None:
    pages = []
    for canary in ("CANARY-ONE-1111", "CANARY-TWO-2222"):
        pg = browser.new_context().new_page()
        pg.goto(site["url"] + "/")
        ask(pg, f"echo asthma {canary}")
        pg.locator("#chat").get_by_text(f"Echo: echo asthma {canary}").first.wait_for(timeout=30_000)
        pages.append(pg)
    assert "CANARY-TWO" not in pages[0].locator("#chat").inner_text()
    assert "CANARY-ONE" not in pages[1].locator("#chat").inner_text()
    for pg in pages:
        pg.context.close()


def test_clinician_login_compare_rate_export(page: Any, site: dict[str, Any], tmp_path: Path) -> None:
    url = site["url"]
    page.goto(url + "/clinician/")
    page.get_by_label("username").fill("dr_ada")
    page.get_by_label("password").fill("wrong")
    page.get_by_role("button", name="Login").click()
    page.get_by_text("Incorrect").wait_for()
    page.get_by_label("username").fill(AUTH[0])
    page.get_by_label("password").fill(AUTH[1])
    page.get_by_role("button", name="Login").click()
    page.get_by_text("Signed in as").wait_for()

    page.locator("#cw-question textarea").fill("What is asthma?")
    page.locator("#cw-compare").click()
    page.locator("#cw-answer-0").get_by_text("airways").first.wait_for()
    page.locator("#cw-answer-1").get_by_text("airways").first.wait_for()
    assert "Grounded" in page.locator("#cw-metrics-0").inner_text()
    assert "Asthma" in page.locator("#cw-passages").inner_text()
    page.screenshot(path=str(SHOTS / "clinician-compare.png"), full_page=True)

    choices = {
        "consensus": "aligned",
        "comprehension": "correct",
        "retrieval": "correct",
        "reasoning": "correct",
        "inappropriate_content": "none",
        "missing_content": "minor",
        "harm_extent": "none",
        "harm_likelihood": "low",
        "bias": "no",
        "citations_supported": "yes",
    }
    # Issue 15: options read as words, not snake_case codes.
    assert page.get_by_text("mild_or_moderate").count() == 0
    assert page.locator("#cw-harm_extent-0").get_by_label("mild or moderate", exact=True).count() == 1
    for axis, value in choices.items():
        page.locator(f"#cw-{axis}-0").get_by_label(value.replace("_", " "), exact=True).check()
    page.locator("#cw-comment-0 textarea").fill("browser-test rating 42")
    page.locator("#cw-save-0").click()
    page.locator("#cw-saved-0").get_by_text("Saved rating").wait_for()
    page.screenshot(path=str(SHOTS / "clinician-rated.png"), full_page=True)

    page.get_by_role("tab", name="Ratings").click()
    page.locator("#cw-export-csv").click()
    link = page.locator("#cw-export-file a").first
    link.wait_for()
    with page.expect_download() as dl:
        link.click()
    target = tmp_path / "export.csv"
    dl.value.save_as(target)
    exported = target.read_text()
    assert "browser-test rating 42" in exported and "dr_ada" in exported
    page.locator("#cw-refresh").click()
    page.locator("#cw-chart img").wait_for()
    page.screenshot(path=str(SHOTS / "clinician-summary.png"), full_page=True)

    api_export = httpx.get(url + "/v1/ratings/export?format=jsonl", auth=AUTH).text
    assert "browser-test rating 42" in api_export
    assert not off_host(page.requests), off_host(page.requests)  # type: ignore[attr-defined]


def test_clinician_pages_need_login(page: Any, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/clinician/")
    page.get_by_role("button", name="Login").wait_for()
    assert page.get_by_text("Clinician workbench").count() >= 1  # the auth message
    assert page.locator("#cw-question").count() == 0


def teardown_module() -> None:
    # Keep the screenshots (CI artifacts) but nothing else from this module.
    shutil.rmtree(REPO / "artifacts" / "tmp", ignore_errors=True)
