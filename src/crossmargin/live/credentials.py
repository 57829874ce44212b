"""Read-only API credentials of a venue, from environment variables or the system keyring.

For venue ``binance`` the variables are ``CROSSMARGIN_BINANCE_API_KEY``, ``CROSSMARGIN_BINANCE_API_SECRET``;
OKX adds ``CROSSMARGIN_OKX_PASSWORD`` (its API passphrase); Hyperliquid needs only
``CROSSMARGIN_HYPERLIQUID_WALLET`` (the account's public address: reading an account needs no key).
When none of a venue's variables is set, the ``keyring`` package is asked, if it is installed (it is an
optional dependency), under service ``crossmargin`` with user names ``<venue>:api_key``, ``<venue>:api_secret``,
``<venue>:password`` and ``<venue>:wallet``.

Credentials are never logged and never written anywhere: ``repr`` and ``str`` show ``'***'`` for every
value that is set. Use keys with read permission only; crossmargin never places or cancels orders.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, fields
from types import ModuleType

from crossmargin.errors import InputError, suggest
from crossmargin.venues.registry import VENUE_INFO

__all__ = ["REQUIRED", "Credentials", "env_var", "known_venue", "load_credentials"]

#: Venue -> the credential fields it needs to read an account.
REQUIRED: dict[str, tuple[str, ...]] = {name: info.credential_keys for name, info in VENUE_INFO.items()}

_ENV_SUFFIX = {"api_key": "API_KEY", "api_secret": "API_SECRET", "password": "PASSWORD", "wallet": "WALLET"}
_KEYRING_SERVICE = "crossmargin"
_MASK = "***"


def env_var(venue: str, name: str) -> str:
    """Return the environment variable holding credential ``name`` of ``venue``: 'CROSSMARGIN_OKX_PASSWORD'."""
    return f"CROSSMARGIN_{venue.upper()}_{_ENV_SUFFIX[name]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """API credentials of one venue; any field may be None. ``repr``/``str`` mask every value set."""

    api_key: str | None = None
    api_secret: str | None = None
    password: str | None = None
    wallet: str | None = None

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={_MASK!r}" if getattr(self, f.name) else f"{f.name}=None" for f in fields(self))
        return f"Credentials({shown})"

    __str__ = __repr__

    def secrets(self) -> tuple[str, ...]:
        """Return the values set, for scrubbing them out of log lines and error messages."""
        return tuple(value for f in fields(self) if (value := getattr(self, f.name)))


def load_credentials(venue: str) -> Credentials | None:
    """Return ``venue``'s credentials from the environment (else the keyring), or None when none is set.

    Raises InputError naming the missing variable when some but not all of the venue's credentials are set,
    and for an unknown venue.
    """
    key = known_venue(venue)
    values = {name: os.environ.get(env_var(key, name)) or None for name in _ENV_SUFFIX}
    source = "environment"
    if not any(values.values()):
        values = _from_keyring(key)
        source = "keyring"
    if not any(values.values()):
        return None
    missing = [name for name in REQUIRED[key] if not values[name]]
    if missing:
        variable = env_var(key, missing[0])
        raise InputError(
            variable,
            None,
            f"the {key} {missing[0].replace('_', ' ')} ({'; '.join(env_var(key, n) for n in REQUIRED[key])})",
            detail=f"{variable} is not set although other {key} credentials are (read from the {source})",
        )
    return Credentials(**values)


def known_venue(venue: str) -> str:
    """Return ``venue`` in lower case if crossmargin can read it live; raise InputError (field ``venue``) if not."""
    key = venue.lower() if isinstance(venue, str) else str(venue)
    if key not in REQUIRED:
        hint = suggest(str(venue), REQUIRED)
        detail = f"unknown venue {venue!r}" + (f" (did you mean {hint}?)" if hint else "")
        raise InputError("venue", venue, " | ".join(REQUIRED), detail=detail)
    return key


def _from_keyring(venue: str) -> dict[str, str | None]:
    """Return the venue's values from the keyring; all None when keyring is absent or has no backend."""
    empty: dict[str, str | None] = dict.fromkeys(_ENV_SUFFIX)
    try:
        keyring: ModuleType = importlib.import_module("keyring")
        keyring_errors: ModuleType = importlib.import_module("keyring.errors")
    except ImportError:  # keyring is optional: without it, credentials come from the environment only
        return empty
    values = dict(empty)
    for name in _ENV_SUFFIX:
        try:
            values[name] = keyring.get_password(_KEYRING_SERVICE, f"{venue}:{name}") or None
        except keyring_errors.KeyringError:  # no usable backend on this machine: same as no entry
            return empty
    return values
