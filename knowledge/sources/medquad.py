"""MedQuAD reader: the raw XML tree, one Document per answered QA pair.

Ids follow the LiveQA judgements (``<Source>_<file stem>_Sec<pid>.txt``) so published
relevance grades apply to our rankings unchanged.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from knowledge.documents import Document
from knowledge.errors import KnowledgeError
from knowledge.sources._common import SkipReport, clean_text

MEDQUAD_LICENSE = "CC BY 4.0, MedQuAD (Ben Abacha & Demner-Fushman 2019)"

# Folder -> source name used in answer ids (from the shared data README).
FOLDER_SOURCES = {
    "1_CancerGov_QA": "CancerGov",
    "2_GARD_QA": "GARD",
    "3_GHR_QA": "GHR",
    "4_MPlus_Health_Topics_QA": "MPlusHealthTopics",
    "5_NIDDK_QA": "NIDDK",
    "6_NINDS_QA": "NINDS",
    "7_SeniorHealth_QA": "NIHSeniorHealth",
    "8_NHLBI_QA_XML": "NHLBI",
    "9_CDC_QA": "CDC",
    "10_MPlus_ADAM_QA": "ADAM",
    "11_MPlusDrugs_QA": "MPlusDrugs",
    "12_MPlusHerbsSupplements_QA": "MPlusHerbsSuppls",
}


def _source_name(folder: Path) -> str:
    if folder.name in FOLDER_SOURCES:
        return FOLDER_SOURCES[folder.name]
    # Unknown folders ("13_Foo_QA") keep a readable name rather than being dropped.
    parts = folder.name.split("_")
    return parts[1] if len(parts) > 1 and parts[0].isdigit() else folder.name


def parse_medquad_file(path: Path, source: str, report: SkipReport) -> list[Document]:
    """Documents of one MedQuAD XML file; malformed files and unanswered pairs are counted."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        report.skip("malformed XML files", str(path))
        return []
    except OSError as err:
        report.skip("unreadable files", f"{path}: {err.strerror}")
        return []
    url = (root.get("url") or "").strip()
    focus = clean_text(root.findtext("Focus") or "")
    docs = []
    for pair in root.iter("QAPair"):
        pid = (pair.get("pid") or "").strip()
        answer = clean_text(pair.findtext("Answer") or "")
        if not pid:
            report.skip("QA pairs without pid", str(path))
            continue
        if not answer:
            # ADAM, Drugs and Herbs ship questions only; nothing to retrieve.
            report.skip("QA pairs without answer text")
            continue
        q_el = pair.find("Question")
        question = clean_text(q_el.text or "") if q_el is not None else ""
        docs.append(
            Document(
                id=f"{source}_{path.stem}_Sec{pid}.txt",
                text=answer,
                title=focus or question,
                question=question or None,
                url=url,
                source=f"MedQuAD/{source}",
                license=MEDQUAD_LICENSE,
                metadata={"qtype": q_el.get("qtype", "") if q_el is not None else "", "focus": focus},
            )
        )
    return docs


def read_medquad(directory: Path) -> tuple[list[Document], SkipReport]:
    """All answered QA pairs under a MedQuAD root (or a single source folder)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise KnowledgeError(f"MedQuAD directory not found: {directory}")
    report = SkipReport()
    folders = sorted(p for p in directory.iterdir() if p.is_dir())
    if not folders and any(directory.glob("*.xml")):
        folders = [directory]
    docs: list[Document] = []
    for folder in folders:
        source = _source_name(folder)
        for path in sorted(folder.glob("*.xml")):
            docs.extend(parse_medquad_file(path, source, report))
    if not docs and report.total == 0:
        raise KnowledgeError(f"no MedQuAD XML files under {directory} (expected folders like 1_CancerGov_QA/)")
    return docs, report
