"""MedQuAD (or question/answer JSONL) -> chat-format fine-tuning examples, split by topic.

Each example is what the dialogue manager sends at run time (``chatbot.prompts.build_messages``:
system rules, numbered fenced sources, the question) plus a concise target answer: the first
sentences of the gold answer with the gold source's number cited. The gold passage sits among
BM25 distractors at a random position, so the model must find it rather than always cite [1].
A share of examples carries only unrelated passages; their target is the dialogue manager's own
"sources don't cover this" message. Targets never get cut: the EOS token is appended at
tokenization time and examples that would not fit are dropped there, counted.

Splits are by topic (normalised focus/title), hashed, so the same disease from two NIH sources
never lands in two splits and the split of a topic does not depend on what else is in the data.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.config import DataConfig, FinetuneError

if TYPE_CHECKING:
    from knowledge.documents import Chunk, Document

SPLITS = ("train", "validation", "test")
MANIFEST = "manifest.json"
DATA_FORMAT = 1

_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
# "(per-NISH-us uh-NEE-me-uh)": pronunciation guides read badly in a short answer.
_PRONUNCIATION = re.compile(r"\s*\((?:[a-z]+-)+[a-z]+(?:[ ,]+(?:[a-z]+-)*[a-z]+)*\)", re.IGNORECASE)
_SKIP_SENTENCE = re.compile(
    r"for more information|click here|https?://|www\.|go to |see the |visit |call \d|this section|table \d",
    re.IGNORECASE,
)
_CITATION = re.compile(r"\s*\[\d+\]")


@dataclass(frozen=True)
class Example:
    """One training/evaluation example; ``messages`` is the run-time prompt without the answer."""

    id: str
    doc_id: str
    group: str
    question: str
    messages: list[dict[str, str]]
    target: str  # concise cited answer (no EOS: added at tokenization)
    reference: str  # target without citation markers, for ROUGE-L / embedding similarity
    gold_index: int  # 1-based number of the gold source; 0 for a no-source example
    passage_ids: list[str]
    no_source: bool


def topic_key(doc: Document) -> str:
    """Documents about the same topic share a split (MedQuAD repeats topics across sources)."""
    title = " ".join((doc.title or "").lower().split())
    return title or doc.id


def split_of(group: str, validation_share: float, test_share: float) -> str:
    # A stable hash, not Python's salted hash(): the split must not change between runs.
    h = int.from_bytes(hashlib.sha256(group.encode("utf-8")).digest()[:8], "big") / 2**64
    if h < test_share:
        return "test"
    if h < test_share + validation_share:
        return "validation"
    return "train"


def sentences(text: str) -> list[str]:
    """Prose sentences of an answer: headings, bullet items and question lines left out."""
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or line.startswith(("-", "*", "•")):
            continue
        for s in _SENT_SPLIT.split(line):
            s = _PRONUNCIATION.sub("", s).strip()
            if not s or s[-1] not in ".!":
                continue  # headings, questions ("How might X be treated?") and fragments
            out.append(s)
    return out


def concise_answer(text: str, max_sentences: int, max_words: int) -> list[str]:
    """The first 1..max_sentences usable sentences, stopping once ``max_words`` is reached."""
    chosen: list[str] = []
    words = 0
    for s in sentences(text):
        n = len(s.split())
        if n < 5 or n > 60 or _SKIP_SENTENCE.search(s):
            if chosen:
                break  # keep the answer contiguous
            continue
        if chosen and words + n > max_words:
            break
        chosen.append(s)
        words += n
        if len(chosen) >= max_sentences or words >= max_words:
            break
    return chosen


def cite(sentence_list: Sequence[str], n: int) -> str:
    """Put ``[n]`` before each sentence's final punctuation, the style the system prompt asks for."""
    return " ".join(f"{s[:-1].rstrip()} [{n}]{s[-1]}" for s in sentence_list)


def strip_citations(text: str) -> str:
    return _CITATION.sub("", text).strip()


def passage_text(text: str, words: int, must_include: Sequence[str]) -> str:
    """The start of the answer, cut to ``words`` words but never before the target's last sentence."""
    flat = " ".join(_PRONUNCIATION.sub("", text).split())
    tokens = flat.split(" ")
    cut = words
    if must_include:
        end = flat.find(must_include[-1])
        if end >= 0:
            cut = max(cut, len(flat[: end + len(must_include[-1])].split(" ")))
    return " ".join(tokens[:cut]) + (" ..." if cut < len(tokens) else "")


def to_chunk(doc: Document, text: str) -> Chunk:
    from knowledge.documents import Chunk

    return Chunk(
        id=f"{doc.id}#0",
        doc_id=doc.id,
        text=text,
        title=doc.title,
        question=doc.question,
        url=doc.url,
        source=doc.source,
        license=doc.license,
    )


def read_qa_jsonl(path: Path) -> list[Document]:
    """Question/answer pairs, one JSON object a line: ``question`` and ``answer`` (or ``text``),
    optional ``id``, ``title`` (the topic; rows sharing it share a split) and ``url``."""
    from knowledge.documents import Document
    from knowledge.sources._common import clean_text

    docs = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise FinetuneError(f"could not read {path}: {err}") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise FinetuneError(f"{path}:{n} is not JSON (expected one object a line)") from None
        if not isinstance(row, dict):
            raise FinetuneError(f"{path}:{n} is not a JSON object")
        question = str(row.get("question") or "").strip()
        answer = clean_text(str(row.get("answer") or row.get("text") or ""))
        if not question or not answer:
            continue
        docs.append(
            Document(
                id=str(row.get("id") or f"{path.stem}_{n}"),
                text=answer,
                title=str(row.get("title") or question),
                question=question,
                url=str(row.get("url") or ""),
                source=path.stem,
            )
        )
    return docs


def load_documents(source: Path, max_examples: int | None = None) -> list[Document]:
    """Answered QA pairs of a MedQuAD tree or a question/answer JSONL file."""
    from knowledge.errors import KnowledgeError

    try:
        if source.is_dir():
            from knowledge.sources.medquad import read_medquad

            docs, _ = read_medquad(source)
        elif source.is_file():
            docs = read_qa_jsonl(source)
        else:
            raise FinetuneError(f"data source not found: {source} (give a MedQuAD directory or a JSONL file)")
    except KnowledgeError as err:
        raise FinetuneError(str(err)) from None
    docs = [d for d in docs if d.question and d.text.strip()]
    if not docs:
        raise FinetuneError(f"no question/answer pairs in {source} (JSONL rows need question and answer fields)")
    docs.sort(key=lambda d: d.id)
    return docs[:max_examples] if max_examples else docs


class _Distractors:
    """BM25 over one split's answers: passages about something else that share words with the question."""

    def __init__(self, docs: Sequence[Document]) -> None:
        import bm25s
        import Stemmer

        self.docs = list(docs)
        self._stemmer = Stemmer.Stemmer("english")
        self._bm25 = bm25s.BM25()
        self._bm25.index(
            bm25s.tokenize([d.text for d in self.docs], stopwords="en", stemmer=self._stemmer, show_progress=False),
            show_progress=False,
        )

    def ranked(self, questions: list[str], k: int) -> list[list[int]]:
        import bm25s

        k = min(k, len(self.docs))
        tokens = bm25s.tokenize(questions, stopwords="en", stemmer=self._stemmer, show_progress=False)
        # A question made only of stopwords has no tokens; bm25s then returns arbitrary rows.
        results, _ = self._bm25.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [list(map(int, row)) for row in results]


def build_examples(docs: Sequence[Document], split: str, cfg: DataConfig, counts: Counter[str]) -> list[Example]:
    """Examples of one split; ``docs`` are that split's documents only (distractors included)."""
    from chatbot.prompts import WHOM_TO_ASK_DEFAULT, build_messages, no_source_message

    if not docs:
        return []
    index = _Distractors(docs)
    ranked = index.ranked([d.question or "" for d in docs], k=cfg.num_passages + 20)
    rng = random.Random(f"{cfg.seed}:{split}")
    refusal = no_source_message(WHOM_TO_ASK_DEFAULT)
    out: list[Example] = []
    for i, doc in enumerate(docs):
        group = topic_key(doc)
        question = doc.question or ""
        no_source = rng.random() < cfg.no_source_share
        picked: list[Document] = []
        if no_source:
            # The closest lexical matches might answer it after all; random others will not.
            related = {topic_key(docs[j]) for j in ranked[i][: max(1, min(20, len(docs) // 10))]}
            pool = [j for j in rng.sample(range(len(docs)), min(len(docs), 8 * cfg.num_passages))]
            for j in pool:
                d = docs[j]
                if topic_key(d) != group and topic_key(d) not in related and d not in picked:
                    picked.append(d)
                if len(picked) == cfg.num_passages:
                    break
            if len(picked) < cfg.num_passages:
                counts[f"{split}: no-source examples without enough unrelated passages"] += 1
                continue
            chunks = [to_chunk(d, passage_text(d.text, cfg.passage_words, ())) for d in picked]
            target, reference, gold = refusal, refusal, 0
        else:
            answer = concise_answer(doc.text, cfg.max_target_sentences, cfg.max_target_words)
            if not answer:
                counts[f"{split}: answers without a usable prose sentence"] += 1
                continue
            distractors: list[Document] = []
            for j in ranked[i]:
                d = docs[j]
                if topic_key(d) != group and d not in distractors:
                    distractors.append(d)
                if len(distractors) == cfg.num_passages - 1:
                    break
            if len(distractors) < cfg.num_passages - 1:
                counts[f"{split}: examples without enough distractors"] += 1
                continue
            gold = rng.randrange(cfg.num_passages) + 1
            picked = list(distractors)
            picked.insert(gold - 1, doc)
            chunks = [to_chunk(d, passage_text(d.text, cfg.passage_words, answer if d is doc else ())) for d in picked]
            target = cite(answer, gold)
            reference = " ".join(answer)
        messages = build_messages(question, chunks)
        out.append(
            Example(
                id=f"{split}-{len(out):05d}",
                doc_id=doc.id,
                group=group,
                question=question,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                target=target,
                reference=reference,
                gold_index=gold,
                passage_ids=[d.id for d in picked],
                no_source=no_source,
            )
        )
    return out


def _hash_rows(rows: Sequence[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def build_dataset(cfg: DataConfig, source: Path, output_dir: Path) -> dict[str, Any]:
    """Build, write (``datasets`` on disk + JSONL copies) and return the manifest."""
    import shutil
    import tempfile

    from datasets import Dataset, DatasetDict

    docs = load_documents(source, cfg.max_examples)
    by_split: dict[str, list[Document]] = {s: [] for s in SPLITS}
    for d in docs:
        by_split[split_of(topic_key(d), cfg.validation_share, cfg.test_share)].append(d)
    counts: Counter[str] = Counter()
    examples = {s: build_examples(by_split[s], s, cfg, counts) for s in SPLITS}
    if not examples["train"]:
        raise FinetuneError(f"no training examples could be built from {source}: {dict(counts) or 'no documents'}")
    rows = {s: [asdict(e) for e in examples[s]] for s in SPLITS}
    manifest: dict[str, Any] = {
        "format": DATA_FORMAT,
        "source": str(source),
        "config": asdict(cfg),
        "documents": {s: len(by_split[s]) for s in SPLITS},
        "topics": {s: len({topic_key(d) for d in by_split[s]}) for s in SPLITS},
        "examples": {s: len(rows[s]) for s in SPLITS},
        "no_source_examples": {s: sum(r["no_source"] for r in rows[s]) for s in SPLITS},
        "skipped": dict(sorted(counts.items())),
        "sha256": {s: _hash_rows(rows[s]) for s in SPLITS},
    }
    manifest["manifest_sha256"] = manifest_hash(manifest)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed into place: a reader never sees half a dataset.
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    try:
        # Empty splits are left out (datasets cannot reload a zero-shard split); load_split
        # answers them from the manifest.
        DatasetDict({s: Dataset.from_list(rows[s]) for s in SPLITS if rows[s]}).save_to_disk(str(tmp / "hf"))
        for s in SPLITS:
            with (tmp / f"{s}.jsonl").open("w", encoding="utf-8") as f:
                for r in rows[s]:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if output_dir.exists():
            shutil.rmtree(output_dir)
        tmp.rename(output_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def manifest_hash(manifest: dict[str, Any]) -> str:
    """Hash of what defines the data (config, counts, row hashes), not of where it was written."""
    keep = {k: v for k, v in manifest.items() if k not in ("manifest_sha256", "source")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()


def read_manifest(dataset_dir: Path) -> dict[str, Any]:
    path = dataset_dir / MANIFEST
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise FinetuneError(f"no dataset at {dataset_dir} (run `python -m finetune build-data` first)") from None
    if not isinstance(data, dict) or data.get("format") != DATA_FORMAT:
        raise FinetuneError(f"dataset at {dataset_dir} has an unknown format; rebuild it with build-data")
    return data


def load_split(dataset_dir: Path, split: str) -> Any:
    """One split as a ``datasets.Dataset``."""
    from datasets import load_from_disk

    manifest = read_manifest(dataset_dir)
    if split in SPLITS and manifest["examples"].get(split) == 0:
        from datasets import Dataset

        return Dataset.from_list([])
    dd = load_from_disk(str(dataset_dir / "hf"))
    if split not in dd:
        raise FinetuneError(f"dataset at {dataset_dir} has no split {split!r} (have: {', '.join(dd.keys())})")
    return dd[split]
