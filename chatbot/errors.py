"""Errors meant for people: their message is a one-line instruction, shown without a traceback."""


class HealthbotError(Exception):
    """Base class of every error whose message alone tells the user what to do."""


class GenerationError(HealthbotError, RuntimeError):
    """A generation backend could not load or generate; the message says what to do.

    Defined here, not in :mod:`chatbot.llm`, so the faces (API, UI) can map it to a response
    without importing the generation layer; ``chatbot.llm.base`` re-exports it."""
