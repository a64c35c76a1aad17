"""Turn model output and passages into inert Markdown/HTML for the browser.

Model output and indexed passages are untrusted: HTML is escaped (so ``<script>`` shows as
text), Markdown images are disarmed (no request to any host, not even ours), and only
``https://`` links stay clickable. The Content-Security-Policy header is the second line of
defence.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from chatbot import prompts
from chatbot.types import Citation, Triage

_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\n]*)\)")
_REF_DEF = re.compile(r"(?m)^(\s{0,3})\[([^\]\n]+)\]:")
_SAFE_URL = re.compile(r"^https://[^\s<>\"'`()]+$")
# What Markdown renderers turn into links on their own (GFM autolinks).
_BARE_URL = re.compile(r"(?i)\b(?:(?:https?|ftp|wss?|file|data)://|www\.)(?:(?!&lt;|&gt;|&quot;)[^\s<>`()])+")


def safe_url(url: str) -> str | None:
    url = url.strip()
    return url if _SAFE_URL.match(url) else None


def inert_markdown(text: str) -> str:
    """``text`` as Markdown that renders no HTML, loads nothing and links only to https."""
    out = html.escape(text, quote=False)

    def link(m: re.Match[str]) -> str:
        label, url = m.group(1), m.group(2)
        if safe_url(url):
            return f"[{label}]({url})"
        return f"\\[{label}\\]({url})"

    out = _LINK.sub(link, out)
    # An image needs "![": break it so it renders as the literal characters.
    out = out.replace("![", "!\\[")
    # A bare non-https address would be auto-linked; as inline code it is only text.
    out = _BARE_URL.sub(lambda m: m.group(0) if safe_url(m.group(0)) else f"`{m.group(0)}`", out)
    # Reference-style definitions could turn a later "[x][y]" into a link to anywhere.
    out = _REF_DEF.sub(lambda m: f"{m.group(1)}\\[{m.group(2)}\\]:", out)
    return out


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def sources_markdown(citations: Sequence[Citation], *, excerpt_chars: int = 300) -> str:
    """The sources block shown under an answer: number, linked title, origin and licence, excerpt."""
    if not citations:
        return ""
    lines = [f"**{prompts.SOURCES_LABEL}**", ""]
    for c in citations:
        title = inert_markdown(_one_line(c.title or c.doc_id, 200)).replace("[", "\\[").replace("]", "\\]")
        url = safe_url(c.url)
        head = f"[{title}]({url})" if url else title
        origin = " · ".join(inert_markdown(_one_line(x, 120)) for x in (c.source, c.license) if x)
        lines.append(f"{c.n}. {head}" + (f" — *{origin}*" if origin else ""))
        if c.excerpt:
            lines.append(f"    > {inert_markdown(_one_line(c.excerpt, excerpt_chars))}")
    return "\n".join(lines)


def answer_markdown(text: str, citations: Sequence[Citation] = ()) -> str:
    body = inert_markdown(text)
    block = sources_markdown(citations)
    return f"{body}\n\n{block}" if block else body


def emergency_banner_html(triage: Triage | None) -> str:
    """The prominent banner shown when triage finds a red flag (empty string otherwise)."""
    if triage is None or triage.label != "emergency":
        return ""
    message = html.escape(triage.message or prompts.EMERGENCY_BANNER_FALLBACK)
    title = html.escape(prompts.EMERGENCY_BANNER_TITLE)
    return (
        '<div class="emergency-banner" role="alert" aria-live="assertive" id="emergency-banner-box">'
        f"<strong>⚠ {title}</strong><p>{message}</p></div>"
    )


def passages_markdown(hits_info: Sequence[dict[str, object]]) -> str:
    """Retrieved passages with their scores, for the clinician workbench."""
    if not hits_info:
        return "_No passages were retrieved._"
    rows = ["| # | Title | Score | Dense | BM25 |", "|---|---|---|---|---|"]
    for h in hits_info:
        scores = h.get("scores") or {}
        assert isinstance(scores, dict)

        def fmt(v: object) -> str:
            return f"{float(v):.3f}" if isinstance(v, int | float) else ""

        title = inert_markdown(_one_line(str(h.get("title", "")), 80)).replace("|", "\\|")
        rows.append(
            f"| {h.get('n')} | {title} | {fmt(h.get('score'))} | {fmt(scores.get('dense'))} | {fmt(scores.get('bm25'))} |"
        )
    return "\n".join(rows)
