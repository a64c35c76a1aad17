"""Errors of the evaluation harness (one-line messages, shown without a traceback)."""

from chatbot.errors import HealthbotError


class EvaluationError(HealthbotError, ValueError):
    """Bad evaluation input (missing file, malformed line, unknown suite); the message says which."""
