"""Size check: Python files over 500 lines and functions over 80 lines in the shipped code.

    python -m tests.check_sizes

Prints one line per oversized file or function (``path: N lines`` or
``path:LINE name(): N lines``) and exits 1 when any is found outside :data:`ALLOWED`, the
declarative tables (regex lists, lexicons, labelled data) whose length is their content.
The current debt is pinned in tests/unit/test_sizes.py, so a new oversized one fails there.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("chatbot", "knowledge", "finetune", "benchmarks", "app.py")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80

# Mostly literal data, long by nature: "path" (whole file) or "path:qualified.function" -> why.
ALLOWED: dict[str, str] = {
    "chatbot/safety/triage.py": "red-flag tables: RULES, CONCEPTS, CORE_SIGNS, SUPPORT_SIGNS are ~620 of its lines",
    "chatbot/prompts.py": "every patient-facing message in one module by design; the first-aid tables "
    "EMERGENCY_ADVICE(_ES) and HARMFUL_REFUSALS are ~190 of its lines",
    "benchmarks/sentence_split.py": "hand-labelled gold sentence offsets (MEDQUAD_GOLD, MEDQUAD_HELDOUT), ~200 lines",
}


def _files() -> list[Path]:
    out: list[Path] = []
    for name in SCANNED:
        p = ROOT / name
        out.extend([p] if p.is_file() else sorted(p.rglob("*.py")))
    return [p for p in out if "__pycache__" not in p.parts]


def oversized() -> list[str]:
    """Every oversized file and function, allowed or not, as ``key: N lines`` lines."""
    found: list[str] = []
    for path in _files():
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > MAX_FILE_LINES:
            found.append(f"{rel}: {n} lines")
        for name, length in _functions(ast.parse(text, filename=rel)):
            if length > MAX_FUNCTION_LINES:
                found.append(f"{rel}:{name}(): {length} lines")
    return found


def _functions(node: ast.AST, prefix: str = "") -> list[tuple[str, int]]:
    """(qualified name, lines) of every def/async def under ``node``, nested ones included."""
    out: list[tuple[str, int]] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = prefix + child.name
            if not isinstance(child, ast.ClassDef):
                out.append((name, (child.end_lineno or child.lineno) - child.lineno + 1))
            out.extend(_functions(child, name + "."))
        else:
            out.extend(_functions(child, prefix))
    return out


def _key(line: str) -> str:
    return line.rsplit(": ", 1)[0].removesuffix("()")


def violations() -> list[str]:
    """The oversized files and functions that :data:`ALLOWED` does not excuse."""
    return [line for line in oversized() if _key(line) not in ALLOWED]


def main() -> int:
    bad = violations()
    for line in bad:
        print(line)
    if bad:
        print(
            f"{len(bad)} over the limits ({MAX_FILE_LINES} lines a file, {MAX_FUNCTION_LINES} a function)",
            file=sys.stderr,
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
