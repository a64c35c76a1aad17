"""Known product bugs that the security tests expose, as strict expected failures.

Each entry names the owner's module and what is wrong (B1, B2 and B9 were fixed in this round:
encoded instructions in documents, zero-width characters, newlines in source titles/URLs; then B3,
B4 and B7: hidden or AI-addressed instructions in passages and user messages, log-record arguments);
the tests themselves assert the intended behaviour. ``strict=True``: once a bug is fixed its tests XPASS, which fails the run until the
entry here is deleted, so this list cannot go stale. Reported in docs/readme/security.md.
"""

from __future__ import annotations

import fnmatch

import pytest

BUGS: dict[str, str] = {
    "B5": "chatbot/dialogue.py: earlier turns go into the generative prompt unfiltered, so a refused injection "
    "of an earlier turn, or an assistant turn forged by an API client, is replayed to the model",
    "B6": "chatbot/dialogue.py stream: generated deltas are yielded before leaks_system_prompt runs on the whole "
    "answer, so the system-prompt marker reaches API event streams and the UI's partial updates",
    "B8": "finetune/metadata.py + chatbot/llm/hf.py check_adapter: healthbot_adapter.json records the base "
    "model's hash but no hash of the adapter's own adapter_model.safetensors, so swapped adapter weights load "
    "silently",
}

# test id pattern (relative to tests/security/) -> bug
KNOWN: dict[str, str] = {
    "test_llm01_injection.py::test_injections_in_conversation_history_*[*-generative]": "B5",
    "test_llm01_injection.py::test_rules_survive_a_long_attack_conversation": "B5",
    "test_llm07_leakage.py::test_marker_is_never_streamed_to_the_client*": "B6",
    "test_llm07_leakage.py::test_marker_never_appears_in_api_responses_or_events": "B6",
    "test_llm03_supply_chain.py::test_adapter_with_tampered_weights_is_refused": "B8",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        rel = item.nodeid.rsplit("tests/security/", 1)[-1]
        for pattern, bug in KNOWN.items():
            if fnmatch.fnmatchcase(rel, pattern.replace("[", "[[]")):
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"known bug {bug}: {BUGS[bug]}"))
                break
