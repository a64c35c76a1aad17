"""Time to the first answer sentence a patient sees, measured in a real browser.

    .venv/bin/python -m benchmarks.browser_first_sentence
    .venv/bin/python -m benchmarks.browser_first_sentence --questions 6 --no-direct   # a quick look

Starts the app as users get it (default settings, ``create_app(load_settings())``, served by
uvicorn on 127.0.0.1 in this process; the index is built with ``python -m chatbot prepare``
when missing), opens the patient page in headless Chromium (Debian's ``/usr/bin/chromium``)
and, for each question (a fresh conversation each, one warm-up question first that is not
counted), types it, presses Send and measures, with the page's own clock (a MutationObserver
on the chat, no Playwright polling in the measured path):

* first sentence: Send pressed -> the assistant bubble holds a complete sentence (four or
  more words ending in . ! or ?), not the user's message and not the "…" placeholder;
* first text: Send pressed -> the assistant bubble holds anything but the placeholder;
* complete: Send pressed -> the last change of the assistant bubble before Gradio marks the
  event finished (the final render with the sources).

The same questions then run directly through ``DialogueService.stream`` on the same service
object (no browser, HTTP or Gradio; each turn in a fresh worker thread, as Gradio runs the
handler, unless ``--direct-main-thread``): first ``delta`` event and ``done`` event. Both passes
record where the service spent its time (``Reply.timings`` plus the hybrid lead check, timed
by wrapping ``chatbot.dialogue.answers._checked_lead`` and ``planned_lead`` from outside).

Results: a table on stdout and ``artifacts/first-sentence.json`` (rewritten after every
question, so an interrupted run keeps what it measured); a screenshot of one answered question
at ``artifacts/screenshots/first-sentence.png`` (as the page shows it, scrolled to the answer's
end) and ``first-sentence-top.png`` (the chat scrolled back to the question).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.serving import pct  # noqa: E402  (one percentile helper for the serving benchmarks)
from tests.app_helpers import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (the browser tests' launch settings)

OUT_JSON = REPO / "artifacts" / "first-sentence.json"
SHOT = REPO / "artifacts" / "screenshots" / "first-sentence.png"
SHOT_TOP = REPO / "artifacts" / "screenshots" / "first-sentence-top.png"
TARGET_S = 1.5

WARMUP = "What is a migraine?"
# Starter topics (knowledge/starter); the last four are "should I worry" questions.
QUESTIONS = [
    "What are the symptoms of asthma?",
    "How can I lower my blood pressure?",
    "What is type 2 diabetes?",
    "How long does chickenpox last?",
    "What helps with lower back pain?",
    "How is the common cold treated?",
    "What causes acne?",
    "How can I sleep better with insomnia?",
    "What are the signs of dehydration?",
    "How do I get rid of head lice?",
    "What is gout and what triggers it?",
    "How can I prevent sunburn?",
    "What are the symptoms of shingles?",
    "How is a urinary tract infection treated?",
    "What can I do about heartburn?",
    "What is iron deficiency anemia?",
    "I have had a cough for two weeks, should I worry?",
    "My child has an ear infection, should I worry?",
    "I get nosebleeds often, should I worry?",
    "I sprained my ankle and it is swollen, should I worry?",
]

# Runs in the page: watches the last assistant bubble and the chat's status tracker.
OBSERVER_JS = r"""
() => {
  const chat = document.querySelector('#chat');
  const sentence = /(?:^|\s)(?:\S+\s+){3,}\S*?[.!?](?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s|$)/;
  const st = { sendAt: null, firstTextAt: null, firstSentenceAt: null, lastChangeAt: null,
               doneAt: null, busySeen: false, firstText: '', firstSentence: '', text: '', botsBefore: 0 };
  window.__hb = st;
  const bots = () => chat.querySelectorAll('[data-testid="bot"] .message-content');
  const tracker = () => chat.querySelector('[data-testid="status-tracker"]');
  const check = () => {
    if (st.sendAt === null || st.doneAt !== null) return;
    const now = performance.now();
    const all = bots();
    const t = tracker();
    const busy = t !== null && !t.classList.contains('hide');
    if (busy) st.busySeen = true;
    if (all.length > st.botsBefore) {
      const text = (all[all.length - 1].innerText || '').trim();
      if (text !== st.text) { st.text = text; st.lastChangeAt = now; }
      const placeholder = text === '' || /^(…|\.\.\.)$/.test(text);
      if (!placeholder && st.firstTextAt === null) { st.firstTextAt = now; st.firstText = text; }
      if (!placeholder && st.firstSentenceAt === null && sentence.test(text)) {
        st.firstSentenceAt = now; st.firstSentence = text;
      }
    }
    if (st.busySeen && !busy && st.lastChangeAt !== null) st.doneAt = now;
  };
  new MutationObserver(check).observe(chat, { subtree: true, childList: true, characterData: true,
                                               attributes: true, attributeFilter: ['class'] });
  window.__hbSend = () => {
    Object.assign(st, { firstTextAt: null, firstSentenceAt: null, lastChangeAt: null, doneAt: null,
                        busySeen: false, firstText: '', firstSentence: '', text: '',
                        botsBefore: bots().length });
    st.sendAt = performance.now();
    document.querySelector('#send').click();
  };
}
"""


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except OSError:
        return os.getloadavg().__repr__()


class Probe:
    """Wraps the service (from outside, nothing in chatbot/ changes) to record each turn's
    reply timings and the hybrid lead check's time."""

    def __init__(self, service: Any) -> None:
        import chatbot.dialogue.answers as answers

        self.service = service
        self.spent: dict[str, float] = {}
        self.last: dict[str, Any] = {}
        for name in ("_checked_lead", "planned_lead"):
            setattr(answers, name, self._timed(name, getattr(answers, name)))
        inner = service.stream

        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            self.spent = {}
            t0 = time.perf_counter()
            first: float | None = None
            for ev in inner(*args, **kwargs):
                if ev.kind == "delta" and first is None:
                    first = time.perf_counter() - t0
                if ev.kind == "done" and ev.reply is not None:
                    r = ev.reply
                    self.last = {
                        "service_first_delta_s": first,
                        "service_done_s": time.perf_counter() - t0,
                        "triage": r.triage.label,
                        "flags": list(r.flags),
                        "timings": dict(vars(r.timings)),
                        "lead_check_s": self.spent.get("_checked_lead", 0.0),
                        "planned_lead_s": self.spent.get("planned_lead", 0.0),
                    }
                yield ev

        service.stream = stream

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - t

        return wrapper


def browser_turn(page: Any, question: str, timeout_s: float) -> dict[str, Any]:
    page.locator("#new-conversation").click()
    page.wait_for_function("() => document.querySelectorAll('#chat [data-testid=\"bot\"]').length === 0")
    page.locator("#message textarea").fill(question)
    page.evaluate("() => window.__hbSend()")
    page.wait_for_function("() => window.__hb.doneAt !== null", timeout=timeout_s * 1000, polling=100)
    st = page.evaluate("() => window.__hb")

    def since(key: str) -> float | None:
        return None if st[key] is None else (st[key] - st["sendAt"]) / 1000

    return {
        "first_text_s": since("firstTextAt"),
        "first_sentence_s": since("firstSentenceAt"),
        "complete_s": since("lastChangeAt"),
        "first_text": st["firstText"][:200],
        "final_text": st["text"][:400],
    }


def direct_turn(service: Any, question: str, *, main_thread: bool = False) -> dict[str, Any]:
    """One turn through ``service.stream``, in a fresh worker thread as Gradio runs the UI's
    handler (``main_thread``: in this thread, which on the loaded 2-core machine was many
    times slower: see docs/evaluation/first-sentence-2026-12.md)."""
    out: dict[str, Any] = {}

    def run() -> None:
        t0 = time.perf_counter()
        for ev in service.stream(question, session_id=uuid.uuid4().hex):
            if ev.kind == "delta" and "first_delta_s" not in out:
                out["first_delta_s"] = time.perf_counter() - t0
            elif ev.kind == "done":
                out["done_s"] = time.perf_counter() - t0

    if main_thread:
        run()
    else:
        worker = threading.Thread(target=run, name="direct-turn")
        worker.start()
        worker.join()
    return {"first_delta_s": out.get("first_delta_s"), "done_s": out.get("done_s")}


def row(label: str, values: list[float]) -> str:
    if not values:
        return f"| {label} | n/a | n/a | n/a | 0 |"
    return f"| {label} | {pct(values, 50):.2f} | {pct(values, 95):.2f} | {max(values):.2f} | {len(values)} |"


def report(results: dict[str, Any]) -> str:
    b, d = results["browser"], results["direct"]
    vals = lambda rows, k: [r[k] for r in rows if r.get(k) is not None]  # noqa: E731
    lines = [
        "| measure (s, warm-up excluded) | p50 | p95 | max | n |",
        "|---|---|---|---|---|",
        row("browser: send -> first sentence shown", vals(b, "first_sentence_s")),
        row("browser: send -> first text shown", vals(b, "first_text_s")),
        row("browser: send -> complete answer shown", vals(b, "complete_s")),
        row("direct: stream() -> first delta", vals(d, "first_delta_s")),
        row("direct: stream() -> done", vals(d, "done_s")),
    ]
    both = [r for r in (*b, *d) if r.get("timings")]
    if both:
        t = lambda k: [float(r["timings"][k] or 0.0) for r in both]  # noqa: E731
        lines += [
            "",
            "| where the service's time went (both passes) | p50 | p95 | max | n |",
            "|---|---|---|---|---|",
            row("triage (+ understanding)", t("triage_s")),
            row("retrieval", t("retrieval_s")),
            row("model: first token (from turn start)", t("first_token_s")),
            row("model: lead generation (prefill + decode)", t("generation_s")),
            row("hybrid lead check (_checked_lead)", [r["lead_check_s"] for r in both]),
            row("planned lead from a source (planned_lead)", [r["planned_lead_s"] for r in both]),
        ]
        dropped = sum("lead_dropped" in r["flags"] for r in both)
        lines.append(f"\nmodel lead dropped (replaced by a source sentence or none) in {dropped}/{len(both)} turns")
    per = ["", "| # | question | browser first sentence | browser complete | direct first delta | direct done |"]
    per.append("|---|---|---|---|---|---|")
    fmt = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
    for i, q in enumerate(results["questions"]):
        br = b[i] if i < len(b) else {}
        dr = d[i] if i < len(d) else {}
        per.append(
            f"| {i + 1} | {q} | {fmt(br.get('first_sentence_s'))} | {fmt(br.get('complete_s'))} "
            f"| {fmt(dr.get('first_delta_s'))} | {fmt(dr.get('done_s'))} |"
        )
    return "\n".join(lines + per)


def ensure_index(settings: Any) -> None:
    if not (settings.data_dir / "index" / "manifest.json").exists():
        print("no index: running python -m chatbot prepare", flush=True)
        subprocess.run([sys.executable, "-m", "chatbot", "prepare"], cwd=REPO, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=len(QUESTIONS), help="how many of the 20 questions")
    parser.add_argument("--no-direct", action="store_true", help="skip the DialogueService.stream pass")
    parser.add_argument(
        "--direct-main-thread", action="store_true", help="run the direct pass in the main thread, not a worker"
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for one answer")
    parser.add_argument("--shot", type=int, default=1, help="screenshot after this question (1-based)")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"error: {CHROMIUM} missing (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    from app import create_app
    from chatbot.settings import load_settings
    from tests.app_helpers import serve

    settings = load_settings()
    ensure_index(settings)
    questions = QUESTIONS[: args.questions]
    results: dict[str, Any] = {
        "questions": questions,
        "warmup": WARMUP,
        "settings": {
            "answer_mode": settings.dialogue.answer_mode,
            "llm": settings.llm.mode,
            "model": settings.llm.model,
        },
        "uptime_start": uptime(),
        "browser": [],
        "direct": [],
        "direct_thread": "main" if args.direct_main_thread else "worker",
    }

    def save() -> None:
        OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
        OUT_JSON.write_text(json.dumps(results, indent=1))

    t_load = time.perf_counter()
    app = create_app(settings)
    results["app_load_s"] = time.perf_counter() - t_load
    probe = Probe(app.state.service)
    print(f"app loaded in {results['app_load_s']:.1f} s; {results['uptime_start']}", flush=True)
    SHOT.parent.mkdir(parents=True, exist_ok=True)
    with serve(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(url + "/")
        page.get_by_text("not a diagnosis").wait_for()
        page.evaluate(OBSERVER_JS)
        warm = browser_turn(page, WARMUP, args.timeout)
        results["warmup_browser"] = {**warm, **probe.last}
        print(f"warm-up: first sentence {warm['first_sentence_s']} s, complete {warm['complete_s']} s", flush=True)
        for i, q in enumerate(questions, 1):
            r = {"question": q, **browser_turn(page, q, args.timeout), **probe.last}
            results["browser"].append(r)
            save()
            print(
                f"browser {i:2d} first sentence {r['first_sentence_s']!s:.5} s complete {r['complete_s']!s:.5} s"
                f" (service first delta {r['service_first_delta_s']!s:.5}) {q}",
                flush=True,
            )
            if i == args.shot:
                page.screenshot(path=str(SHOT), full_page=True)  # the chat scrolls to the answer's end
                page.locator("#chat [role=log]").evaluate("e => { e.scrollTop = 0; }")
                page.screenshot(path=str(SHOT_TOP), full_page=True)  # the question and the first sentence
        browser.close()
    if not args.no_direct:
        for i, q in enumerate(questions, 1):
            r = {"question": q, **direct_turn(probe.service, q, main_thread=args.direct_main_thread), **probe.last}
            results["direct"].append(r)
            save()
            print(f"direct  {i:2d} first delta {r['first_delta_s']:.2f} s done {r['done_s']:.2f} s {q}", flush=True)
    results["uptime_end"] = uptime()
    save()
    summary(results)
    return 0


def summary(results: dict[str, Any]) -> None:
    print()
    print(report(results))
    first = [r["first_sentence_s"] for r in results["browser"] if r["first_sentence_s"] is not None]
    print(f"\nbrowser first sentence p95 {pct(first, 95):.2f} s (target {TARGET_S} s)")
    print(f"start: {results['uptime_start']}\nend:   {results['uptime_end']}")
    print(f"wrote {OUT_JSON.relative_to(REPO)} and {SHOT.relative_to(REPO)}")


if __name__ == "__main__":
    sys.exit(main())
