"""The patient chat: streamed answers with their sources, an emergency banner, an optional
"about me" profile, and a fresh isolated session per browser tab.

Thin by design: every turn goes through the dialogue service, inside a slot of the limiter the
API shares. Nothing is stored on the server unless ``server.store_conversations`` is on (and
then only redacted).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from chatbot import prompts
from chatbot.concurrency import BusyError, ConcurrencyLimiter
from chatbot.errors import HealthbotError
from chatbot.types import PatientProfile, Reply, Triage
from chatbot.ui.render import answer_markdown, emergency_banner_html, inert_markdown

if TYPE_CHECKING:
    import gradio as gr

    from chatbot.dialogue import ChatService
    from chatbot.settings import Settings
    from chatbot.storage import Storage

log = logging.getLogger("healthbot.ui")

SEX_CHOICES = ["female", "male", "other"]
ChatHistory = list[dict[str, Any]]


# Gradio scrolls the chat to the bottom of a long reply, so the answer's first sentence (the one
# that matters) scrolls out of view; on a phone only a source excerpt was left. When a new turn
# appears, this keeps the question just asked, and the start of the reply under it, at the top
# while the reply streams in (the pane grows under it), until the reader scrolls.
KEEP_REPLY_START_JS = """
() => {
  let seen = 0, pinned = false;
  const unpin = () => { pinned = false; };
  new MutationObserver(() => {
    const chat = document.querySelector('#chat');
    const pane = chat && chat.querySelector('.bubble-wrap');
    if (!pane) return;
    if (!pane.dataset.keepStart) {
      pane.dataset.keepStart = '1';
      ['wheel', 'touchmove', 'keydown'].forEach((e) => pane.addEventListener(e, unpin, {passive: true}));
    }
    const rows = chat.querySelectorAll('.message-row.user-row');
    if (rows.length !== seen) { seen = rows.length; pinned = rows.length > 0; }
    if (!pinned) return;
    const row = rows[rows.length - 1];
    const off = row.getBoundingClientRect().top - pane.getBoundingClientRect().top - 8;
    if (Math.abs(off) > 2) pane.scrollTop += off;
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}
"""


def _items(text: str | None) -> tuple[str, ...]:
    return tuple(s.strip()[:100] for s in (text or "").split(",") if s.strip())[:20]


def profile_from_form(
    age: float | None, sex: str | None, pregnant: bool | None, conditions: str, medications: str, allergies: str
) -> PatientProfile | None:
    """The "about me" panel as a :class:`PatientProfile` (``None`` when left empty)."""
    age_i = int(age) if age is not None and 0 <= age <= 130 else None
    profile = PatientProfile(
        age=age_i,
        sex=sex if sex in SEX_CHOICES else None,  # type: ignore[arg-type]
        pregnant=True if pregnant else None,
        conditions=_items(conditions),
        medications=_items(medications),
        allergies=_items(allergies),
    )
    return None if profile.is_empty() else profile


class PatientChat:
    """The patient chat's event handlers, independent of Gradio so they can be unit tested."""

    def __init__(self, settings: Settings, service: ChatService, limiter: ConcurrencyLimiter, storage: Storage) -> None:
        self.settings = settings
        self.service = service
        self.limiter = limiter
        self.storage = storage

    def respond(
        self,
        message: str | None,
        chat: ChatHistory | None,
        session_id: str | None,
        banner: str,
        profile: PatientProfile | None = None,
    ) -> Iterator[tuple[ChatHistory, str, str | None]]:
        """Yields (chat history, banner html, session id) as the answer streams in."""
        chat = list(chat or [])
        session_id = session_id or uuid.uuid4().hex
        text = (message or "").strip()
        limit = self.settings.dialogue.max_message_chars
        if not text:
            yield list(chat), banner, session_id
            return
        shown = text if len(text) <= 2000 else text[:2000] + "…"
        chat.append({"role": "user", "content": inert_markdown(shown)})
        if len(text) > limit:
            chat.append({"role": "assistant", "content": prompts.MESSAGE_TOO_LONG.format(n=len(text), limit=limit)})
            yield list(chat), banner, session_id
            return
        chat.append({"role": "assistant", "content": "…"})
        yield list(chat), banner, session_id
        try:
            self.limiter.acquire()
        except BusyError as err:
            chat[-1] = {"role": "assistant", "content": str(err)}
            yield list(chat), banner, session_id
            return
        try:
            parts: list[str] = []
            triage: Triage | None = None
            reply: Reply | None = None
            for ev in self.service.stream(text, session_id=session_id, profile=profile):
                if ev.kind == "triage" and ev.triage is not None:
                    triage = ev.triage
                    if triage.label == "emergency":
                        banner = emergency_banner_html(triage)
                        yield list(chat), banner, session_id
                elif ev.kind == "delta" and ev.text:
                    parts.append(ev.text)
                    chat[-1] = {"role": "assistant", "content": inert_markdown("".join(parts))}
                    yield list(chat), banner, session_id
                elif ev.kind == "done":
                    reply = ev.reply
            if reply is not None:
                if reply.triage.label == "emergency":
                    banner = emergency_banner_html(reply.triage)
                chat[-1] = {"role": "assistant", "content": answer_markdown(reply.text, reply.citations)}
                if self.settings.server.store_conversations:
                    self.storage.log_turn(session_id, "user", text)
                    self.storage.log_turn(session_id, "assistant", reply.text)
        except HealthbotError as err:
            chat[-1] = {"role": "assistant", "content": inert_markdown(str(err))}
        except Exception:
            log.exception("patient chat turn failed")
            chat[-1] = {"role": "assistant", "content": prompts.INTERNAL_ERROR_MESSAGE}
        finally:
            self.limiter.release()
        yield list(chat), banner, session_id

    def new_conversation(self, session_id: str | None) -> tuple[ChatHistory, str, None]:
        if session_id:
            self.service.reset(session_id)
        return [], "", None


def build_patient_ui(
    settings: Settings, service: ChatService, limiter: ConcurrencyLimiter, storage: Storage
) -> gr.Blocks:
    import gradio as gr

    handlers = PatientChat(settings, service, limiter, storage)

    with gr.Blocks(analytics_enabled=False, title="healthbot") as demo:
        gr.Markdown(f"# {prompts.APP_TITLE}\n{prompts.APP_INTRO}")
        gr.Markdown(f"_{prompts.DISCLAIMER}_", elem_id="disclaimer")
        banner = gr.HTML("", elem_id="emergency-banner")
        session = gr.State(None)
        chat = gr.Chatbot(
            elem_id="chat",
            label="Conversation",
            show_label=False,  # the label badge sat on top of each reply's first line
            autoscroll=False,  # KEEP_REPLY_START_JS scrolls to the new turn's start instead
            height=460,
            sanitize_html=True,
            allow_tags=False,
            latex_delimiters=[],
            feedback_options=None,
            buttons=["copy"],
            placeholder=prompts.CHAT_PLACEHOLDER,
        )
        with gr.Row():
            msg = gr.Textbox(
                elem_id="message",
                show_label=False,
                placeholder="Type your health question…",
                scale=8,
                max_lines=6,
                autofocus=True,
            )
            send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
        gr.Examples(examples=[[q] for q in prompts.APP_EXAMPLES], inputs=[msg], label="Example questions")
        with gr.Accordion("About me (optional)", open=False, elem_id="about-me"):
            gr.Markdown(prompts.PROFILE_HELP)
            with gr.Row():
                age = gr.Number(label="Age", precision=0, minimum=0, maximum=130)
                sex = gr.Radio(SEX_CHOICES, label="Sex")
                pregnant = gr.Checkbox(label="Pregnant")
            conditions = gr.Textbox(label="Conditions (comma separated)")
            medications = gr.Textbox(label="Current medicines (comma separated)")
            allergies = gr.Textbox(label="Allergies (comma separated)")
        new = gr.Button("New conversation", elem_id="new-conversation")

        def respond(
            message: str,
            history: ChatHistory,
            sid: str | None,
            banner_html: str,
            age_v: float | None,
            sex_v: str | None,
            pregnant_v: bool,
            conditions_v: str,
            medications_v: str,
            allergies_v: str,
        ) -> Iterator[tuple[ChatHistory, str, str | None, Any]]:
            profile = profile_from_form(age_v, sex_v, pregnant_v, conditions_v, medications_v, allergies_v)
            # The box is cleared once, when the question is taken; later updates leave it alone,
            # or what the patient types while the answer streams is wiped when it arrives.
            box: Any = ""
            for history_out, banner_out, sid_out in handlers.respond(message, history, sid, banner_html, profile):
                yield history_out, banner_out, sid_out, box
                box = gr.skip()

        inputs = [msg, chat, session, banner, age, sex, pregnant, conditions, medications, allergies]
        outputs = [chat, banner, session, msg]
        # Our limiter is the one shared limit (with the API), so Gradio's own per-event limit is off.
        msg.submit(respond, inputs, outputs, concurrency_limit=None, api_visibility="private")
        send.click(respond, inputs, outputs, concurrency_limit=None, api_visibility="private")
        chat.clear(handlers.new_conversation, [session], [chat, banner, session], api_visibility="private")
        new.click(handlers.new_conversation, [session], [chat, banner, session], api_visibility="private")
    return demo
