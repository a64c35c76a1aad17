"""Collect real hybrid-mode lead sentences from the embedded model, for the faithfulness data set.

For each question below, one passage is picked by hand (a starter topic section, or for LiveQA
dev questions the best-judged MedQuAD answer, clipped to its first sentences), the product's own
lead prompt is built with ``chatbot.prompts.build_messages(question, chunks, lead_only=True)``
and the configured generator (``chatbot.services.build_generator`` when present, else
``chatbot.llm.build_generator``; the embedded SmolLM2-135M with the shipped adapter by default) writes the lead with the same parameters and the same
first-sentence cut as the hybrid answer mode (max 48 new tokens, stop at a newline, keep the
first complete sentence with its citation).

Runs offline; needs ``python -m chatbot prepare --skip-index`` once for the model cache.
The output (default ``data/faithfulness_leads.jsonl``, git-ignored) holds one unlabelled row per
question; the rows were then labelled by hand against their passage and copied into
``tests/data/faithfulness_{heldout,dev}.jsonl`` (kind ``model_lead``).

    .venv/bin/python tests/data/faithfulness_tools/collect_leads.py [--out PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from chatbot import prompts  # noqa: E402
from chatbot.grounding import strip_citations  # noqa: E402
from chatbot.llm import GenerationParams, build_generator  # noqa: E402
from chatbot.query import understand  # noqa: E402
from chatbot.settings import load_settings  # noqa: E402
from knowledge.chunking import split_sentences  # noqa: E402
from knowledge.documents import Chunk  # noqa: E402
from knowledge.sources.folder import read_folder  # noqa: E402

LEAD_MAX_TOKENS = 48  # = the hybrid answer mode's lead budget
STARTER = ROOT / "knowledge" / "starter"

# Same first-sentence cut and "usable lead" test as the hybrid answer mode (copied here because
# the dialogue module is being refactored; keep in step with it).
_SENT_END = re.compile(r"[.!?](?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s|$)")
_META_LEAD = re.compile(r"^\W*(?:the |these |here are the )?(?:sources?|references?|question)\b|:\s*$", re.I)


def first_sentence_end(text: str) -> int | None:
    for m in _SENT_END.finditer(text):
        if len(text[: m.start()].split()) >= 4 and len(text) > m.end():
            return m.end()
    return None


def usable_lead(text: str) -> bool:
    lead = strip_citations(text).strip()
    return len(lead.split()) >= 4 and not _META_LEAD.search(lead)


# (split, question, topic file stem, section heading, paragraph indexes or None = whole section,
#  previous question for a follow-up or None). Split: starter topics with an odd index in the
# sorted file list are held out, even ones are dev (the same rule as the hand-written rows).
STARTER_QUESTIONS: list[tuple[str, str, str, tuple[int, ...] | None, str | None]] = [
    # held-out topics
    ("What is asthma?", "asthma", "What it is", (0,), None),
    ("what about at night?", "asthma", "Symptoms", None, "What are the symptoms of asthma?"),
    ("Is chickenpox contagious before the spots come out?", "chickenpox", "What it is", (1,), None),
    ("Can I give my kid ibuprofen for chickenpox?", "chickenpox", "Self-care", None, None),
    (
        "My son bumped his head playing rugby and now he's throwing up a lot. When should I go to the ER?",
        "concussion-and-head-injury",
        "When to seek care",
        (0,),
        None,
    ),
    ("How many times a week do you have to poop to be constipated?", "constipation", "What it is", (0,), None),
    ("What temperature counts as a fever in an adult?", "fever-in-adults", "What it is", (0,), None),
    ("how long does a gout attack last", "gout", "Symptoms", None, None),
    ("Can head lice jump from one kid to another?", "head-lice", "What it is", (0,), None),
    ("I get heartburn after dinner almost every night, what can I do?", "heartburn-and-gerd", "Self-care", None, None),
    ("Does high cholesterol give you any symptoms?", "high-cholesterol", "Symptoms", None, None),
    ("How do I get a bee stinger out?", "insect-bites-and-stings", "Self-care", None, None),
    ("Should I put butter or ice on a burn?", "minor-burns", "Self-care", None, None),
    ("How do I stop a nosebleed?", "nosebleeds", "Self-care", (0,), None),
    ("Can you catch shingles from someone who has it?", "shingles", "What it is", (1,), None),
    ("Is strep throat treated with antibiotics?", "sore-throat-and-strep", "Treatment overview", None, None),
    ("What are the signs of a stroke?", "stroke-warning-signs", "Symptoms", None, None),
    ("Is type 1 diabetes caused by eating too much sugar?", "type-1-diabetes", "What it is", (0,), None),
    # dev topics
    (
        "I have had a dry cough for three weeks, should I worry?",
        "cough-and-bronchitis",
        "When to seek care",
        None,
        None,
    ),
    ("What causes acne?", "acne", "What it is", None, None),
    ("Is it normal to feel anxious all the time?", "anxiety", "What it is", None, None),
    ("My lower back hurts after lifting boxes. Should I stay in bed?", "back-pain", "Self-care", None, None),
    ("Do antibiotics help a cold?", "common-cold", "Treatment overview", None, None),
    ("Is pink eye contagious?", "conjunctivitis", "What it is", None, None),
    ("How do I stop a cut from bleeding?", "cuts-and-bleeding", "Self-care", None, None),
    ("What are the symptoms of depression?", "depression", "Symptoms", None, None),
    ("What can I put on my eczema?", "eczema", "Self-care", None, None),
    (
        "My 2 year old has a fever of 39, when should I call the doctor?",
        "fever-in-children",
        "When to seek care",
        None,
        None,
    ),
    ("How long does a stomach bug last?", "gastroenteritis", "What it is", None, None),
    ("What triggers hay fever?", "hay-fever", "What it is", None, None),
    ("What is a migraine?", "headache-and-migraine", "What it is", None, None),
    ("What are the warning signs of a heart attack in women?", "heart-attack-warning-signs", "Symptoms", None, None),
    ("What blood pressure reading is too high?", "high-blood-pressure", "What it is", None, None),
    ("Should I get a flu shot every year?", "influenza", "Prevention", None, None),
    ("I can't sleep at night. What can I do?", "insomnia", "Self-care", None, None),
    ("What foods make IBS worse?", "irritable-bowel-syndrome", "Self-care", None, None),
    ("What should I do if my blood sugar goes low?", "low-blood-sugar", "Self-care", None, None),
    ("What are hot flashes?", "menopause", "Symptoms", None, None),
    ("Is morning sickness bad for the baby?", "nausea-in-pregnancy", "What it is", None, None),
    ("Does exercise make osteoarthritis worse?", "osteoarthritis", "Self-care", None, None),
    ("What is pneumonia?", "pneumonia", "What it is", None, None),
    ("What happens to your body when you quit smoking?", "quitting-smoking", "What it is", None, None),
    (
        "and how is it treated?",
        "urinary-tract-infection",
        "Treatment overview",
        None,
        "What is a urinary tract infection?",
    ),
    ("How much sunscreen should I use?", "sunburn-and-skin-cancer-prevention", "Self-care", None, None),
    ("Can type 2 diabetes be reversed?", "type-2-diabetes", "Treatment overview", None, None),
    ("What is sinusitis and how long does it last?", "sinusitis", "What it is", None, None),
    ("overactive thyroid symptoms?", "overactive-thyroid", "Symptoms", None, None),
    ("How should I treat a sprained ankle at home?", "sprains-and-strains", "Self-care", None, None),
]

# LiveQA dev question numbers (TQn) -> the judged MedQuAD answer used as the passage (best grade,
# ADAM / MedlinePlus drug and herb answers left out: their text is not openly licensed).
LIVEQA_HELDOUT = {
    1: "GHR_0000804_Sec4.txt",
    9: "MPlusHealthTopics_0000855_Sec1.txt",
    11: "GHR_0000027_Sec3.txt",
    21: "GHR_0000113_Sec1.txt",
    27: "NINDS_0000098_Sec1.txt",
    31: "MPlusHealthTopics_0000933_Sec1.txt",
    49: "GHR_0000828_Sec1.txt",
    59: "MPlusHealthTopics_0000052_Sec1.txt",
    63: "GHR_0000996_Sec1.txt",
    75: "GHR_0000464_Sec4.txt",
    95: "CancerGov_0000007_3_Sec4.txt",
    103: "MPlusHealthTopics_0000105_Sec1.txt",
}
LIVEQA_DEV = {
    7: "NHLBI_0000051_Sec2.txt",
    15: "MPlusHealthTopics_0000360_Sec1.txt",
    23: "MPlusHealthTopics_0000896_Sec1.txt",
    29: "NIDDK_0000089_Sec7.txt",
    33: "NINDS_0000148_Sec1.txt",
    37: "NIHSeniorHealth_0000062_Sec1.txt",
    39: "MPlusHealthTopics_0000529_Sec1.txt",
    51: "NHLBI_0000008_Sec5.txt",
    53: "NINDS_0000155_Sec4.txt",
    55: "MPlusHealthTopics_0000811_Sec1.txt",
    69: "MPlusHealthTopics_0000293_Sec1.txt",
    73: "NINDS_0000171_Sec4.txt",
    79: "NIHSeniorHealth_0000062_Sec3.txt",
    85: "MPlusHealthTopics_0000139_Sec1.txt",
    87: "MPlusHealthTopics_0000514_Sec1.txt",
    91: "MPlusHealthTopics_0000828_Sec1.txt",
    97: "MPlusHealthTopics_0000909_Sec1.txt",
    101: "MPlusHealthTopics_0000334_Sec1.txt",
}
MEDQUAD_FOLDERS = {
    "CancerGov": "1_CancerGov_QA",
    "GARD": "2_GARD_QA",
    "GHR": "3_GHR_QA",
    "MPlusHealthTopics": "4_MPlus_Health_Topics_QA",
    "NIDDK": "5_NIDDK_QA",
    "NINDS": "6_NINDS_QA",
    "NIHSeniorHealth": "7_SeniorHealth_QA",
    "NHLBI": "8_NHLBI_QA_XML",
    "CDC": "9_CDC_QA",
}
PASSAGE_MAX_WORDS = 90
PASSAGE_MAX_SENTENCES = 5


def starter_split(stem: str) -> str:
    stems = sorted(p.stem for p in STARTER.glob("*.md") if p.name.lower() != "readme.md")
    return "heldout" if stems.index(stem) % 2 == 1 else "dev"


def starter_passage(docs: dict, stem: str, section: str, paras: tuple[int, ...] | None) -> tuple[Chunk, str]:
    doc = docs[f"starter-{stem}"]
    sections = dict((h, t) for h, t in doc.metadata["sections"])
    text = sections[section]
    if paras is not None:
        parts = re.split(r"\n\s*\n", text)
        text = "\n\n".join(parts[i] for i in paras)
    chunk = Chunk(
        id=f"{doc.id}#{section}",
        doc_id=doc.id,
        text=text,
        title=f"{doc.title} — {section}",
        url=doc.url,
        source="starter",
    )
    return chunk, f"starter:{stem}"


def medquad_passage(answers: dict[str, str], answer_id: str) -> tuple[Chunk, str]:
    raw = answers[answer_id]
    question = re.search(r"^Question:\s*(.*)$", raw, re.M)
    url = re.search(r"^URL:\s*(.*)$", raw, re.M)
    body = raw.split("Answer:", 1)[1]
    body = re.sub(r"^\s*Summary\s*:\s*", "", body)
    body = " ".join(body.split())
    sentences, words = [], 0
    for s in split_sentences(body):
        if sentences and (words + len(s.split()) > PASSAGE_MAX_WORDS or len(sentences) >= PASSAGE_MAX_SENTENCES):
            break
        sentences.append(s)
        words += len(s.split())
    m = re.match(r"(?P<src>[A-Za-z]+)_(?P<stem>.+)_Sec(?P<pid>\d+)\.txt$", answer_id)
    assert m, answer_id
    file = f"{MEDQUAD_FOLDERS[m['src']]}/{m['stem']}.xml"
    title = (question.group(1).strip() if question else m["stem"]).split(" (Also called")[0]
    chunk = Chunk(
        id=answer_id,
        doc_id=file,
        text=" ".join(sentences),
        title=title,
        url=(url.group(1).strip() if url else ""),
        source="medquad",
    )
    return chunk, f"medquad:{file}#{m['pid']}"


def liveqa_summaries(path: Path) -> dict[int, str]:
    import xml.etree.ElementTree as ET

    out = {}
    for q in ET.parse(path).getroot():
        out[int(q.get("qid")[2:])] = " ".join(q.find("NLM-Summary").text.split())
    return out


def lead_of(gen, messages) -> tuple[str, str, float]:
    params = GenerationParams(max_new_tokens=LEAD_MAX_TOKENS, stop=("\n",))
    t0 = time.perf_counter()
    buffer = ""
    for delta in gen.stream(messages, params):
        buffer += delta
        cut = first_sentence_end(buffer)
        if cut is not None:
            buffer = buffer[:cut]
            break
    return buffer.strip(), buffer, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "faithfulness_leads.jsonl")
    ap.add_argument("--limit", type=int, default=None, help="only the first N questions (smoke test)")
    args = ap.parse_args()

    settings = load_settings()
    docs = {d.id: d for d in read_folder(STARTER, source="starter")[0]}
    liveqa_dir = (ROOT / settings.shared_data).resolve() / "liveqa_med_dev"
    csv.field_size_limit(10**9)
    with open(liveqa_dir / "judged_answers.csv", encoding="utf-8", newline="") as f:
        answers = {r["AnswerID"]: r["Answer"] for r in csv.DictReader(f)}
    summaries = liveqa_summaries(liveqa_dir / "questions.xml")

    items = []
    for message, stem, section, paras, previous in STARTER_QUESTIONS:
        question = message
        if previous:
            question = understand(message, previous=previous).query.standalone
        chunk, source = starter_passage(docs, stem, section, paras)
        items.append((starter_split(stem), message, question, chunk, source))
    for split, table in (("heldout", LIVEQA_HELDOUT), ("dev", LIVEQA_DEV)):
        for n, answer_id in table.items():
            chunk, source = medquad_passage(answers, answer_id)
            items.append((split, summaries[n], summaries[n], chunk, f"{source} (LiveQA TQ{n})"))
    if args.limit:
        items = items[: args.limit]

    t_load = time.perf_counter()
    try:  # the service layer's factory calibrates the int8 CPU model on the dialogue's prompt shape
        from chatbot.services import build_generator as service_generator
    except ImportError:
        service_generator = build_generator
    gen = service_generator(settings)
    gen.count_tokens("warm up")  # loads the model
    print(f"generator {gen.name} ready in {time.perf_counter() - t_load:.1f} s", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    total = 0.0
    with open(args.out, "w", encoding="utf-8") as out:
        for i, (split, message, question, chunk, source) in enumerate(items, 1):
            messages = prompts.build_messages(question, [chunk], lead_only=True)
            lead, raw, secs = lead_of(gen, messages)
            total += secs
            row = {
                "split": split,
                "message": message,
                "question": question,
                "sentence": lead,
                "raw": raw,
                "usable": usable_lead(lead),
                "passage": chunk.text,
                "source": source,
                "seconds": round(secs, 2),
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            print(f"[{i}/{len(items)}] {secs:5.1f}s {lead[:110]!r}", file=sys.stderr)
    print(f"{len(items)} leads in {total:.0f} s of generation", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
