"""Clinician accounts: argon2 password hashes in ``<data_dir>/clinicians.json`` (mode 0600).

``python -m chatbot clinician add|list|remove`` (:mod:`chatbot.cli_accounts`) edits the file;
:func:`clinician_verifier` is the one login check of the workbench and the ratings API. The
file is read on every login, so an account added or removed takes effect without a restart.
The legacy ``server.clinicians`` mapping (plain passwords in settings) still works, with a
deprecation warning, for names the file does not hold.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chatbot.errors import HealthbotError

if TYPE_CHECKING:
    from chatbot.settings import Settings

log = logging.getLogger("healthbot.accounts")

ACCOUNTS_FILE = "clinicians.json"
FILE_VERSION = 1
MIN_PASSWORD_CHARS = 12
ADD_COMMAND = "python -m chatbot clinician add NAME"
# ASCII only, so two names that look alike on screen are never two different accounts.
_USERNAME = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
# Start-up notes already logged: create_app builds one verifier per face (API and workbench).
_logged: set[tuple[str, ...]] = set()


class AccountsError(HealthbotError, ValueError):
    """The accounts file or a requested change is invalid; the message says what to do."""


def accounts_path(settings: Settings) -> Path:
    return settings.data_dir / ACCOUNTS_FILE


def validate_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise AccountsError(
            f"invalid clinician name {username!r}: use 1-64 letters, digits, '.', '_' or '-' (no spaces)"
        )
    return username


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountsError(f"the password is too short: use at least {MIN_PASSWORD_CHARS} characters")
    return password


class ClinicianAccounts:
    """The accounts file. Every method reads it afresh; changes are written atomically."""

    def __init__(self, path: Path, *, hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def names(self) -> list[str]:
        return sorted(self._load())

    def add(self, username: str, password: str, *, replace: bool = False) -> bool:
        """Store ``username`` with a fresh salted hash; True when it replaced an existing account."""
        validate_username(username)
        validate_password(password)
        accounts = self._load()
        existed = username in accounts
        if existed and not replace:
            raise AccountsError(f"clinician {username!r} already exists: pass --replace to set a new password")
        accounts[username] = {
            "hash": self.hasher.hash(password),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._save(accounts)
        return existed

    def remove(self, username: str) -> None:
        accounts = self._load()
        if username not in accounts:
            raise AccountsError(f"no clinician {username!r} in {self.path}")
        del accounts[username]
        self._save(accounts)

    def verify(self, username: str, password: str) -> bool:
        return self.check(username, password)[1]

    def check(self, username: str, password: str) -> tuple[bool, bool]:
        """(the name has an account, the password matches it).

        An unknown name is checked against a dummy hash, so it takes as long as a known one
        and response times do not reveal which names exist."""
        entry = self._load().get(username)
        known = entry is not None
        stored = entry["hash"] if entry is not None else self._dummy()
        try:
            ok: bool = self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            ok = False
        return known, known and ok

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(24))
        return self._dummy_hash

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as err:
            raise AccountsError(f"cannot read the clinician accounts file {self.path}: {_reason(err)}") from None
        try:
            return _parse(json.loads(text))
        except (ValueError, TypeError, KeyError) as err:
            raise AccountsError(
                f"the clinician accounts file {self.path} is corrupt ({_reason(err)}): restore it from a backup, "
                f"or delete it and run `{ADD_COMMAND}` again"
            ) from None

    def _save(self, accounts: dict[str, dict[str, str]]) -> None:
        body = {"version": FILE_VERSION, "clinicians": dict(sorted(accounts.items()))}
        try:
            _write_private(self.path, json.dumps(body, indent=2) + "\n")
        except OSError as err:
            raise AccountsError(f"cannot write the clinician accounts file {self.path}: {_reason(err)}") from None


def _parse(data: Any) -> dict[str, dict[str, str]]:
    if not isinstance(data, dict) or data.get("version") != FILE_VERSION:
        raise ValueError(f"expected an object with version {FILE_VERSION}")
    clinicians = data["clinicians"]
    if not isinstance(clinicians, dict):
        raise ValueError("'clinicians' is not an object")
    for name, entry in clinicians.items():
        if not isinstance(entry, dict) or not str(entry.get("hash", "")).startswith("$argon2"):
            raise ValueError(f"account {name!r} has no argon2 hash")
    return clinicians


def _reason(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _write_private(path: Path, text: str) -> None:
    """Temp file in the same directory, then rename: a reader never sees half a file.

    Not :func:`chatbot.evaluation.report.write_atomic`: that one makes its files world-readable
    (reports are meant to be shared) and lives in a face package that this module, used by the
    API, must not import. mkstemp creates the file 0600, so the hashes are never readable by
    others, not even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _log_once(key: tuple[str, ...], level: int, message: str) -> None:
    if key not in _logged:
        _logged.add(key)
        log.log(level, message)


def clinician_verifier(settings: Settings, *, hasher: PasswordHasher | None = None) -> Callable[[str, str], bool]:
    """The login check: the accounts file first, then the deprecated ``server.clinicians``.

    Reads the file once now, so a corrupt one stops the server at start-up with a clear
    message; if it turns corrupt later, logins through it fail (logged) until it is fixed."""
    accounts = ClinicianAccounts(accounts_path(settings), hasher=hasher)
    legacy = dict(settings.server.clinicians)
    names = accounts.names()
    # Hashed now, not at the first unknown name, whose slower answer would otherwise stand out.
    accounts._dummy()
    where = str(accounts.path)
    if legacy:
        _log_once(
            ("legacy", where, *sorted(legacy)),
            logging.WARNING,
            "server.clinicians (plain passwords in settings or HEALTHBOT_SERVER__CLINICIANS) is deprecated: "
            f"move each login to the accounts file with `{ADD_COMMAND}` and remove the setting",
        )
    elif not names:
        _log_once(
            ("none", where),
            logging.INFO,
            f"no clinician accounts yet: create the first with `{ADD_COMMAND}`",
        )

    def check_clinician(username: str, password: str) -> bool:
        try:
            known, ok = accounts.check(username, password)
        except AccountsError as err:
            log.error("clinician login refused: %s", err)
            known, ok = False, False
        if known:
            # A name in the file is decided by the file alone, so a password reset there is
            # not undone by an old one left in the settings.
            return ok
        expected = legacy.get(username)
        same = secrets.compare_digest(password.encode(), (expected if expected is not None else "\x00").encode())
        return same and expected is not None

    return check_clinician
