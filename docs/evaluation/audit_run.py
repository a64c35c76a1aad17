"""Produce the answers of the December 2026 hand audit (issue 14, point 5).

Runs the default configuration (``load_settings()`` with no overrides: embedded SmolLM2-135M
with the shipped adapter, starter knowledge base, hybrid answers) on 60 turns and writes one
JSON object per answer to ``docs/evaluation/audit-2026-12-answers.jsonl``: the question, the
text the patient reads, the checker's verdict on each sentence, the citations and the full
text of every retrieved passage, so each shown sentence can be read against what it cites.
The labels themselves (``audit-2026-12.jsonl``) are written by hand from this file.

    nice -n 5 .venv/bin/python docs/evaluation/audit_run.py
    # the repeat (v2): a fresh data directory whose index is built from today's starter topics
    nice -n 5 .venv/bin/python docs/evaluation/audit_run.py --data-dir data/audit-v2 \
        --out docs/evaluation/audit-2026-12-v2-answers.jsonl

Turns:
* L01-L25: the first 25 LiveQA-Med dev questions (qid order), subject line + message as sent;
* P01-P25: patient-style questions about the starter topics (tags: worry, yesno, child,
  pregnancy, uncovered);
* F01-F10: follow-ups asked in the session of an earlier turn (``after``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "evaluation" / "audit-2026-12-answers.jsonl"
LIVEQA = ROOT.parent / "shared" / "data" / "liveqa_med_dev" / "questions.xml"

# (id, question, tags)
PATIENT = [
    ("P01", "I've had a headache for three days now. Should I be worried?", ["worry"]),
    ("P02", "My cough still hasn't gone away after two weeks. When should I see a doctor?", ["worry"]),
    ("P03", "I burned my hand on the stove and it has a blister. Is this serious?", ["worry"]),
    ("P04", "I twisted my ankle and it's really swollen. Do I need to see a doctor?", ["worry"]),
    ("P05", "My nose has been bleeding for 15 minutes and won't stop. Should I worry?", ["worry"]),
    ("P06", "I think I have a urine infection, it burns when I pee. When should I see a doctor?", ["worry"]),
    ("P07", "My blood pressure reading was 150/95 at the pharmacy. Is that serious?", ["worry"]),
    ("P08", "I've had lower back pain for a week. When should I get it checked?", ["worry"]),
    ("P09", "My 2 year old has a fever of 39C. Should I take him to the doctor?", ["worry", "child"]),
    ("P10", "My eyes are red and crusty in the morning. Should I see a doctor?", ["worry"]),
    ("P11", "Is eczema contagious?", ["yesno"]),
    ("P12", "Can I take ibuprofen while pregnant?", ["yesno", "pregnancy"]),
    ("P13", "Is shingles contagious?", ["yesno"]),
    ("P14", "Can you get chickenpox twice?", ["yesno"]),
    ("P15", "I'm 10 weeks pregnant and feel sick all day. What can I do to ease it?", ["pregnancy"]),
    ("P16", "My daughter came home from school with head lice. How do I get rid of them?", ["child"]),
    ("P17", "How do I know if I have glaucoma?", ["uncovered"]),
    ("P18", "What causes hair loss in women?", ["uncovered"]),
    ("P19", "What are the signs of a heart attack in women?", []),
    ("P20", "I get heartburn every night. What can I do about it?", []),
    ("P21", "What helps with hay fever?", []),
    ("P22", "I can't fall asleep at night. How can I sleep better?", []),
    ("P23", "What does a panic attack feel like?", []),
    ("P24", "I haven't had a bowel movement in 4 days. Should I be worried?", ["worry"]),
    ("P25", "How do I know if I'm dehydrated?", []),
]

# (id, follow-up, id of the turn whose session it continues, tags)
FOLLOW_UPS = [
    ("F01", "and for a child?", "P11", ["child"]),
    ("F02", "is it contagious?", "P02", ["yesno"]),
    ("F03", "how long does it take to heal?", "P03", []),
    ("F04", "how long does it last?", "P13", []),
    ("F05", "what can I give him for it?", "P09", ["child"]),
    ("F06", "is it contagious?", "P10", ["yesno"]),
    ("F07", "what about at night?", "L24", []),
    ("F08", "and for a child?", "P21", ["child"]),
    ("F09", "how long does it last?", "P06", []),
    ("F10", "what foods should I avoid?", "P20", []),
]


def turns() -> list[dict]:
    from chatbot.evaluation.liveqa import read_questions

    out = []
    for i, q in enumerate(read_questions(LIVEQA)[:25], 1):
        out.append({"answer_id": f"L{i:02d}", "qid": q.id, "question": q.original, "tags": [], "after": None})
    out += [{"answer_id": a, "question": q, "tags": t, "after": None} for a, q, t in PATIENT]
    out += [{"answer_id": a, "question": q, "tags": t, "after": after} for a, q, after, t in FOLLOW_UPS]
    return out


def main() -> None:
    import argparse

    from chatbot.dialogue import DialogueService
    from chatbot.settings import load_settings
    from knowledge.index import ensure_index

    ap = argparse.ArgumentParser(description="answers of the hand audit")
    ap.add_argument("--data-dir", help="data directory (its index is built first); default: the settings' own")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    settings = load_settings(data_dir=args.data_dir) if args.data_dir else load_settings()
    if args.data_dir:  # an index left by an older knowledge base must not be used
        print(f"index: {ensure_index(settings)}", flush=True)
    svc = DialogueService.from_settings(settings)
    rows = []
    out = args.out
    with out.open("w", encoding="utf-8") as f:
        for t in turns():
            session = t["after"] or t["answer_id"]
            t["session"] = session
            _, hits = svc.retrieve(t["question"], session_id=session)
            t0 = time.perf_counter()
            reply = svc.reply(t["question"], session_id=session)
            seconds = time.perf_counter() - t0
            passages = {h.chunk.id: h.chunk for h in hits}
            same = [r["chunk_id"] for r in reply.retrieved] == [h.chunk.id for h in hits]
            row = {
                **t,
                "standalone": reply.query.standalone if reply.query else None,
                "triage": reply.triage.label,
                "answer_text": reply.text,
                "flags": list(reply.flags),
                "checks": reply.checks,
                "citations": [
                    {"n": c.n, "doc_id": c.doc_id, "title": c.title, "excerpt": c.excerpt} for c in reply.citations
                ],
                "retrieved": [
                    {
                        **r,
                        "text": passages[r["chunk_id"]].text if r["chunk_id"] in passages else None,
                    }
                    for r in reply.retrieved
                ],
                "retrieve_matches_reply": same,
                "seconds": round(seconds, 2),
            }
            rows.append(row)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            print(f"{t['answer_id']} {seconds:5.1f}s {reply.triage.label} {reply.flags}", flush=True)
    print(f"wrote {len(rows)} answers to {out}")


if __name__ == "__main__":
    main()
