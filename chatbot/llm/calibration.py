"""The prompt the CPU int8 smoothing is fitted to when the caller passes none.

SmoothQuant (see :mod:`chatbot.llm.cpu_fast`) measures each input channel's activation range on
one prompt. The best prompt is shaped like the real ones, so the service passes its own
retrieval prompt (``calibration=`` of :class:`chatbot.llm.hf.HFGenerator`, built by
:func:`chatbot.services.calibration_messages`). Generation knows no dialogue, so this generic
stand-in (rules, numbered sources, a question) is what a bare backend uses.
"""

from __future__ import annotations

from chatbot.types import ChatMessage

_RULES = (
    "You are a careful health information assistant. Answer only from the numbered sources "
    "below and cite each statement with its number, like [1]. If the sources do not answer the "
    "question, say so plainly. Do not diagnose, and advise seeing a doctor when symptoms are severe."
)
_SOURCES = (
    "[1] Type 2 diabetes: the body does not use insulin well, so blood sugar stays high. Thirst, "
    "passing more urine, tiredness and blurred vision are common signs; keeping to a healthy "
    "weight, regular activity and medicines help keep blood sugar in range.\n"
    "[2] High blood pressure rarely causes symptoms, which is why it should be measured "
    "regularly. Less salt, regular exercise, less alcohol and prescribed tablets lower it.\n"
    "[3] Back pain usually improves within a few weeks. Staying active, gentle stretching and "
    "simple painkillers help; numbness around the bottom or loss of bladder control needs urgent care.\n"
    "[4] Headaches and migraines: rest, fluids and painkillers ease most headaches. A sudden, very "
    "severe headache, or one with a stiff neck, fever or confusion, is an emergency."
)
_QUESTION = "I have type 2 diabetes and high blood pressure. Which symptoms should make me call a doctor?"

FALLBACK_CALIBRATION: tuple[ChatMessage, ...] = (
    ChatMessage("system", _RULES),
    ChatMessage("user", f"Sources:\n{_SOURCES}\n\nQuestion: {_QUESTION}"),
)
