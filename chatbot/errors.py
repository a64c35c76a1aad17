"""Errors meant for people: their message is a one-line instruction, shown without a traceback."""


class HealthbotError(Exception):
    """Base class of every error whose message alone tells the user what to do."""
