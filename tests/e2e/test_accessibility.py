"""Automated WCAG 2.1 A/AA checks with axe-core (the ``axe-playwright-python`` package bundles it)
in Debian's Chromium, in Gradio's light and dark themes: the patient page with the emergency
banner showing, and the clinician workbench's login page. The app, server and browser are the
ones of ``test_browser.py`` (mock model, fake retriever)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import pytest

from tests.app_helpers import EMERGENCY_TEXT

# The fixtures of the browser tests (a served app, one Chromium, a fresh page per test) and their
# way of asking a question, reused rather than copied.
from tests.e2e.test_browser import SHOTS, ask, browser, page, site  # noqa: F401

pytestmark = pytest.mark.browser
pytest.importorskip("axe_playwright_python", reason="axe-playwright-python not installed (requirements-dev.txt)")

THEMES = ["light", "dark"]
# WCAG 2.0 and 2.1, levels A and AA.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
BLOCKING = ("critical", "serious")
AA_NORMAL_TEXT = 4.5


@dataclass(frozen=True)
class Allowed:
    """A known serious violation in Gradio's own markup or theme colours, not in our markup: axe
    rule ``rule`` on elements matching ``selector``, in these Gradio themes only. An entry that no
    longer matches anything gives a warning, so that it can be removed."""

    rule: str
    selector: str
    themes: tuple[str, ...]
    reason: str


# Each entry names one element; anything else that axe finds serious or critical fails the test.
PATIENT_ALLOWED: list[Allowed] = []
CLINICIAN_LOGIN_ALLOWED = [
    Allowed(
        "document-title",
        "html",
        ("light", "dark"),
        "Gradio's login page has no <title>: the workbench's gr.Blocks(title=...) applies only after login",
    ),
]


def run_axe(pg: Any, context: str | None = None, *, passes: bool = False) -> dict[str, Any]:
    from axe_playwright_python.sync_playwright import Axe  # bundles axe-core 4.12

    # By default axe details every failing node but only one node of each passing rule; with
    # ``passes`` it details them all, so that the measured contrast ratios can be read.
    options = AXE_OPTIONS if passes else dict(AXE_OPTIONS, resultTypes=["violations"])
    return Axe().run(pg, context=context, options=options).response


def _matches(pg: Any, target: list[Any], selector: str) -> bool:
    if len(target) != 1 or not isinstance(target[0], str):  # inside an iframe or shadow root
        return False
    return bool(
        pg.evaluate(
            "([t, s]) => { const e = document.querySelector(t); return !!e && e.matches(s); }", [target[0], selector]
        )
    )


def blocking_violations(pg: Any, response: dict[str, Any], allowed: list[Allowed], theme: str) -> list[str]:
    """Serious and critical violations not in ``allowed``, one line per element."""
    found, used = [], set()
    for v in response["violations"]:
        if v["impact"] not in BLOCKING:
            continue
        for node in v["nodes"]:
            hit = next(
                (
                    a
                    for a in allowed
                    if a.rule == v["id"] and theme in a.themes and _matches(pg, node["target"], a.selector)
                ),
                None,
            )
            if hit:
                used.add(hit)
            else:
                found.append(f"{v['id']} ({v['impact']}) {node['target']}: {node.get('failureSummary', '')}")
    for a in allowed:
        if theme in a.themes and a not in used:
            warnings.warn(f"allow-list entry no longer needed in the {theme} theme: {a}", stacklevel=2)
    return found


def describe(results: list[dict[str, Any]], rule: str) -> list[str]:
    """One readable line per element that ``rule`` flagged."""
    return [
        f"{node['target']}: {node.get('failureSummary') or node['any'][0]['message']}"
        for r in results
        if r["id"] == rule
        for node in r["nodes"]
    ]


def contrast_ratios(response: dict[str, Any]) -> dict[str, float]:
    """axe's measured contrast for each element its color-contrast rule checked and passed."""
    ratios = {}
    for result in response["passes"]:
        if result["id"] == "color-contrast":
            for node in result["nodes"]:
                data = node["any"][0]["data"]
                ratios[" ".join(map(str, node["target"]))] = float(data["contrastRatio"])
    return ratios


@pytest.mark.parametrize("theme", THEMES)
def test_patient_page_with_emergency_banner(page: Any, site: dict[str, Any], theme: str) -> None:  # noqa: F811
    page.goto(f"{site['url']}/?__theme={theme}")
    page.get_by_text("not a diagnosis").wait_for()
    ask(page, "I have sudden chest pain spreading to my arm")
    banner = page.locator(".emergency-banner")
    banner.wait_for()
    page.locator("#chat").get_by_text(EMERGENCY_TEXT).first.wait_for()
    page.wait_for_timeout(1000)  # the stream's last updates
    banner.screenshot(path=str(SHOTS / f"patient-emergency-banner-{theme}.png"))

    # The banner: no contrast failure at all, and every text in it at 4.5:1 or more (axe asks
    # only 3:1 of its large bold heading).
    in_banner = run_axe(page, ".emergency-banner", passes=True)
    assert describe(in_banner["violations"], "color-contrast") == []
    assert describe(in_banner["incomplete"], "color-contrast") == []  # axe could tell, for every text
    ratios = contrast_ratios(in_banner)
    assert len(ratios) >= 2, ratios  # the heading and the message were checked
    assert all(r >= AA_NORMAL_TEXT for r in ratios.values()), ratios

    # The whole page: nothing serious or critical beyond the allow-list.
    assert blocking_violations(page, run_axe(page), PATIENT_ALLOWED, theme) == []


@pytest.mark.parametrize("theme", THEMES)
def test_clinician_login_page(page: Any, site: dict[str, Any], theme: str) -> None:  # noqa: F811
    page.goto(f"{site['url']}/clinician/?__theme={theme}")
    page.get_by_role("button", name="Login").wait_for()
    page.get_by_label("username").wait_for()
    assert blocking_violations(page, run_axe(page), CLINICIAN_LOGIN_ALLOWED, theme) == []
