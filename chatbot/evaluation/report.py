"""Report writing: one block list rendered to Markdown and to self-contained HTML, plots as
PNG files (also embedded in the HTML), results as JSONL, and a CSV for clinician rating.

The rating CSV has the workbench's columns (``chatbot.storage.COLUMNS``) with the rating axes
left blank, plus helper columns the import ignores (question id, reference, sources). Once
filled in it imports into the workbench unchanged, and ``--ratings FILE`` joins it (or a
workbench export) back into the report by question id (``meta.question_id``) and configuration.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatbot.evaluation.bootstrap import PairedDiff
from chatbot.evaluation.errors import EvaluationError
from chatbot.evaluation.suites import ItemResult, Row, Suite, Table, values

RATING_CSV = "ratings_to_fill.csv"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Block:
    kind: str  # "h1" | "h2" | "p" | "table" | "image" | "list"
    text: str = ""
    table: Table | None = None
    items: list[str] = field(default_factory=list)
    path: str = ""  # image file name inside the report directory


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file in the same directory, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; reports are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def results_jsonl(suite: str, runs: dict[str, list[ItemResult]]) -> str:
    return "".join(
        json.dumps(r.to_json(suite), ensure_ascii=False) + "\n" for results in runs.values() for r in results
    )


def _csv_cell(value: str) -> str:
    # Same convention as the workbench export: a leading quote keeps spreadsheets from running it.
    return "'" + value if value.startswith(_FORMULA_START) else value


def rating_csv(suite: str, runs: dict[str, list[ItemResult]]) -> str:
    from chatbot.storage import AXES, COLUMNS

    helper = ["question_id", "suite", "reference", "sources"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*COLUMNS, *helper], lineterminator="\n")
    writer.writeheader()
    for config, results in runs.items():
        for r in results:
            sources = "; ".join(f"[{c['n']}] {c['title']} {c['url']}".strip() for c in r.reply.get("citations", []))
            row = {c: "" for c in COLUMNS}
            row.update(
                config=_csv_cell(config),
                question=_csv_cell(r.question),
                answer=_csv_cell(r.reply.get("text", "")),
                grounded_fraction="" if r.reply.get("grounded_fraction") is None else str(r.reply["grounded_fraction"]),
                flags=json.dumps(r.reply.get("flags", [])),
                meta=json.dumps({"question_id": r.id, "suite": suite}, sort_keys=True),
                question_id=r.id,
                suite=suite,
                reference=_csv_cell(str(r.info.get("reference", ""))[:2000]),
                sources=_csv_cell(sources),
            )
            for axis in AXES:
                row[axis] = ""
            writer.writerow(row)
    return buf.getvalue()


def read_ratings(path: Path) -> list[dict[str, Any]]:
    """Rows of a filled-in rating CSV or a workbench export; rows with no axis filled are skipped."""
    from chatbot.storage import AXES

    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"ratings file not found: {path}")
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    if not reader.fieldnames or "config" not in reader.fieldnames:
        raise EvaluationError(f"ratings file {path} needs the workbench's columns (config, question, answer, axes)")
    out = []
    for raw in reader:
        if not any((raw.get(a) or "").strip() for a in AXES):
            continue
        qid = (raw.get("question_id") or "").strip()
        if not qid and raw.get("meta"):
            try:
                meta = json.loads(raw["meta"])
            except json.JSONDecodeError:
                meta = {}
            qid = str(meta.get("question_id", "")) if isinstance(meta, dict) else ""
        out.append({"question_id": qid, **{k: (v or "").strip() for k, v in raw.items() if k}})
    return out


def ratings_table(ratings: list[dict[str, Any]], runs: dict[str, list[ItemResult]]) -> Table:
    """Per configuration: ratings that match an evaluated item, and the share with the best value per axis."""
    from chatbot.storage import AXES, BEST_VALUE

    rows = []
    for config, results in runs.items():
        ids = {r.id for r in results}
        questions = {r.question.strip(): r.id for r in results}
        mine = [
            x
            for x in ratings
            if x.get("config") == config and (x["question_id"] in ids or x.get("question", "").strip() in questions)
        ]
        row = [config, str(len(mine)), str(len({x["question_id"] or x.get("question") for x in mine}))]
        for axis in AXES:
            vals = [x.get(axis, "") for x in mine if x.get(axis)]
            row.append("n/a" if not vals else f"{sum(v == BEST_VALUE[axis] for v in vals) / len(vals):.2f}")
        rows.append(row)
    return Table(
        "Clinician ratings (share with the best value per axis)",
        ["config", "ratings", "items", *AXES],
        rows,
        "Joined by question id and configuration; best values: "
        + ", ".join(f"{a}={v}" for a, v in BEST_VALUE.items())
        + ".",
    )


# ---------------------------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------------------------


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    _plt().close(fig)
    write_atomic(path, buf.getvalue())


def latency_histogram(runs: dict[str, list[ItemResult]], path: Path) -> bool:
    plt = _plt()
    data = {c: values(rs, "total_s") for c, rs in runs.items()}
    if not any(data.values()):
        return False
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    allv = [v for vs in data.values() for v in vs]
    lo, hi = min(allv), max(allv)
    bins = 20 if hi > lo else 1
    for config, vs in data.items():
        ax.hist(vs, bins=bins, range=(lo, hi if hi > lo else lo + 1e-3), alpha=0.6, label=config)
    ax.set_xlabel("total latency per message (s)")
    ax.set_ylabel("messages")
    ax.set_title("Latency")
    ax.legend(fontsize=8)
    _save(fig, path)
    return True


def metric_bars(suite: Suite, summaries: dict[str, list[Row]], path: Path) -> bool:
    keys = [k for k, _ in suite.plot_metrics]
    labels = [lab for _, lab in suite.plot_metrics]
    if not keys:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.2, 3.2))
    n = len(summaries)
    width = 0.8 / max(n, 1)
    for j, (config, rows) in enumerate(summaries.items()):
        by = {r.key: r.value for r in rows}
        vals = [by.get(k) or 0.0 for k in keys]
        xs = [i + (j - (n - 1) / 2) * width for i in range(len(keys))]
        ax.bar(xs, vals, width=width, label=config)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title("Metrics per configuration")
    ax.legend(fontsize=8)
    _save(fig, path)
    return True


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind == "h1":
            out.append(f"# {b.text}\n")
        elif b.kind == "h2":
            out.append(f"## {b.text}\n")
        elif b.kind == "p":
            out.append(" ".join(b.text.split()) + "\n")
        elif b.kind == "list":
            out.append("\n".join("- " + " ".join(i.split()) for i in b.items) + "\n")
        elif b.kind == "image":
            out.append(f"![{b.text}]({b.path})\n")
        elif b.kind == "table" and b.table is not None:
            t = b.table
            lines = [f"**{t.title}**", "", "| " + " | ".join(_md_cell(h) for h in t.headers) + " |"]
            lines.append("|" + "|".join("---" for _ in t.headers) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
            if t.note:
                lines += ["", f"_{t.note}_"]
            out.append("\n".join(lines) + "\n")
    return "\n".join(out)


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}caption{font-weight:bold;text-align:left;padding:4px 0}"
    ".note{color:#555;font-size:.85em}img{max-width:100%}"
)


def render_html(blocks: Sequence[Block], directory: Path, title: str) -> str:
    e = html.escape
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{_CSS}</style></head><body>"
    ]
    for b in blocks:
        if b.kind in ("h1", "h2"):
            out.append(f"<{b.kind}>{e(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{e(b.text)}</p>")
        elif b.kind == "list":
            out.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "image":
            data = base64.b64encode((directory / b.path).read_bytes()).decode()
            out.append(f"<p><img alt='{e(b.text)}' src='data:image/png;base64,{data}'></p>")
        elif b.kind == "table" and b.table is not None:
            t = b.table
            rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in t.rows)
            head = "<tr>" + "".join(f"<th>{e(h)}</th>" for h in t.headers) + "</tr>"
            out.append(f"<table><caption>{e(t.title)}</caption>{head}{rows}</table>")
            if t.note:
                out.append(f"<p class='note'>{e(t.note)}</p>")
    out.append("</body></html>")
    return "\n".join(out)


def summary_table(summaries: dict[str, list[Row]]) -> Table:
    configs = list(summaries)
    first = summaries[configs[0]]
    rows = []
    for i, row in enumerate(first):
        rows.append([row.label, *[summaries[c][i].show() for c in configs]])
    return Table("Summary", ["metric", *configs], rows)


def comparison_table(diffs: Sequence[PairedDiff], a: str, b: str, resamples: int, seed: int) -> Table:
    rows = [
        [
            d.metric,
            str(d.n),
            f"{d.mean_a:.3f}",
            f"{d.mean_b:.3f}",
            f"{d.diff:+.3f}",
            f"[{d.low:+.3f}, {d.high:+.3f}]",
            d.verdict,
        ]
        for d in diffs
    ]
    conf = f"{diffs[0].confidence:.0%}" if diffs else "95%"
    return Table(
        f"Paired comparison: B = {b} minus A = {a}",
        ["metric", "n", f"A ({a})", f"B ({b})", "B - A", f"{conf} CI", "verdict"],
        rows,
        f"Paired bootstrap over items ({resamples} resamples, seed {seed}); items lacking a value in either "
        "configuration are left out. An interval that excludes 0 is a difference the sample supports.",
    )


def per_item_table(suite: Suite, runs: dict[str, list[ItemResult]]) -> Table | None:
    if suite.name == "safety":
        rows = [
            [r.config, r.id, r.info["label"], r.info["category"] or "-", r.reply["triage"], r.question[:90]]
            for rs in runs.values()
            for r in rs
            if not r.metrics.get("correct")
        ]
        return Table(
            "Misclassified messages",
            ["config", "id", "label", "category", "triage", "message"],
            rows,
            "" if rows else "None: every message got its expected triage.",
        )
    keys = [
        ("ap10", "AP@10"),
        ("rr10", "RR@10"),
        ("source_rr10", "src RR@10"),
        ("rouge_l", "ROUGE-L"),
        ("baseline_rouge_l", "base ROUGE-L"),
        ("emb_sim", "emb sim"),
        ("grounded", "grounded"),
        ("words", "words"),
        ("total_s", "total s"),
    ]
    present = [(k, lab) for k, lab in keys if any(k in r.metrics for rs in runs.values() for r in rs)]

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    rows = [
        [r.config, r.id, r.question[:70], r.reply["triage"], *[fmt(r.metrics.get(k)) for k, _ in present]]
        for rs in runs.values()
        for r in rs
    ]
    return Table("Per question", ["config", "id", "question", "triage", *[lab for _, lab in present]], rows)


def write_report(
    directory: Path,
    *,
    suite: Suite,
    runs: dict[str, list[ItemResult]],
    summaries: dict[str, list[Row]],
    context: list[str],
    diffs: Sequence[PairedDiff] = (),
    compare: tuple[str, str] | None = None,
    resamples: int = 0,
    seed: int = 0,
    ratings: list[dict[str, Any]] | None = None,
    answer_examples: int = 3,
) -> list[Path]:
    """Write every report file into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    title = f"healthbot evaluation: {suite.name}"
    blocks = [Block("h1", title), Block("list", items=context), Block("table", table=summary_table(summaries))]
    if diffs and compare:
        blocks.append(Block("table", table=comparison_table(diffs, compare[0], compare[1], resamples, seed)))
    if metric_bars(suite, summaries, directory / "metrics.png"):
        blocks.append(Block("image", "metrics per configuration", path="metrics.png"))
        written.append(directory / "metrics.png")
    if latency_histogram(runs, directory / "latency.png"):
        blocks.append(Block("image", "latency histogram", path="latency.png"))
        written.append(directory / "latency.png")
    for t in suite.extra_tables(runs):
        blocks.append(Block("table", table=t))
    if ratings is not None:
        blocks.append(Block("table", table=ratings_table(ratings, runs)))
    item_table = per_item_table(suite, runs)
    if item_table is not None:
        blocks.append(Block("table", table=item_table))
    if suite.name != "safety" and answer_examples:
        blocks.append(Block("h2", "Example answers"))
        for config, rs in runs.items():
            for r in rs[:answer_examples]:
                blocks.append(Block("p", f"[{config}] {r.id}: {r.question[:300]}"))
                blocks.append(
                    Block(
                        "list",
                        items=[
                            f"answer: {r.reply.get('text', '')[:700]}",
                            f"baseline: {str(r.info.get('baseline', ''))[:500]}",
                            f"reference: {str(r.info.get('reference', ''))[:500]}",
                        ],
                    )
                )
    blocks.append(
        Block(
            "p",
            f"Files: results.jsonl (one line per item and configuration), {RATING_CSV} (fill the rating "
            "columns, import in the clinician workbench or pass back with --ratings), metrics.png, latency.png.",
        )
    )
    files = {
        "report.md": render_markdown(blocks),
        "results.jsonl": results_jsonl(suite.name, runs),
        RATING_CSV: rating_csv(suite.name, runs),
    }
    for name, text in files.items():
        write_atomic(directory / name, text)
        written.append(directory / name)
    write_atomic(directory / "report.html", render_html(blocks, directory, title))
    written.append(directory / "report.html")
    return written
