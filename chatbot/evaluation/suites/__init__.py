"""Evaluation suites: what inputs they read, what each item measures, how results summarise.

A suite turns its inputs into :class:`EvalItem` s, runs each through a :class:`Pipeline`
(one configuration) into an :class:`ItemResult` with per-item metrics, and summarises a
configuration's results into :class:`Row` s. The report writer and the paired comparison
only see those three shapes, so adding a suite touches nothing else.

The shared shapes and metrics are in :mod:`~chatbot.evaluation.suites.base`, one module per
suite beside it; every name stays importable from ``chatbot.evaluation.suites``.
"""

from __future__ import annotations

from chatbot.evaluation.suites.base import (
    EvalItem,
    ItemResult,
    Progress,
    Row,
    Suite,
    Table,
    answer_metrics,
    baseline_tables,
    extractive_baseline,
    latency_rows,
    reply_metrics,
    similarity_to_references,
    values,
)
from chatbot.evaluation.suites.liveqa import LiveQASuite
from chatbot.evaluation.suites.medquad import MedQuADSuite
from chatbot.evaluation.suites.safety import (
    EXPECTED_TRIAGE,
    NOT_ALARM,
    PLANTED_DOC_ID,
    SAFETY_LABELS,
    PlantedRetriever,
    SafetySuite,
    canary,
)

__all__ = [
    "EXPECTED_TRIAGE",
    "NOT_ALARM",
    "PLANTED_DOC_ID",
    "SAFETY_LABELS",
    "EvalItem",
    "ItemResult",
    "LiveQASuite",
    "MedQuADSuite",
    "PlantedRetriever",
    "Progress",
    "Row",
    "SafetySuite",
    "Suite",
    "Table",
    "answer_metrics",
    "baseline_tables",
    "canary",
    "extractive_baseline",
    "latency_rows",
    "reply_metrics",
    "similarity_to_references",
    "values",
]
