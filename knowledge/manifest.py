"""The index manifest: what was indexed, with what, and checksums of every file."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from knowledge.errors import KnowledgeError

INDEX_VERSION = 4  # 2: chunk text keeps line breaks; 3: a list cut by a chunk boundary restates its lead-in; 4: no item carried over without its lead-in
MANIFEST_NAME = "manifest.json"


@dataclass
class Manifest:
    embedder: str
    dimension: int
    max_seq_length: int
    chunk_tokens: int
    chunk_overlap: int
    faiss_index: str
    corpus_hash: str
    n_documents: int
    n_chunks: int
    sources: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    created: str = ""
    build_seconds: float = 0.0
    dense_scope: str = "all"
    query_adapter: dict[str, Any] = field(default_factory=dict)  # training report; empty when none was trained
    version: int = INDEX_VERSION

    def write(self, directory: Path) -> None:
        """Atomic (temporary file, then rename): ``knowledge adapt`` rewrites a live index's manifest."""
        path = directory / MANIFEST_NAME
        tmp = directory / f".{MANIFEST_NAME}.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST_NAME
        if not directory.is_dir():
            raise KnowledgeError(
                f"no index at {directory}: build one with `python -m knowledge build` or `python -m chatbot prepare`"
            )
        if not path.is_file():
            raise KnowledgeError(f"index at {directory} has no {MANIFEST_NAME}: it is incomplete, rebuild it")
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != INDEX_VERSION:
                raise KnowledgeError(
                    f"index at {directory} has format version {data.get('version')}, this program reads "
                    f"{INDEX_VERSION}: rebuild it"
                )
            return cls(**data)
        except KnowledgeError:
            raise
        except (ValueError, TypeError) as err:
            raise KnowledgeError(f"index manifest {path} is corrupt ({err}): rebuild the index") from None

    def verify_files(self, directory: Path) -> None:
        """Raise KnowledgeError naming the first missing or changed file."""
        for rel, digest in sorted(self.files.items()):
            path = directory / rel
            # The query adapter alone can be remade without re-embedding anything.
            fix = (
                f"retrain it with `python -m knowledge adapt --index {directory}` or rebuild the index"
                if rel == "query_adapter.npy"
                else "rebuild the index"
            )
            if not path.is_file():
                raise KnowledgeError(f"index at {directory} is missing {rel}: {fix}")
            if file_sha256(path) != digest:
                raise KnowledgeError(f"index file {path} is corrupt (checksum mismatch): {fix}")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def corpus_hash(items: list[tuple[str, str]]) -> str:
    """Order-independent hash of (doc id, text) pairs."""
    h = hashlib.sha256()
    for doc_id, text in sorted(items):
        h.update(doc_id.encode("utf-8"))
        h.update(b"\0")
        h.update(hashlib.sha256(text.encode("utf-8")).digest())
    return h.hexdigest()
