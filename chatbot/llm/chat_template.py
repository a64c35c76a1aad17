"""A model's own chat template, also for templates that refuse a system message.

Every healthbot prompt starts with a system message (the rules). Gemma-2's and the early
Mistral-Instruct templates raise on it ("System role not supported", "Conversation roles must
alternate"). The remedy those families use themselves (Gemma-3's and later Mistral templates do
it inside the template) is to put the system text at the top of the first user turn, which is
what :func:`render_chat` does when, and only when, the template raises with a system message.

Serving (:mod:`chatbot.llm.hf`) and fine-tuning (``finetune.train.prompt_text``) both render
through here, so an adapter is trained on exactly the prompt it is served with.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


def fold_system(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """The conversation without system messages: their text opens the first user turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return rest
    for m in rest:
        if m["role"] == "user":
            m["content"] = f"{system}\n\n{m['content']}"
            break
    else:
        rest.insert(0, {"role": "user", "content": system})
    return rest


def render_chat(tokenizer: Any, messages: Sequence[dict[str, str]], *, tokenize: bool) -> Any:
    """``tokenizer.apply_chat_template`` with the assistant turn opened; when the template
    rejects the system message, again with it folded into the first user turn.

    Returns what transformers returns (text, or the encoding when ``tokenize``). A template
    that still fails raises its ``jinja2`` TemplateError.
    """
    from jinja2.exceptions import TemplateError

    chat = [dict(m) for m in messages]
    try:
        return tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=tokenize)
    except TemplateError as err:
        if not any(m["role"] == "system" for m in chat):
            raise
        log.debug("chat template refused the system message (%s); folded into the first user turn", err)
        return tokenizer.apply_chat_template(fold_system(chat), add_generation_prompt=True, tokenize=tokenize)
