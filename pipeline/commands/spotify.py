"""``music-tracker auth [ACCOUNT]``: one-time headless authorisation of a listener's Spotify.

Prints the address to open on any device (phone, laptop), reads back the address the browser
was sent to after "Agree", and stores the token cache with mode 0600. Works over SSH on a NAS.
"""

from __future__ import annotations

import argparse
import sys

from pipeline import settings as settings_mod


def cmd_auth(args: argparse.Namespace) -> int:
    from pipeline.clients.http import HttpError
    from pipeline.clients.spotify import (
        AuthorisationError,
        authorize_url,
        complete_authorisation,
        load_token,
        refresh_expires_at,
    )

    settings = settings_mod.get_settings()
    account = args.account or settings.default_account
    try:
        settings.account(account)
    except settings_mod.SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        pending = authorize_url(account)
    except HttpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Authorising Spotify account {account!r}.\n")
    print("1. Open this address on any device and log in as that listener:\n")
    print(f"   {pending.url}\n")
    print(
        f"2. After 'Agree', the browser goes to {pending.redirect_uri}... and probably shows an\n"
        "   error page: that is expected. Copy the whole address from its address bar.\n"
    )
    print("3. Paste it here and press Enter:")
    pasted = sys.stdin.readline()
    if not pasted.strip():
        print("error: nothing pasted; run the command again", file=sys.stderr)
        return 1
    try:
        path = complete_authorisation(pending, pasted)
    except (AuthorisationError, HttpError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    token = load_token(account) or {}
    expires = refresh_expires_at(token)
    print(f"\nAuthorised {account!r}; token cache {path} (readable by you only).")
    if expires:
        print(
            f"Spotify ends this authorisation on {expires:%Y-%m-%d}: run "
            f"`music-tracker auth {account}` again before then."
        )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``auth`` to the CLI."""
    auth = subparsers.add_parser(
        "auth", help="authorise a listener's Spotify account (headless, one time)"
    )
    auth.add_argument("account", nargs="?", help="account from config (default_account)")
    auth.set_defaults(func=cmd_auth)
