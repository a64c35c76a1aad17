"""Errors of the knowledge base, shown to users as one line."""

from chatbot.errors import HealthbotError


class KnowledgeError(HealthbotError):
    """Bad source, corrupt or mismatched index, bad query: the message says what to do."""
