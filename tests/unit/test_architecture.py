"""The architecture contracts in pyproject.toml ([tool.importlinter]) hold, and breaking one fails.

Runs ``lint-imports`` (what ``make contracts`` and CI run) on the real packages, then on a stub
tree with the same contracts and one forbidden import added, to show each kind of break is caught.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.is_file(), f"{LINT_IMPORTS} missing: `pip install -r requirements-dev.txt`"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def contract_name(contract_id: str) -> str:
    return next(str(c["name"]) for c in CONFIG["contracts"] if c["id"] == contract_id)


def named_modules(config: dict[str, Any]) -> set[str]:
    """Every module the contracts name (layers, sources, targets, ancestors, roots)."""
    names = set(config["root_packages"])
    for contract in config["contracts"]:
        for layer in contract.get("layers", []):
            names.update(part.strip().strip("()") for part in re.split(r"[:|]", layer))
        for key in ("source_modules", "forbidden_modules", "modules", "ancestors"):
            names.update(contract.get(key, []))
    return names


def stub_tree(root: Path) -> None:
    """Empty modules under the names the contracts use, and the same [tool.importlinter] table."""
    for name in sorted(named_modules(CONFIG)):
        parts = name.split(".")
        for i in range(1, len(parts)):
            package = root.joinpath(*parts[:i])
            package.mkdir(exist_ok=True)
            (package / "__init__.py").touch()
        if len(parts) == 1:
            (root / name).mkdir(exist_ok=True)
            (root / name / "__init__.py").touch()
        else:
            root.joinpath(*parts[:-1], f"{parts[-1]}.py").touch()
    # JSON strings, lists and booleans are valid TOML values.
    lines = ["[tool.importlinter]"] + [f"{k} = {json.dumps(v)}" for k, v in CONFIG.items() if k != "contracts"]
    for contract in CONFIG["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in contract.items()]
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def module_file(root: Path, name: str) -> Path:
    path = root.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def test_the_real_packages_keep_every_contract() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in result.stdout


def test_contracts_are_honest() -> None:
    """No contract is kept by ignoring the imports that would break it."""
    assert not [c["id"] for c in CONFIG["contracts"] if c.get("ignore_imports")]
    assert CONFIG["include_external_packages"] is False


@pytest.mark.parametrize(
    ("importer", "imported", "contract_id"),
    [
        ("chatbot.llm", "chatbot.prompts", "generation-and-knowledge"),  # generation knows no dialogue text
        ("chatbot.llm", "finetune", "layers"),  # the runtime never imports training
        ("chatbot.ui", "chatbot.llm", "faces"),  # faces build no generators
        ("chatbot.safety", "chatbot.llm", "safety"),
        ("knowledge", "chatbot.dialogue", "layers"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, importer: str, imported: str, contract_id: str) -> None:
    stub_tree(tmp_path)
    module_file(tmp_path, importer).write_text(f"import {imported}\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract_name(contract_id)} BROKEN" in result.stdout
    assert f"{importer} is not allowed to import {imported}" in result.stdout


def test_the_stub_tree_alone_keeps_every_contract_and_a_cycle_breaks_one(tmp_path: Path) -> None:
    stub_tree(tmp_path)
    clean = lint_imports(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr  # so the failures above come from the import
    (tmp_path / "chatbot" / "ping.py").write_text("import chatbot.pong\n", encoding="utf-8")
    (tmp_path / "chatbot" / "pong.py").write_text("def f() -> None:\n    import chatbot.ping\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert f"{contract_name('acyclic')} BROKEN" in result.stdout
    assert "No cycles are allowed in chatbot." in result.stdout
