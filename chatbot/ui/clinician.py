"""The clinician workbench (behind a login): one question, several configurations side by side
over the same passages, a structured rating per answer, exports, a summary chart and CSV import.
"""

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot import prompts
from chatbot.concurrency import BusyError, ConcurrencyLimiter
from chatbot.errors import HealthbotError
from chatbot.storage import AXES, BEST_VALUE, Rating, Storage, StorageError
from chatbot.ui.render import answer_markdown, inert_markdown, passages_markdown
from chatbot.workbench import Comparer, Comparison

if TYPE_CHECKING:
    import gradio as gr

    from chatbot.settings import Settings

log = logging.getLogger("healthbot.ui")

AXIS_NAMES = list(AXES)


def metrics_markdown(result_reply: Any) -> str:
    """Grounded fraction, triage, flags and timings of one answer."""
    r = result_reply
    gf = "n/a" if r.grounded_fraction is None else f"{r.grounded_fraction:.0%}"
    t = r.timings
    ttft = "n/a" if t.first_token_s is None else f"{t.first_token_s:.2f} s"
    flags = ", ".join(inert_markdown(f) for f in r.flags) or "none"
    return (
        f"**Grounded:** {gf} · **Triage:** {r.triage.label} · **Flags:** {flags}  \n"
        f"**Timings:** retrieval {t.retrieval_s:.2f} s · first token {ttft} · generation {t.generation_s:.2f} s · "
        f"total {t.total_s:.2f} s · {t.tokens_generated} tokens"
    )


def comparison_state(c: Comparison) -> dict[str, Any]:
    """What a later rating needs to know about the comparison (kept in the browser session)."""
    return {
        "question": c.question,
        "passages": [{k: v for k, v in p.items() if k != "text"} for p in c.passages],
        "results": {
            r.name: {
                "answer": r.reply.text,
                "grounded_fraction": r.reply.grounded_fraction,
                "flags": list(r.reply.flags),
                "timings": asdict(r.reply.timings),
                "overrides": r.overrides,
                "citations": [c.n for c in r.reply.citations],
            }
            for r in c.results
        },
    }


class Workbench:
    """Handlers of the clinician workbench, testable without a browser."""

    def __init__(self, settings: "Settings", comparer: Comparer, limiter: ConcurrencyLimiter, storage: Storage) -> None:
        self.settings = settings
        self.comparer = comparer
        self.limiter = limiter
        self.storage = storage
        self.export_dir = settings.data_dir / "exports"

    def compare(self, question: str) -> tuple[str, list[str], list[str], dict[str, Any] | None, str]:
        """(passages, answers per config, metrics per config, state, status)."""
        names = self.comparer.names
        empty = [""] * len(names)
        q = (question or "").strip()
        limit = self.settings.dialogue.max_message_chars
        if not q:
            return "", empty, empty, None, prompts.EMPTY_MESSAGE
        if len(q) > limit:
            return "", empty, empty, None, prompts.MESSAGE_TOO_LONG.format(n=len(q), limit=limit)
        try:
            with self.limiter.slot():
                c = self.comparer.run(q)
        except BusyError as err:
            return "", empty, empty, None, str(err)
        except HealthbotError as err:
            return "", empty, empty, None, inert_markdown(str(err))
        except Exception:
            log.exception("comparison failed")
            return "", empty, empty, None, prompts.INTERNAL_ERROR_MESSAGE
        by_name = {r.name: r for r in c.results}
        answers = [answer_markdown(by_name[n].reply.text, by_name[n].reply.citations) for n in names]
        metrics = [metrics_markdown(by_name[n].reply) for n in names]
        return passages_markdown(c.passages), answers, metrics, comparison_state(c), "Compared over the same passages."

    def save_rating(self, state: dict[str, Any] | None, config: str, values: dict[str, Any], rater: str) -> str:
        if not state or config not in state.get("results", {}):
            return "Ask a question and compare first; then rate the answers."
        missing = [AXES[a][0] for a in AXIS_NAMES if not values.get(a)]
        if missing:
            return "Please answer every rating question: " + "; ".join(missing)
        res = state["results"][config]
        try:
            rating = Rating(
                config=config,
                question=state["question"],
                answer=res["answer"],
                comment=values.get("comment") or "",
                rater=rater,
                grounded_fraction=res["grounded_fraction"],
                flags=list(res["flags"]),
                meta={
                    "overrides": res["overrides"],
                    "timings": res["timings"],
                    "citations": res["citations"],
                    "passages": [p["doc_id"] for p in state["passages"]],
                },
                **{a: values[a] for a in AXIS_NAMES},
            )
            rating_id = self.storage.add_rating(rating)
        except StorageError as err:
            return inert_markdown(str(err))
        return f"Saved rating `{rating_id}` for **{inert_markdown(config)}**."

    def export(self, fmt: str) -> str:
        self.export_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.export_dir / f"ratings-{stamp}.{fmt}"
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_text(self.storage.export(fmt), encoding="utf-8")  # type: ignore[arg-type]
        tmp.replace(path)
        return str(path)

    def summary(self) -> tuple[str, str | None]:
        data = self.storage.summary()
        if not data:
            return "_No ratings yet._", None
        names = list(data)
        rows = [
            "| Rating | " + " | ".join(inert_markdown(n) for n in names) + " |",
            "|---|" + "---|" * len(names),
            "| ratings (n) | " + " | ".join(str(int(data[n]["n"])) for n in names) + " |",
        ]
        for a in AXIS_NAMES:
            rows.append(f"| {AXES[a][0]} ({BEST_VALUE[a]}) | " + " | ".join(f"{data[n][a]:.0%}" for n in names) + " |")
        note = "\n\nEach cell: the share of that configuration's ratings with the best value (in brackets)."
        return "\n".join(rows) + note, str(self.chart(data))

    def chart(self, data: dict[str, dict[str, float]]) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.export_dir.mkdir(parents=True, exist_ok=True)
        names = list(data)
        width = 0.8 / max(1, len(names))
        fig, ax = plt.subplots(figsize=(11, 4.2), dpi=100)
        for i, name in enumerate(names):
            xs = [j + i * width - 0.4 + width / 2 for j in range(len(AXIS_NAMES))]
            ax.bar(xs, [data[name][a] for a in AXIS_NAMES], width, label=f"{name} (n={int(data[name]['n'])})")
        ax.set_xticks(range(len(AXIS_NAMES)))
        ax.set_xticklabels([AXES[a][0] for a in AXIS_NAMES], rotation=25, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("share with the best rating")
        ax.set_title("Clinician ratings per configuration")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = self.export_dir / "ratings-summary.png"
        tmp = self.export_dir / "ratings-summary.png.part"
        fig.savefig(tmp, format="png")
        plt.close(fig)
        tmp.replace(path)
        return path

    def import_csv(self, file_path: str | None, rater: str) -> str:
        if not file_path:
            return "Choose a CSV file first."
        try:
            text = Path(file_path).read_text(encoding="utf-8-sig")
            added = self.storage.import_csv(text, rater=rater)
        except UnicodeDecodeError:
            return "The CSV file must be UTF-8."
        except StorageError as err:
            return inert_markdown(str(err))
        return f"Imported {added} rating(s)."


def _username(request: "gr.Request | None") -> str:
    return str(getattr(request, "username", None) or "")


@dataclass
class _CompareTab:
    """The components of the "Compare" tab that its events read and write."""

    question: "gr.Textbox"
    ask: "gr.Button"
    status: "gr.Markdown"
    passages: "gr.Markdown"
    answers: list["gr.Markdown"]
    metrics: list["gr.Markdown"]
    saved: list["gr.Markdown"]


@dataclass
class _RatingsTab:
    """The components of the "Ratings" tab: exports, summary and chart, CSV import."""

    csv_btn: "gr.Button"
    jsonl_btn: "gr.Button"
    export_file: "gr.File"
    refresh: "gr.Button"
    summary_md: "gr.Markdown"
    chart: "gr.Image"
    upload: "gr.File"
    imported: "gr.Markdown"


def build_clinician_ui(
    settings: "Settings", comparer: Comparer, limiter: ConcurrencyLimiter, storage: Storage
) -> "gr.Blocks":
    import gradio as gr

    wb = Workbench(settings, comparer, limiter, storage)

    with gr.Blocks(analytics_enabled=False, title="healthbot clinician workbench") as demo:
        gr.Markdown(f"# Clinician workbench\n{prompts.CLINICIAN_INTRO}")
        who = gr.Markdown(elem_id="who")
        state = gr.State(None)
        with gr.Tab("Compare"):
            compare = _compare_tab(wb, comparer.names, state)
        with gr.Tab("Ratings"):
            ratings = _ratings_tab()
        # Events are wired after both tabs exist, in the order the workbench has always had.
        _wire_compare(wb, compare, state)
        _wire_ratings(wb, ratings)

        def on_load(request: gr.Request) -> str:
            user = _username(request)
            return f"Signed in as **{inert_markdown(user)}** · [Sign out](logout)" if user else ""

        demo.load(on_load, None, [who], api_visibility="private")
    return demo


def _compare_tab(wb: Workbench, names: list[str], state: "gr.State") -> _CompareTab:
    """The question box, the shared passages and one answer-and-rating column per configuration."""
    import gradio as gr

    with gr.Row():
        question = gr.Textbox(label="Question", scale=8, elem_id="cw-question", max_lines=4)
        ask = gr.Button("Compare", variant="primary", scale=1, elem_id="cw-compare")
    status = gr.Markdown(elem_id="cw-status")
    with gr.Accordion("Retrieved passages (shared by all configurations)", open=True):
        passages = gr.Markdown(elem_id="cw-passages")
    tab = _CompareTab(question, ask, status, passages, [], [], [])
    with gr.Row(equal_height=False):
        for i, name in enumerate(names):
            answer, metrics, saved = _rating_column(wb, i, name, state)
            tab.answers.append(answer)
            tab.metrics.append(metrics)
            tab.saved.append(saved)
    return tab


def _rating_column(
    wb: Workbench, i: int, name: str, state: "gr.State"
) -> tuple["gr.Markdown", "gr.Markdown", "gr.Markdown"]:
    """One configuration's answer, metrics and rating form; (answer, metrics, saved) components."""
    import gradio as gr

    with gr.Column(elem_id=f"cw-col-{i}"):
        gr.Markdown(f"## {inert_markdown(name)}")
        answer = gr.Markdown(elem_id=f"cw-answer-{i}", sanitize_html=True)
        metrics = gr.Markdown(elem_id=f"cw-metrics-{i}")
        with gr.Group(elem_id=f"cw-rate-{i}"):
            # Stored values stay the published axes' codes; the clinician reads words ("no consensus").
            radios = [
                gr.Radio([(v.replace("_", " "), v) for v in AXES[a][1]], label=AXES[a][0], elem_id=f"cw-{a}-{i}")
                for a in AXIS_NAMES
            ]
            comment = gr.Textbox(label="Comment", lines=2, elem_id=f"cw-comment-{i}")
        save = gr.Button(f"Save rating for {name}", elem_id=f"cw-save-{i}")
        saved = gr.Markdown(elem_id=f"cw-saved-{i}")

        # Inputs given as a set arrive as one dict {component: value}.
        def on_save(data: dict[Any, Any], request: gr.Request) -> str:
            values = {a: data[r] for a, r in zip(AXIS_NAMES, radios, strict=True)}
            values["comment"] = data[comment]
            return wb.save_rating(data[state], name, values, _username(request))

        save.click(on_save, {state, *radios, comment}, [saved], api_visibility="private")
    return answer, metrics, saved


def _ratings_tab() -> _RatingsTab:
    import gradio as gr

    with gr.Row():
        csv_btn = gr.Button("Export CSV", elem_id="cw-export-csv")
        jsonl_btn = gr.Button("Export JSONL", elem_id="cw-export-jsonl")
    export_file = gr.File(label="Export", interactive=False, elem_id="cw-export-file")
    refresh = gr.Button("Refresh summary", elem_id="cw-refresh")
    summary_md = gr.Markdown(elem_id="cw-summary")
    chart = gr.Image(
        label="Ratings per configuration",
        type="filepath",
        interactive=False,
        elem_id="cw-chart",
        buttons=["download", "fullscreen"],
    )
    upload = gr.File(label="Import ratings (CSV)", file_types=[".csv"], type="filepath", elem_id="cw-import")
    imported = gr.Markdown(elem_id="cw-imported")
    return _RatingsTab(csv_btn, jsonl_btn, export_file, refresh, summary_md, chart, upload, imported)


def _wire_compare(wb: Workbench, tab: _CompareTab, state: "gr.State") -> None:
    """Compare on click or Enter; a new comparison also clears the "saved" notes."""
    n = len(tab.answers)

    def on_compare(q: str) -> list[Any]:
        p, ans, met, st, msg = wb.compare(q)
        return [p, *ans, *met, st, msg, *([""] * n)]

    outputs = [tab.passages, *tab.answers, *tab.metrics, state, tab.status, *tab.saved]
    tab.ask.click(on_compare, [tab.question], outputs, concurrency_limit=None, api_visibility="private")
    tab.question.submit(on_compare, [tab.question], outputs, concurrency_limit=None, api_visibility="private")


def _wire_ratings(wb: Workbench, tab: _RatingsTab) -> None:
    import gradio as gr

    tab.csv_btn.click(lambda: wb.export("csv"), None, [tab.export_file], api_visibility="private")
    tab.jsonl_btn.click(lambda: wb.export("jsonl"), None, [tab.export_file], api_visibility="private")
    tab.refresh.click(wb.summary, None, [tab.summary_md, tab.chart], api_visibility="private")

    def on_import(path: str | None, request: gr.Request) -> str:
        return wb.import_csv(path, _username(request))

    tab.upload.upload(on_import, [tab.upload], [tab.imported], api_visibility="private")
