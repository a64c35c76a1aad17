"""Known product bugs that the security tests expose, as strict expected failures.

Each entry names the owner's module and what is wrong (B1, B2 and B9 were fixed in this round:
encoded instructions in documents, zero-width characters, newlines in source titles/URLs; then B3,
B4 and B7: hidden or AI-addressed instructions in passages and user messages, log-record arguments; then
B5 and B6: refused or forged history turns replayed to the model, the marker streamed before the leak check;
then B8: adapter metadata without the hash of the adapter's own weights);
the tests themselves assert the intended behaviour. ``strict=True``: once a bug is fixed its tests XPASS, which fails the run until the
entry here is deleted, so this list cannot go stale. Reported in the README section "What it withstands".
"""

from __future__ import annotations

import fnmatch

import pytest

BUGS: dict[str, str] = {}

# test id pattern (relative to tests/security/) -> bug
KNOWN: dict[str, str] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        rel = item.nodeid.rsplit("tests/security/", 1)[-1]
        for pattern, bug in KNOWN.items():
            if fnmatch.fnmatchcase(rel, pattern.replace("[", "[[]")):
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"known bug {bug}: {BUGS[bug]}"))
                break
