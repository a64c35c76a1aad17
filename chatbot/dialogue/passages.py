"""Which retrieved passages a turn may answer from.

Retrieval ranks passages; this step decides which of them the answer may use: those above
``knowledge.min_score``, without instructions to the assistant, about the question's topic, and,
for a follow-up that names no condition of its own ("is it contagious?", "how long does it take
to heal?"), from the document the previous question was answered from. Without that last rule a
follow-up drifted to whatever else its few words retrieved (hand audit v2: "how long does it take
to heal?" after a burn quoted sprain self-care; "is it contagious?" after a cough quoted measles).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from chatbot.dialogue.budget import RETRIEVAL_MAX_TOKENS, PromptBudget
from chatbot.faithfulness_text import stem
from chatbot.grounding import topic
from chatbot.planning import on_topic, titled_by
from chatbot.query import ASPECT_WORDS, Understanding, content_words, extract_topic, understand
from chatbot.safety.output import poisoned
from knowledge.retrieval import DocumentLookup

if TYPE_CHECKING:
    from chatbot.settings import Settings
    from knowledge.documents import Hit
    from knowledge.retrieval import Retriever

log = logging.getLogger("chatbot.dialogue")


class PassageFinder:
    """Search, then keep the passages a turn may use (with flags saying what was removed)."""

    def __init__(self, settings: Settings, retriever: Retriever | None, budget: PromptBudget) -> None:
        self.settings = settings
        self.retriever = retriever
        self.budget = budget

    def usable(self, hits: Sequence[Hit]) -> tuple[list[Hit], list[str]]:
        """Hits above the relevance threshold with poisoned passages removed, and flags."""
        min_score = self.settings.knowledge.min_score
        kept = [h for h in hits if h.score >= min_score]
        clean = [h for h in kept if not poisoned(h.chunk.text)]
        removed = len(kept) - len(clean)
        if removed:
            log.warning("removed %d retrieved passage(s) containing instructions to the assistant", removed)
        return clean[: self.settings.knowledge.top_k], [f"source_injection_removed:{removed}"] if removed else []

    def search(self, u: Understanding, extra: str = "") -> tuple[list[Hit], list[str]]:
        """Usable hits for ``u`` (``extra``: words added to the retrieval text)."""
        if self.retriever is None:
            return [], []
        # A long message goes in full plus its reduced question; the retriever scores each
        # signal with the better of the two.
        k = self.settings.knowledge.top_k
        if u.reduced != u.query.standalone and u.query.retrieval.startswith(u.reduced):
            terms = u.query.retrieval[len(u.reduced) :]
            text = self.budget.clip(u.query.standalone + terms + extra, RETRIEVAL_MAX_TOKENS)
            hits = self.retriever.search(text, k, question=u.query.retrieval)
        else:
            hits = self.retriever.search(self.budget.clip(u.query.retrieval + extra, RETRIEVAL_MAX_TOKENS), k)
        return self.usable(hits)

    def on_topic(self, hits: Sequence[Hit], u: Understanding) -> list[Hit]:
        """The passages about the question's topic.

        A passage is about it when it names the topic, or when its document does (the document's
        title and opening, or another of its retrieved passages): sprains' "When to seek care"
        never says "ankle". When a document is titled by the topic itself ("Shingles" for "is
        shingles contagious?"), only that document's passages answer: chickenpox's mention of
        shingles does not make "chickenpox is very contagious" an answer (hand audit v2, P13)."""
        lookup = self.retriever if isinstance(self.retriever, DocumentLookup) else None

        def names(h: Hit) -> bool:
            return on_topic(h.chunk.title, h.chunk.text, u.topic, u.query.standalone)

        named_docs = {h.chunk.doc_id for h in hits if names(h)}

        def about(h: Hit) -> bool:
            if h.chunk.doc_id in named_docs:
                return True
            return lookup is not None and on_topic(h.chunk.title, lookup.document_lead(h.chunk.doc_id), u.topic, "")

        kept = [h for h in hits if about(h)]
        titled = [h for h in kept if titled_by(topic(h.chunk), u.topic)]
        return titled or kept

    def previous_document(self, previous: str | None) -> Hit | None:
        """The best passage for the previous standalone question: what it was answered from."""
        if not previous or self.retriever is None:
            return None
        u = self.budget.bounded(understand(previous), [])
        # on_topic keeps only a document titled by the topic when there is one ("Is shingles
        # contagious?": shingles, though chickenpox's passage about shingles may score higher).
        hits = self.on_topic(self.search(u)[0], u)
        return hits[0] if hits else None

    def find(
        self, u: Understanding, previous: str | None, given: Sequence[Hit] | None = None
    ) -> tuple[list[Hit], list[Hit], list[str]]:
        """(what was found, what the turn may use, flags). ``given``: passages the caller chose
        (they are checked the same way, and not searched again)."""
        found, flags = self.search(u) if given is None else self.usable(given)
        if u.carried and names_a_document(found, u):  # "what about diabetes?": a topic of its own
            u = replace(u, topic=extract_topic(u.query.original) or u.topic, carried=False)
        hits = self.on_topic(found, u)
        if len(hits) < len(found):
            flags.append(f"off_topic_sources_removed:{len(found) - len(hits)}")
        anchor = self.previous_document(previous) if u.carried else None
        if anchor is None:
            return found, hits, flags
        doc = anchor.chunk.doc_id
        same = [h for h in found if h.chunk.doc_id == doc]
        if not same and given is None:  # ask again, naming the document ("Burns")
            same = [h for h in self.search(u, extra=f" ({topic(anchor.chunk)})")[0] if h.chunk.doc_id == doc]
        # Nothing of that document answers it: "not covered" is honest, another topic's passage is not.
        flags.append(f"followup_kept_document:{doc}" if same else f"followup_not_in_document:{doc}")
        return found, same, flags


def names_a_document(hits: Sequence[Hit], u: Understanding) -> bool:
    """Whether the follow-up itself names what a retrieved document is titled by: "what about
    diabetes?" is a new topic though "diabetes" is too common a word to look like one."""
    own = {stem(w) for w in content_words(u.query.original) if w not in ASPECT_WORDS}
    return any(own & {stem(w) for w in content_words(topic(h.chunk))} for h in hits)


__all__ = ["PassageFinder", "names_a_document"]
