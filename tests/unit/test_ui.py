"""UI handlers without a browser: patient chat turns, rendering, the workbench and comparisons."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from chatbot.concurrency import BusyError, ConcurrencyLimiter
from chatbot.llm.mock import MockGenerator
from chatbot.settings import Settings
from chatbot.storage import Storage
from chatbot.types import Citation, Triage
from chatbot.ui.patient import PatientChat, profile_from_form
from chatbot.ui.render import answer_markdown, emergency_banner_html, inert_markdown, sources_markdown
from chatbot.workbench import CompareConfigError, Comparer, default_configs, resolve_configs
from tests.app_helpers import EMERGENCY_TEXT, EVIL_OUTPUT, ScriptedGenerator, app_settings, make_service


@pytest.fixture
def app_cfg(tmp_path: Path) -> Settings:
    return app_settings(tmp_path / "data")


@pytest.fixture
def chat(app_cfg: Settings, health_chunks: list[Any]) -> PatientChat:
    service = make_service(app_cfg, health_chunks, ScriptedGenerator())
    return PatientChat(app_cfg, service, ConcurrencyLimiter(1, 0), Storage(app_cfg.database_path, redactor=str.upper))


def last(chat: PatientChat, message: str, history: Any = None, sid: str | None = "s1", **kw: Any) -> Any:
    outs = list(chat.respond(message, history, sid, "", **kw))
    return outs, outs[-1]


# -- rendering -------------------------------------------------------------------------------


def test_inert_markdown_escapes_html_and_disarms_images_and_links() -> None:
    out = inert_markdown(EVIL_OUTPUT)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<img" not in out and "![" not in out
    assert "](javascript:" not in out.replace("\\](javascript:", "")
    assert "`http://evil.example/pixel.png`" in out  # not auto-linked
    assert "[ok](https://example.org/a)" in inert_markdown("[ok](https://example.org/a)")
    assert inert_markdown("[x](http://plain.example)").startswith("\\[x\\]")
    assert "\\[r\\]:" in inert_markdown("[r]: http://evil.example")


def test_sources_block_shows_title_link_licence_and_excerpt() -> None:
    cites = [
        Citation(
            1, "asthma", "Asthma", "https://example.org/asthma", "MedlinePlus", "public domain", "Airways narrow."
        ),
        Citation(2, "bad", "<b>Bad</b>", "javascript:alert(1)", excerpt="x" * 500),
    ]
    md = sources_markdown(cites)
    assert "1. [Asthma](https://example.org/asthma) — *MedlinePlus · public domain*" in md
    assert "Airways narrow." in md
    assert "javascript:" not in md and "<b>" not in md
    assert md.count("x") < 320  # excerpt shortened
    assert answer_markdown("Hi [1].", cites).startswith("Hi [1].\n\n**Sources**")


def test_emergency_banner() -> None:
    assert emergency_banner_html(Triage("ok")) == ""
    html = emergency_banner_html(Triage("emergency", message="Call <now>"))
    assert 'role="alert"' in html and "Call &lt;now&gt;" in html


def test_profile_from_form() -> None:
    assert profile_from_form(None, None, False, "", "", "") is None
    p = profile_from_form(34, "female", True, "asthma, ", "ibuprofen,paracetamol", "")
    assert p is not None and p.age == 34 and p.pregnant and p.medications == ("ibuprofen", "paracetamol")
    assert p.conditions == ("asthma",)
    assert profile_from_form(500, "robot", False, "", "", "") is None


# -- patient chat ----------------------------------------------------------------------------


def test_answer_streams_then_shows_sources(chat: PatientChat) -> None:
    outs, (history, banner, sid) = last(chat, "What is asthma?")
    assert len(outs) > 3  # placeholder, several deltas, final
    assert sid == "s1" and banner == ""
    assert history[0] == {"role": "user", "content": "What is asthma?"}
    assert "**Sources**" in history[-1]["content"] and "[Asthma](https://" in history[-1]["content"]
    assert "**Sources**" not in outs[2][0][-1]["content"]  # sources arrive with the final answer


def test_red_flag_sets_banner(chat: PatientChat) -> None:
    _, (history, banner, _) = last(chat, "I have chest pain")
    assert EMERGENCY_TEXT in banner and EMERGENCY_TEXT in history[-1]["content"]


def test_sessions_are_isolated_and_new_conversation_forgets(chat: PatientChat) -> None:
    last(chat, "My code is CANARY-A1 echo asthma", sid="a")
    last(chat, "My code is CANARY-B2 echo asthma", sid="b")
    _, (hist_a, _, _) = last(chat, "echo asthma again", sid="a")
    _, (hist_b, _, _) = last(chat, "echo asthma again", sid="b")
    assert "CANARY-A1" in hist_a[-1]["content"] and "CANARY-B2" not in hist_a[-1]["content"]
    assert "CANARY-B2" in hist_b[-1]["content"] and "CANARY-A1" not in hist_b[-1]["content"]
    assert chat.new_conversation("a") == ([], "", None)
    _, (hist_a2, _, _) = last(chat, "echo asthma again", sid="a")
    assert "CANARY-A1" not in hist_a2[-1]["content"]


def test_new_browser_session_gets_its_own_id(chat: PatientChat) -> None:
    _, (_, _, sid1) = last(chat, "What is asthma?", sid=None)
    _, (_, _, sid2) = last(chat, "What is asthma?", sid=None)
    assert sid1 and sid2 and sid1 != sid2


def test_empty_and_too_long_messages(chat: PatientChat, app_cfg: Settings) -> None:
    _, (history, _, _) = last(chat, "   ")
    assert history == []
    huge = "a" * 1_000_000
    _, (history, _, _) = last(chat, huge)
    assert "too long" in history[-1]["content"]
    assert len(history[0]["content"]) < 3000  # the message is not echoed back in full


def test_busy_message_when_no_slot(chat: PatientChat) -> None:
    chat.limiter.acquire()
    try:
        _, (history, _, _) = last(chat, "What is asthma?")
    finally:
        chat.limiter.release()
    assert "busy" in history[-1]["content"]


def test_errors_become_one_line_messages(chat: PatientChat) -> None:
    class Broken:
        def stream(self, *a: Any, **k: Any) -> Any:
            raise RuntimeError("secret internal detail")

        def reset(self, session_id: str) -> None:
            pass

    chat.service = Broken()  # type: ignore[assignment]
    _, (history, _, _) = last(chat, "What is asthma?")
    assert "went wrong" in history[-1]["content"] and "secret" not in history[-1]["content"]
    assert chat.limiter.stats().active == 0


def test_conversations_stored_only_when_enabled(chat: PatientChat, app_cfg: Settings) -> None:
    last(chat, "What is asthma?")
    assert chat.storage.conversation_log() == []
    chat.settings = app_cfg.model_copy(
        update={"server": app_cfg.server.model_copy(update={"store_conversations": True})}
    )
    last(chat, "what is asthma?")
    logged = chat.storage.conversation_log()
    assert [r[2] for r in logged] == ["user", "assistant"]
    assert logged[0][3] == "WHAT IS ASTHMA?"  # went through the redactor


# -- limiter ---------------------------------------------------------------------------------


def test_limiter_queue_is_fifo_and_bounded() -> None:
    lim = ConcurrencyLimiter(1, 1, queue_timeout_s=5)
    lim.acquire()
    got = threading.Event()

    def waiter() -> None:
        lim.acquire()
        got.set()

    t = threading.Thread(target=waiter)
    t.start()
    while lim.stats().waiting < 1:
        pass
    with pytest.raises(BusyError) as info:
        lim.acquire()
    assert info.value.retry_after_s >= 1
    lim.release()
    assert got.wait(5)
    lim.release()
    t.join()
    s = lim.stats()
    assert (s.active, s.waiting, s.rejected, s.completed) == (0, 0, 1, 2)


def test_limiter_wait_times_out() -> None:
    lim = ConcurrencyLimiter(1, 1, queue_timeout_s=0.05)
    lim.acquire()
    with pytest.raises(BusyError):
        lim.acquire()  # waits 50 ms in the queue, then gives up
    assert lim.stats().waiting == 0


# -- comparisons and the workbench -----------------------------------------------------------


def test_default_configs(app_cfg: Settings) -> None:
    assert list(default_configs(app_cfg)) == ["greedy", "sampled"]
    with_adapter = app_cfg.model_copy(update={"llm": app_cfg.llm.model_copy(update={"adapter": "/a"})})
    assert default_configs(with_adapter) == {"adapter": {}, "base": {"llm": {"adapter": None}}}
    assert resolve_configs(with_adapter)["base"].adapter is None


@pytest.mark.parametrize(
    ("configs", "message"),
    [
        ({"x": {"knowledge": {"top_k": 2}}}, "only 'llm'"),
        ({"x": {"llm": {"temperature": 9}}}, "compare_configs.x.llm.temperature"),
    ],
)
def test_bad_compare_configs(app_cfg: Settings, configs: dict[str, Any], message: str) -> None:
    bad = app_cfg.model_copy(update={"server": app_cfg.server.model_copy(update={"compare_configs": configs})})
    with pytest.raises(CompareConfigError, match=message):
        resolve_configs(bad)


def test_comparison_uses_one_retrieval_and_each_generator(app_cfg: Settings, health_chunks: list[Any]) -> None:
    service = make_service(app_cfg, health_chunks, MockGenerator(reply="Base says asthma narrows airways [1]."))
    built: list[Settings] = []

    def factory(s: Settings) -> MockGenerator:
        built.append(s)
        return MockGenerator(reply="Tuned says asthma narrows airways [1].")

    cfg = app_cfg.model_copy(
        update={
            "server": app_cfg.server.model_copy(
                update={"compare_configs": {"base": {}, "tuned": {"llm": {"adapter": "/adapters/x"}}}}
            )
        }
    )
    comparer = Comparer(cfg, service, generator_factory=factory)
    result = comparer.run("What is asthma?")
    assert service.retriever.queries.count(service.retriever.queries[0]) == 1  # type: ignore[attr-defined]
    assert len(service.retriever.queries) == 1  # type: ignore[attr-defined]
    assert [r.name for r in result.results] == ["base", "tuned"]
    assert result.results[0].reply.text.startswith("Base says")
    assert result.results[1].reply.text.startswith("Tuned says")
    assert built[0].llm.adapter == "/adapters/x"
    assert result.passages[0]["doc_id"] == "asthma"
    comparer.run("What is asthma?")
    assert len(built) == 1  # generator kept


def test_workbench_compare_rate_export_summary_import(app_cfg: Settings, health_chunks: list[Any]) -> None:
    from chatbot.ui.clinician import Workbench

    service = make_service(app_cfg, health_chunks, ScriptedGenerator())
    storage = Storage(app_cfg.database_path, redactor=lambda s: s)
    wb = Workbench(app_cfg, Comparer(app_cfg, service), ConcurrencyLimiter(1, 0), storage)

    assert "compare first" in wb.save_rating(None, "greedy", {}, "dr")
    passages, answers, metrics, state, _status = wb.compare("What is asthma?")
    assert "Asthma" in passages and len(answers) == 2 and "Grounded" in metrics[0]
    assert state is not None and set(state["results"]) == {"greedy", "sampled"}
    assert "every rating question" in wb.save_rating(state, "greedy", {"consensus": "aligned"}, "dr")
    values = {
        "consensus": "aligned",
        "comprehension": "correct",
        "retrieval": "correct",
        "reasoning": "correct",
        "inappropriate_content": "none",
        "missing_content": "none",
        "harm_extent": "none",
        "harm_likelihood": "low",
        "bias": "no",
        "citations_supported": "yes",
        "comment": "fine",
    }
    assert "Saved rating" in wb.save_rating(state, "greedy", values, "dr")
    assert "Saved rating" in wb.save_rating(state, "sampled", {**values, "consensus": "opposed"}, "dr")
    r1 = storage.ratings()[0]
    assert r1.rater == "dr" and r1.meta["passages"] == ["asthma", "flu", "hypertension"][: len(r1.meta["passages"])]

    csv_path = Path(wb.export("csv"))
    assert csv_path.parent == app_cfg.data_dir / "exports" and "fine" in csv_path.read_text()
    assert Path(wb.export("jsonl")).read_text().count("\n") == 2
    table, chart = wb.summary()
    assert "greedy" in table and chart is not None and Path(chart).read_bytes()[:4] == b"\x89PNG"

    fresh = Storage(app_cfg.data_dir / "fresh.db", redactor=lambda s: s)
    wb2 = Workbench(app_cfg, wb.comparer, wb.limiter, fresh)
    assert wb2.import_csv(str(csv_path), "dr2") == "Imported 2 rating(s)."
    assert "Choose a CSV" in wb2.import_csv(None, "dr2")
    bad = app_cfg.data_dir / "bad.csv"
    bad.write_text("config\nx\n")
    assert "lacks" in wb2.import_csv(str(bad), "dr2")
    assert "too long" in wb.compare("x" * 100_000)[4]


def test_stored_conversations_hold_no_identifiers(app_cfg: Settings, health_chunks: list[Any]) -> None:
    """With logging of conversations on, generated identifiers never reach the database file."""
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(7)
    ids = [fake.email(), fake.ssn(), fake.phone_number(), "555-867-5309", fake.ipv4()]
    cfg = app_cfg.model_copy(update={"server": app_cfg.server.model_copy(update={"store_conversations": True})})
    service = make_service(cfg, health_chunks, ScriptedGenerator())
    chat = PatientChat(cfg, service, ConcurrencyLimiter(1, 0), Storage(cfg.database_path))
    last(chat, f"echo asthma: reach me at {ids[0]}, SSN {ids[1]}, phone {ids[2]} or {ids[3]}, ip {ids[4]}")
    assert len(chat.storage.conversation_log()) == 2
    raw = b"".join(p.read_bytes() for p in cfg.data_dir.glob("healthbot.db*"))
    for ident in ids:
        assert ident.encode() not in raw, ident
