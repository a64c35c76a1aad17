"""``python -m chatbot clinician add|list|remove``: the clinician workbench's login accounts.

Accounts live in ``<data_dir>/clinicians.json`` (see :mod:`chatbot.accounts`). A password is
typed twice at a hidden prompt, or read from the first line of standard input with
``--password-stdin``; never from the command line, where other users and shell history see it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatbot.accounts import ClinicianAccounts
    from chatbot.settings import Settings


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "clinician",
        help="create, list or remove clinician workbench accounts",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    sub = p.add_subparsers(dest="clinician_command", required=True)
    # No abbreviations: `--password SECRET` must be refused, not taken for --password-stdin.
    add = sub.add_parser("add", help="create an account (or set a new password with --replace)", allow_abbrev=False)
    add.add_argument("name", help="login name: 1-64 letters, digits, '.', '_' or '-'")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin (scripts)"
    )
    add.add_argument("--replace", action="store_true", help="set a new password for an existing account")
    add.set_defaults(func=run_add)
    lst = sub.add_parser("list", help="list the account names")
    lst.set_defaults(func=run_list)
    rm = sub.add_parser("remove", help="delete an account")
    rm.add_argument("name")
    rm.set_defaults(func=run_remove)


def _accounts(args: argparse.Namespace) -> tuple[ClinicianAccounts, Settings]:
    from chatbot.accounts import ClinicianAccounts, accounts_path
    from chatbot.settings import load_settings

    settings = load_settings(args.config)
    return ClinicianAccounts(accounts_path(settings)), settings


def read_password(from_stdin: bool) -> str:
    from chatbot.accounts import AccountsError, validate_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise AccountsError("no password on standard input (--password-stdin reads its first line)")
        return validate_password(password)
    password = validate_password(getpass.getpass("Password: "))
    if getpass.getpass("Password again: ") != password:
        raise AccountsError("the two passwords differ: nothing was changed")
    return password


def run_add(args: argparse.Namespace) -> int:
    from chatbot.accounts import AccountsError, validate_username

    accounts, _ = _accounts(args)
    name = validate_username(args.name)
    # Checked before asking for the password, so nobody types one for nothing.
    if name in accounts.names() and not args.replace:
        raise AccountsError(f"clinician {name!r} already exists: pass --replace to set a new password")
    replaced = accounts.add(name, read_password(args.password_stdin), replace=args.replace)
    verb = "updated the password of" if replaced else "created"
    print(f"{verb} clinician {name!r} in {accounts.path}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from chatbot.accounts import ADD_COMMAND

    accounts, settings = _accounts(args)
    names = accounts.names()
    for name in names:
        print(name)
    if not names:
        print(f"no clinician accounts in {accounts.path}: create one with `{ADD_COMMAND}`", file=sys.stderr)
    legacy = sorted(set(settings.server.clinicians) - set(names))
    if legacy:
        print(
            f"also {len(legacy)} login(s) in the deprecated server.clinicians setting: {', '.join(legacy)}",
            file=sys.stderr,
        )
    return 0


def run_remove(args: argparse.Namespace) -> int:
    accounts, _ = _accounts(args)
    accounts.remove(args.name)
    print(f"removed clinician {args.name!r} from {accounts.path}")
    return 0
