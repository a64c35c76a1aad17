"""Knowledge base: ingest -> chunk -> embed -> index -> retrieve. Importing this is cheap."""

from knowledge.documents import Chunk, Document, Hit

__all__ = ["Chunk", "Document", "Hit"]
