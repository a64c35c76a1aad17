"""Clinician accounts (chatbot/accounts.py): the store, the login check shared by the workbench
and the ratings API, and ``python -m chatbot clinician add|list|remove``."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

import chatbot.accounts as accounts_mod
from chatbot.__main__ import main
from chatbot.accounts import AccountsError, ClinicianAccounts, accounts_path, clinician_verifier
from chatbot.settings import Settings, load_settings

PASSWORD = "correct horse battery staple"
# The smallest argon2 parameters: the same code paths, without 64 MiB and ~50 ms per hash.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hashes_and_clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts_mod, "PasswordHasher", lambda: FAST)
    for key in list(os.environ):
        if key.startswith("HEALTHBOT_") and key != "HEALTHBOT_SHARED_DATA":
            monkeypatch.delenv(key)


@pytest.fixture
def store(tmp_path: Path) -> ClinicianAccounts:
    return ClinicianAccounts(tmp_path / "data" / "clinicians.json")


def test_round_trip_salted_hashes_and_private_file(store: ClinicianAccounts) -> None:
    assert store.names() == []
    assert store.add("dr_ada", PASSWORD) is False
    assert store.add("nurse.bo-1", PASSWORD) is False
    assert store.names() == ["dr_ada", "nurse.bo-1"]
    assert store.verify("dr_ada", PASSWORD)
    assert ClinicianAccounts(store.path).verify("nurse.bo-1", PASSWORD)

    text = store.path.read_text()
    assert PASSWORD not in text
    hashes = [entry["hash"] for entry in json.loads(text)["clinicians"].values()]
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert hashes[0] != hashes[1]  # same password, different salts
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [p.name for p in store.path.parent.iterdir()] == ["clinicians.json"]  # no temp file left


def test_wrong_password_and_unknown_user(store: ClinicianAccounts) -> None:
    store.add("dr_ada", PASSWORD)
    assert not store.verify("dr_ada", PASSWORD + "!")
    assert not store.verify("dr_ada", "")
    assert not store.verify("dr_bob", PASSWORD)
    assert store.check("dr_bob", PASSWORD) == (False, False)
    assert store.check("dr_ada", "wrong password here") == (True, False)


def test_existing_name_needs_replace(store: ClinicianAccounts) -> None:
    store.add("dr_ada", PASSWORD)
    with pytest.raises(AccountsError, match="already exists"):
        store.add("dr_ada", "another long password")
    assert store.add("dr_ada", "another long password", replace=True) is True
    assert store.verify("dr_ada", "another long password")
    assert not store.verify("dr_ada", PASSWORD)


def test_remove(store: ClinicianAccounts) -> None:
    store.add("dr_ada", PASSWORD)
    store.remove("dr_ada")
    assert store.names() == []
    assert not store.verify("dr_ada", PASSWORD)
    with pytest.raises(AccountsError, match="no clinician 'dr_ada'"):
        store.remove("dr_ada")


@pytest.mark.parametrize("name", ["", "a" * 65, "dr ada", "dr/ada", "dr:ada", "dr_adá", "ada\n"])
def test_invalid_names_refused(store: ClinicianAccounts, name: str) -> None:
    with pytest.raises(AccountsError, match="invalid clinician name"):
        store.add(name, PASSWORD)
    assert not store.path.exists()


def test_short_password_refused(store: ClinicianAccounts) -> None:
    with pytest.raises(AccountsError, match="at least 12 characters"):
        store.add("dr_ada", "elevenchars")
    store.add("dr_ada", "twelve chars")
    assert store.verify("dr_ada", "twelve chars")


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"version": 1}',
        b'{"version": 1, "clinicians": {"dr_ada": {"hash": "plain"}}}',
        b'{"version": 99, "clinicians": {}}',
        b"\xff\xfe",
    ],
)
def test_corrupt_file_is_a_clear_error(store: ClinicianAccounts, content: bytes) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(content)
    with pytest.raises(AccountsError, match=r"clinicians\.json") as info:
        store.names()
    assert "\n" not in str(info.value)


def test_unreadable_file_is_a_clear_error(store: ClinicianAccounts) -> None:
    store.path.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(AccountsError, match="cannot read the clinician accounts file"):
        store.verify("dr_ada", PASSWORD)


def _settings(data_dir: Path, **server: Any) -> Settings:
    return load_settings(data_dir=data_dir, server=server)


def test_verifier_reads_file_then_legacy_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path / "data", clinicians={"dr_old": "legacy password", "dr_ada": "old one"})
    ClinicianAccounts(accounts_path(settings)).add("dr_ada", PASSWORD)
    with caplog.at_level(logging.WARNING, logger="healthbot.accounts"):
        verify = clinician_verifier(settings)
        clinician_verifier(settings)  # the second face of the same app
    deprecations = [r for r in caplog.records if "deprecated" in r.getMessage()]
    assert len(deprecations) == 1 and deprecations[0].levelno == logging.WARNING
    assert "legacy password" not in caplog.text

    assert verify("dr_ada", PASSWORD)
    assert not verify("dr_ada", "old one")  # the file decides for names it holds
    assert verify("dr_old", "legacy password")
    assert not verify("dr_old", "wrong")
    assert not verify("nobody", "legacy password")
    # Added after start-up: no restart needed.
    ClinicianAccounts(accounts_path(settings)).add("dr_new", PASSWORD)
    assert verify("dr_new", PASSWORD)


def test_verifier_with_corrupt_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path / "data")
    path = accounts_path(settings)
    path.parent.mkdir(parents=True)
    path.write_text("{oops")
    with pytest.raises(AccountsError, match="corrupt"):
        clinician_verifier(settings)  # at start-up: the server does not start
    path.unlink()
    verify = clinician_verifier(settings)
    path.write_text("{oops")
    assert not verify("dr_ada", PASSWORD)  # later: logins fail (and it is logged), no 500


def _cli(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_add_list_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    data = tmp_path / "data"
    config = tmp_path / "settings.yaml"
    config.write_text(f"data_dir: {data}\n")
    base = ["--config", str(config), "clinician"]

    rc, out, err = _cli([*base, "list"], "", monkeypatch, capsys)
    assert rc == 0 and out == "" and "clinician add NAME" in err
    rc, out, _ = _cli([*base, "add", "dr_ada", "--password-stdin"], PASSWORD + "\n", monkeypatch, capsys)
    assert rc == 0 and "created clinician 'dr_ada'" in out
    assert ClinicianAccounts(data / "clinicians.json").verify("dr_ada", PASSWORD)

    rc, _, err = _cli([*base, "add", "dr_ada", "--password-stdin"], PASSWORD + "\n", monkeypatch, capsys)
    assert rc == 2 and "already exists" in err and "Traceback" not in err
    rc, out, _ = _cli(
        [*base, "add", "dr_ada", "--password-stdin", "--replace"], "new password 123\r\n", monkeypatch, capsys
    )
    assert rc == 0 and "updated the password" in out
    assert ClinicianAccounts(data / "clinicians.json").verify("dr_ada", "new password 123")
    rc, _, err = _cli([*base, "add", "dr_bo", "--password-stdin"], "short\n", monkeypatch, capsys)
    assert rc == 2 and "at least 12 characters" in err
    rc, _, err = _cli([*base, "add", "dr bo", "--password-stdin"], PASSWORD + "\n", monkeypatch, capsys)
    assert rc == 2 and "invalid clinician name" in err

    rc, out, _ = _cli([*base, "list"], "", monkeypatch, capsys)
    assert rc == 0 and out.splitlines() == ["dr_ada"]
    rc, out, _ = _cli([*base, "remove", "dr_ada"], "", monkeypatch, capsys)
    assert rc == 0 and "removed" in out
    rc, _, err = _cli([*base, "remove", "dr_ada"], "", monkeypatch, capsys)
    assert rc == 2 and "no clinician 'dr_ada'" in err


def test_cli_prompts_twice_without_password_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("HEALTHBOT_DATA_DIR", str(tmp_path / "data"))
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["clinician", "add", "dr_ada"]) == 2
    assert "differ" in capsys.readouterr().err
    assert not (tmp_path / "data" / "clinicians.json").exists()

    answers = iter([PASSWORD, PASSWORD])
    assert main(["clinician", "add", "dr_ada"]) == 0
    assert ClinicianAccounts(tmp_path / "data" / "clinicians.json").verify("dr_ada", PASSWORD)


def test_cli_refuses_password_argument(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    with pytest.raises(SystemExit):
        main(["clinician", "add", "dr_ada", "--password", PASSWORD])
    assert "unrecognized arguments: --password" in capsys.readouterr().err


def test_stored_account_signs_in_to_ratings_api_and_workbench(tmp_path: Path) -> None:
    from app import create_app
    from tests.app_helpers import app_settings, make_service, serve
    from tests.conftest import make_chunk

    settings = app_settings(tmp_path / "data")  # its legacy dr_ada stays, as older setups have it
    ClinicianAccounts(accounts_path(settings)).add("dr_lin", PASSWORD)
    service = make_service(settings, [make_chunk("flu", "Influenza is a respiratory illness.")])
    with serve(create_app(settings, service)) as url:
        assert httpx.get(url + "/v1/ratings", auth=("dr_lin", PASSWORD)).status_code == 200
        wrong = httpx.get(url + "/v1/ratings", auth=("dr_lin", PASSWORD + "x"))
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")
        assert httpx.get(url + "/v1/ratings").status_code == 401
        assert httpx.get(url + "/v1/ratings", auth=("dr_ada", "correct horse battery")).status_code == 200
        # The workbench's login form goes through the same check.
        form = {"username": "dr_lin", "password": PASSWORD}
        assert httpx.post(url + "/clinician/login", data=form).json() == {"success": True}
        bad = httpx.post(url + "/clinician/login", data={**form, "password": "wrong password!"})
        assert bad.status_code == 400
