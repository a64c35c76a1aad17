"""Known product bugs that the security tests expose, as strict expected failures.

Each entry names the owner's module and what is wrong (B1, B2 and B9 were fixed in this round:
encoded instructions in documents, zero-width characters, newlines in source titles/URLs; then B3,
B4 and B7: hidden or AI-addressed instructions in passages and user messages, log-record arguments; then
B5 and B6: refused or forged history turns replayed to the model, the marker streamed before the leak check);
the tests themselves assert the intended behaviour. ``strict=True``: once a bug is fixed its tests XPASS, which fails the run until the
entry here is deleted, so this list cannot go stale. Reported in the README section "What it withstands".
"""

from __future__ import annotations

import fnmatch

import pytest

BUGS: dict[str, str] = {
    "B8": "finetune/metadata.py + chatbot/llm/hf.py check_adapter: healthbot_adapter.json records the base "
    "model's hash but no hash of the adapter's own adapter_model.safetensors, so swapped adapter weights load "
    "silently",
}

# test id pattern (relative to tests/security/) -> bug
KNOWN: dict[str, str] = {
    "test_llm03_supply_chain.py::test_adapter_with_tampered_weights_is_refused": "B8",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        rel = item.nodeid.rsplit("tests/security/", 1)[-1]
        for pattern, bug in KNOWN.items():
            if fnmatch.fnmatchcase(rel, pattern.replace("[", "[[]")):
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"known bug {bug}: {BUGS[bug]}"))
                break
