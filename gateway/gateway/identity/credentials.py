"""API keys and OAuth client secrets: made at random, stored only as salted SHA-256 hashes, checked in
constant time.

An API key is ``arrs_<key_id>.<secret>``: the key id finds the client, the secret is checked against
its hash. A client secret is a random token. Both secrets are 256-bit random values, so a slow hash
adds nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

KEY_PREFIX = "arrs_"


def _digest(secret: str, salt: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def new_salted_hash(secret: str) -> tuple[str, str]:
    salt = secrets.token_hex(16)
    return salt, _digest(secret, salt)


def matches(secret: str, salt: str, expected: str) -> bool:
    return hmac.compare_digest(_digest(secret, salt), expected)


def new_client_id() -> str:
    """``cl_`` + 32 hex digits, the first 12 the creation time in ms, so ids sort by age."""
    return f"cl_{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


def new_api_key() -> tuple[str, str]:
    """A new ``(key_id, api_key)``."""
    key_id = secrets.token_hex(8)
    return key_id, f"{KEY_PREFIX}{key_id}.{secrets.token_urlsafe(32)}"


def split_api_key(api_key: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed API key, else None."""
    if not api_key.startswith(KEY_PREFIX) or "." not in api_key:
        return None
    key_id, _, secret = api_key[len(KEY_PREFIX) :].partition(".")
    if not key_id or not secret or len(api_key) > 200:
        return None
    return key_id, secret


@dataclass(frozen=True, slots=True)
class NewCredentials:
    """A new client's credentials: the two secrets to show once, and what is stored of them."""

    api_key: str
    client_secret: str
    key_id: str
    key_salt: str
    key_hash: str
    secret_salt: str
    secret_hash: str


def new_credentials() -> NewCredentials:
    key_id, api_key = new_api_key()
    _, client_secret = new_api_key()
    key_salt, key_hash = new_salted_hash(api_key.partition(".")[2])
    secret_salt, secret_hash = new_salted_hash(client_secret)
    return NewCredentials(api_key, client_secret, key_id, key_salt, key_hash, secret_salt, secret_hash)
