"""The dialogue manager: the one service every front end calls for a chat turn.

:mod:`.service` orchestrates a turn (the port :class:`ChatService` and :class:`DialogueService`),
:mod:`.turn` holds its records, :mod:`.history` the replay of earlier turns, :mod:`.budget` the
token budgets and :mod:`.answers` the answer modes. Importing this package loads no model.
"""

from chatbot.dialogue.history import conversation_context
from chatbot.dialogue.service import ChatService, DialogueError, DialogueService
from chatbot.dialogue.turn import Turn, TurnOptions

__all__ = ["ChatService", "DialogueError", "DialogueService", "Turn", "TurnOptions", "conversation_context"]
