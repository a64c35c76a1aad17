"""CI wrapper around pip-audit: fail on known vulnerabilities, but only *report* (exit 0) when
the vulnerability service cannot be reached or cannot check some packages, as on a build
machine with no route to pypi.org's JSON API or to osv.dev.

    python -m tests.security.pip_audit_ci [requirements.txt ...]

Exit status: 0 no known vulnerabilities (or audit incomplete, reported loudly), 1 vulnerable
packages found, 2 pip-audit itself is missing or broken.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

BANNER = "pip-audit:"


def summarize(report: dict[str, Any]) -> tuple[list[str], list[str], int]:
    """(lines naming each vulnerability, names of packages that could not be audited, number audited)."""
    vulnerable: list[str] = []
    skipped: list[str] = []
    audited = 0
    for dep in report.get("dependencies", []):
        if dep.get("skip_reason"):
            skipped.append(str(dep.get("name")))
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            vulnerable.append(f"{dep.get('name')} {dep.get('version')}: {vuln.get('id')} (fixed in {fixes})")
    return vulnerable, skipped, audited


def main(argv: list[str]) -> int:
    requirements = argv or ["requirements.txt"]
    exe = shutil.which("pip-audit") or str(Path(sys.executable).with_name("pip-audit"))
    if not Path(exe).exists():
        print(f"{BANNER} not installed; run `make install` (it is pinned in requirements-dev.txt)", file=sys.stderr)
        return 2
    cmd = [exe, "--no-deps", "--disable-pip", "--progress-spinner", "off", "--format", "json", "--timeout", "30"]
    for req in requirements:
        cmd += ["-r", req]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        report = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        report = None
    if report is None:
        detail = " ".join(proc.stderr.split())[-400:] or f"exit status {proc.returncode}"
        print(f"{BANNER} AUDIT NOT RUN - the vulnerability service could not be reached ({detail}).")
        print(f"{BANNER} not failing the build for this; run `make audit` where pypi.org is reachable.")
        return 0
    vulnerable, skipped, audited = summarize(report)
    for line in vulnerable:
        print(f"{BANNER} VULNERABLE {line}")
    if skipped:
        print(
            f"{BANNER} AUDIT INCOMPLETE - {len(skipped)} of {len(skipped) + audited} pinned packages could not be "
            f"checked (the vulnerability service has no record of these versions or is unreachable from here): "
            + ", ".join(skipped)
        )
    print(f"{BANNER} {audited} package(s) audited, {len(vulnerable)} known vulnerabilit(y/ies), {len(skipped)} skipped")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
