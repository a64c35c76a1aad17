"""Per-sentence support, citation repair, sentence selection for the hybrid/extractive modes."""

from __future__ import annotations

from chatbot.grounding import Evidence, answer_sentences, citations_for, cited_numbers, ground, select_sentences
from knowledge.documents import Chunk, Hit
from knowledge.embedding import MockEmbedder


def hits(chunks: list[Chunk]) -> list[Hit]:
    return [Hit(c, 0.9 - 0.1 * i) for i, c in enumerate(chunks)]


def test_citation_after_full_stop_stays_with_its_sentence() -> None:
    assert answer_sentences("Asthma narrows airways. [1] Inhalers help [2].\nSee a doctor.") == [
        ["Asthma narrows airways. [1]", "Inhalers help [2]."],
        ["See a doctor."],
    ]
    assert cited_numbers("a [1] b [2, 3] c [4;5]") == [1, 2, 3, 4, 5]


def test_supported_sentence_gets_its_source(health_chunks: list[Chunk]) -> None:
    ev = Evidence(hits(health_chunks), MockEmbedder(256))
    g = ground("A yearly flu vaccine lowers the risk of getting sick.", ev)
    assert g.text == "A yearly flu vaccine lowers the risk of getting sick [2]."
    assert g.used_sources == [2] and g.grounded_fraction == 1.0 and g.flags == []


def test_wrong_and_invalid_citations(health_chunks: list[Chunk]) -> None:
    ev = Evidence(hits(health_chunks), MockEmbedder(256))
    g = ground("High blood pressure often has no symptoms [9].", ev)
    assert g.text == "High blood pressure often has no symptoms [3]." and "invalid_citation:1" in g.flags


def test_unsupported_claims_flagged_or_dropped(health_chunks: list[Chunk]) -> None:
    ev = Evidence(hits(health_chunks), MockEmbedder(256))
    text = "Influenza is a contagious respiratory illness [2]. Garlic necklaces stop every virus."
    flagged = ground(text, ev, unsupported="flag")
    assert flagged.unsupported == 1 and flagged.grounded_fraction == 0.5 and "Garlic" in flagged.text
    assert [s.supported for s in flagged.sentences] == [True, False]
    dropped = ground(text, ev, unsupported="drop")
    assert "Garlic" not in dropped.text and dropped.flags == ["unsupported:1", "dropped:1"]


def test_referrals_are_not_scored(health_chunks: list[Chunk]) -> None:
    ev = Evidence(hits(health_chunks), MockEmbedder(256))
    g = ground("Asthma narrows the airways [1]. Please talk to your doctor about it.", ev)
    assert g.grounded_fraction == 1.0 and g.sentences[1].support is None


def test_lexical_only_without_embedder(health_chunks: list[Chunk]) -> None:
    ev = Evidence(hits(health_chunks), None)
    g = ground("Less salt and regular activity lower high blood pressure.", ev)
    assert g.used_sources == [3]


def test_nothing_retrieved_means_nothing_supported() -> None:
    g = ground("Aspirin thins the blood.", Evidence([], MockEmbedder(64)))
    assert g.grounded_fraction == 0.0 and "[" not in g.text


def test_select_sentences_prefers_the_question_and_profile_terms() -> None:
    chunk = Chunk(
        "cold#0",
        "cold",
        "A cold is a mild viral infection of the nose and throat. Colds spread through droplets and hands. "
        "In children, saline drops and rest ease a blocked nose. Adults may use decongestant sprays for a few days.",
        title="Common cold",
    )
    ev = Evidence([Hit(chunk, 0.8)], MockEmbedder(256))
    picked = select_sentences("How do I ease a blocked nose?", ev, max_words=25, boost_terms=["children"])
    texts = [s.text for s in picked]
    assert any(t.startswith("In children, saline drops") for t in texts)
    assert not any(t.startswith("Colds spread") for t in texts)
    assert sum(len(t.split()) for t in texts) <= 25 * 1.25


def test_citations_for(health_chunks: list[Chunk]) -> None:
    cites = citations_for(hits(health_chunks), [2, 7])
    assert [(c.n, c.doc_id, c.url) for c in cites] == [(2, "flu", "https://www.cdc.gov/flu/")]
    assert cites[0].excerpt.startswith("Influenza") and cites[0].score == 0.8


def test_opening_sentences_quote_the_top_passage_without_headings() -> None:
    from chatbot.grounding import opening_sentences

    top = Chunk(
        "gout#0",
        "gout",
        "How is gout treated? Gout is a form of arthritis caused by uric acid crystals in a joint. "
        "Attacks bring sudden pain and swelling, often in the big toe. Medicines ease an attack within days. "
        "Long-term treatment lowers uric acid.",
        title="Gout",
    )
    other = Chunk("flu#0", "flu", "Influenza spreads through droplets when people cough.", title="Flu")
    ev = Evidence([Hit(top, 0.9), Hit(other, 0.5)], MockEmbedder(256))
    opening = opening_sentences(ev, 20)
    # the heading question is skipped, the passage is read in order until about 20 words
    assert [s.text for s in opening] == [
        "Gout is a form of arthritis caused by uric acid crystals in a joint.",
        "Attacks bring sudden pain and swelling, often in the big toe.",
    ]
    assert all(s.source == 1 for s in opening)
    # later picks never repeat the opening and never quote a question
    picked = select_sentences("How is gout treated?", ev, max_words=40, skip=opening)
    assert not {(s.source, s.position) for s in picked} & {(s.source, s.position) for s in opening}
    assert not any(s.text.endswith("?") for s in picked)
