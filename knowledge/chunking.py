"""Token-aware, sentence-respecting chunking with overlap.

Budgets are counted with the embedder's own tokenizer, and the text actually embedded
(``embedding_text``: heading line + chunk) is kept under the embedder's maximum length, so
nothing is silently truncated at encode time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from knowledge.documents import Chunk, Document
from knowledge.sentences import split_sentences

_ITEM = re.compile(r"^[-*\u2022]\s")  # a list item's line
SPECIAL_TOKENS = 2  # [CLS] and [SEP] of BERT-style embedders


@dataclass(frozen=True)
class ChunkerConfig:
    chunk_tokens: int = 200
    overlap_tokens: int = 32
    max_seq_length: int = 256  # of the embedder; the heading line shares this budget

    def __post_init__(self) -> None:
        if self.chunk_tokens < 8:
            raise ValueError("chunk_tokens must be at least 8")
        if not 0 <= self.overlap_tokens < self.chunk_tokens:
            raise ValueError("overlap_tokens must be in [0, chunk_tokens)")


def heading(doc: Document, section: str = "") -> str:
    """The line put in front of a chunk when embedding: the stored question, else the title."""
    base = doc.question or doc.title
    if section and not doc.question:
        return f"{doc.title} — {section}" if doc.title else section
    return base


def embedding_text(chunk: Chunk) -> str:
    """What the dense index embeds for a chunk (heading line, then text)."""
    head = chunk.metadata.get("heading", "")
    return f"{head}\n{chunk.text}" if head else chunk.text


class Chunker:
    """Splits documents into chunks of at most ``chunk_tokens`` tokens (including the heading)."""

    def __init__(
        self,
        count_tokens: Callable[[str], int],
        config: ChunkerConfig | None = None,
        count_many: Callable[[list[str]], list[int]] | None = None,
    ) -> None:
        self.count = count_tokens
        self.config = config or ChunkerConfig()
        # A batched counter (one tokenizer call per document) makes chunking big corpora far faster.
        self.count_many = count_many or (lambda texts: [count_tokens(t) for t in texts])

    def _pieces(self, sentence: str, budget: int) -> list[tuple[str, int]]:
        """A sentence as (text, tokens) pieces of at most ``budget`` tokens (long ones split by words)."""
        n = self.count(sentence)
        if n <= budget:
            return [(sentence, n)]
        return self._split_long(sentence, budget)

    def _split_long(self, sentence: str, budget: int) -> list[tuple[str, int]]:
        # Word counts are additive for WordPiece and close to it for BPE; each piece is
        # re-counted and re-split if the estimate was optimistic.
        pieces: list[tuple[str, int]] = []
        cur: list[str] = []
        cur_n = 0
        for word in sentence.split():
            wn = self.count(word)
            if wn > budget:  # one enormous "word" (a URL, base64...): cut it by characters
                if cur:
                    pieces.extend(self._exact(" ".join(cur), budget))
                    cur, cur_n = [], 0
                step = max(1, len(word) * budget // (2 * wn))
                for i in range(0, len(word), step):
                    pieces.extend(self._exact(word[i : i + step], budget))
                continue
            if cur and cur_n + wn > budget:
                pieces.extend(self._exact(" ".join(cur), budget))
                cur, cur_n = [], 0
            cur.append(word)
            cur_n += wn
        if cur:
            pieces.extend(self._exact(" ".join(cur), budget))
        return pieces

    def _exact(self, text: str, budget: int) -> list[tuple[str, int]]:
        n = self.count(text)
        if n <= budget or len(text) < 2:
            return [(text, n)]
        words = text.split()
        if len(words) > 1:
            mid = len(words) // 2
            return self._exact(" ".join(words[:mid]), budget) + self._exact(" ".join(words[mid:]), budget)
        mid = len(text) // 2
        return self._exact(text[:mid], budget) + self._exact(text[mid:], budget)

    def _pack(self, text: str, budget: int) -> list[str]:
        # A piece that starts a line of the source (a list item, a lead-in "See a doctor if:")
        # keeps its line break, so a quoted list reads as a list and its items stay items.
        # Whitespace is all the same to the embedder's and BM25's tokenizers.
        lines = [line_sents for line in text.split("\n") if (line_sents := split_sentences(line))]
        sentences = [s for line_sents in lines for s in line_sents]
        starts = {sum(len(x) for x in lines[:i]) for i in range(len(lines))}
        pieces: list[tuple[str, int]] = []
        for i, (sent, n) in enumerate(zip(sentences, self.count_many(sentences), strict=True)):
            split = [(sent, n)] if n <= budget else self._split_long(sent, budget)
            if i in starts and pieces:
                split[0] = ("\n" + split[0][0], split[0][1])
            pieces.extend(split)
        chunks: list[str] = []
        cur: list[tuple[str, int]] = []
        cur_n = 0

        def join(items: list[tuple[str, int]]) -> str:
            return "".join(p if p.startswith("\n") or not k else " " + p for k, (p, _) in enumerate(items)).strip()

        lead_in: tuple[str, int] | None = None  # the line that owns the list being packed
        for k, (piece, n) in enumerate(pieces):
            if cur and cur_n + n > budget:
                chunks.append(join(cur))
                # Carry whole trailing sentences as overlap, never more than the overlap budget.
                carry: list[tuple[str, int]] = []
                carried = 0
                for p, pn in reversed(cur):
                    if carried + pn > self.config.overlap_tokens or carried + pn + n > budget:
                        break
                    carry.insert(0, (p, pn))
                    carried += pn
                # Items carried over before a lead-in belong to the list before it: alone at the
                # top of the next chunk they would read as free statements ("- you have a weak
                # immune system..."), so the overlap starts at the lead-in.
                owner = next((j for j, (p, _) in enumerate(carry) if p.lstrip("\n").endswith(":")), 0)
                if owner and all(_ITEM.match(p.lstrip("\n")) for p, _ in carry[:owner]):
                    carried -= sum(pn for _, pn in carry[:owner])
                    carry = carry[owner:]
                # A list cut by the chunk boundary restates its lead-in ("See a doctor soon if:"),
                # so no item of it is ever read alone or under another list's lead-in.
                first = (carry[0][0] if carry else piece).lstrip("\n")
                if (
                    lead_in is not None
                    and _ITEM.match(first)
                    and lead_in not in carry
                    and carried + lead_in[1] + n <= budget
                ):
                    carry.insert(0, (lead_in[0].lstrip("\n"), lead_in[1]))
                    carried += lead_in[1]
                cur, cur_n = carry, carried
            cur.append((piece, n))
            cur_n += n
            bare = piece.lstrip("\n")
            if bare.endswith(":"):  # "See a doctor soon if:", at the start or the end of its line
                lead_in = (piece, n)
            elif (piece.startswith("\n") or k == 0) and not _ITEM.match(bare):
                lead_in = None  # a new paragraph: the list is over
        if cur:
            chunks.append(join(cur))
        return chunks

    def chunk(self, doc: Document) -> list[Chunk]:
        sections = doc.metadata.get("sections") or [["", doc.text]]
        out: list[Chunk] = []
        cfg = self.config
        for section, text in sections:
            if section.strip().lower() == doc.title.strip().lower():
                section = ""  # a Markdown "# Title" line is the title, not a section
            head = heading(doc, section)
            head_n = self.count(head) + 1 if head else 0
            budget = min(cfg.chunk_tokens, cfg.max_seq_length - SPECIAL_TOKENS) - head_n
            if budget < 8:  # absurdly long heading: drop it rather than the text
                head, budget = "", min(cfg.chunk_tokens, cfg.max_seq_length - SPECIAL_TOKENS)
            title = f"{doc.title} — {section}" if section and doc.title else (doc.title or section)
            meta = {k: v for k, v in doc.metadata.items() if k != "sections"}
            for piece in self._pack(text, budget):
                pos = len(out)
                out.append(
                    Chunk(
                        id=f"{doc.id}#{pos}",
                        doc_id=doc.id,
                        text=piece,
                        position=pos,
                        title=title,
                        question=doc.question,
                        url=doc.url,
                        source=doc.source,
                        license=doc.license,
                        metadata={**meta, "heading": head, "section": section},
                    )
                )
        return out

    def chunk_all(self, docs: list[Document]) -> list[Chunk]:
        return [c for d in docs for c in self.chunk(d)]
