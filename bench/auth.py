"""The benchmark's identities, made through the running gateway as a real client would get them.

The bootstrap admin creates one API client (``POST /v1/clients``); its API key is sent as is, and its
client secret buys bearer tokens (``POST /v1/oauth/token``, client credentials). A token is fetched
again before a wrk run it would not outlive, so no run is cut short by an expiring token.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

REQUEST_TIMEOUT_S = 10.0
TOKEN_MARGIN_S = 60.0  # a token must outlive the run by this much


def http(
    url: str, *, headers: dict[str, str] | None = None, data: bytes | None = None, method: str | None = None
) -> tuple[int, bytes]:
    """One bounded request to our own loopback server; any HTTP status is returned, not raised."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:  # noqa: S310
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), bytes(exc.read())


def _json(status: int, body: bytes, what: str, expected: int) -> dict[str, Any]:
    if status != expected:
        raise RuntimeError(f"{what} answered {status}, not {expected}: {body[:500]!r}")
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise RuntimeError(f"{what} answered {status} with a body that is not JSON: {body[:500]!r}") from exc
    if not isinstance(document, dict):
        raise RuntimeError(f"{what} answered {status} with {document!r}")
    return document


@dataclass(frozen=True)
class ApiClient:
    client_id: str
    kind: str
    api_key: str
    client_secret: str


def create_client(gateway: str, admin_key: str, *, name: str, kind: str, org_codes: list[str]) -> ApiClient:
    """``POST /v1/clients`` as the bootstrap admin; the key and the secret are in this answer only."""
    body = json.dumps({"name": name, "kind": kind, "org_codes": org_codes}).encode()
    status, answer = http(
        f"{gateway}/v1/clients",
        headers={"X-API-Key": admin_key, "Content-Type": "application/json", "Accept": "application/json"},
        data=body,
        method="POST",
    )
    created = _json(status, answer, "POST /v1/clients", 201)
    for field in ("client_id", "api_key", "client_secret"):
        if not isinstance(created.get(field), str) or not created[field]:
            raise RuntimeError(f"POST /v1/clients answered without {field}: {sorted(created)}")
    if created.get("kind") != kind:
        raise RuntimeError(f"POST /v1/clients made a {created.get('kind')!r} client, not {kind!r}")
    return ApiClient(
        client_id=created["client_id"], kind=kind, api_key=created["api_key"], client_secret=created["client_secret"]
    )


class TokenSource:
    """Bearer tokens for one client, fetched from the gateway when none is left that outlives a run."""

    def __init__(self, gateway: str, client: ApiClient) -> None:
        self.url = f"{gateway}/v1/oauth/token"
        self.client = client
        self.issued = 0
        self._token: str | None = None
        self._expires_at = 0.0  # time.monotonic()

    def _fetch(self) -> None:
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.client.client_id,
                "client_secret": self.client.client_secret,
            }
        ).encode()
        asked = time.monotonic()
        status, answer = http(
            self.url,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            data=form,
            method="POST",
        )
        document = _json(status, answer, "POST /v1/oauth/token", 200)
        token, expires_in = document.get("access_token"), document.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            raise RuntimeError(f"POST /v1/oauth/token answered without a usable token: {sorted(document)}")
        if str(document.get("token_type", "")).lower() != "bearer":
            raise RuntimeError(f"POST /v1/oauth/token answered token_type {document.get('token_type')!r}")
        self._token, self._expires_at = token, asked + expires_in
        self.issued += 1

    def token(self, run_s: float) -> str:
        """A token good for the next ``run_s`` seconds and a margin."""
        if self._token is None or time.monotonic() + run_s + TOKEN_MARGIN_S >= self._expires_at:
            self._fetch()
        assert self._token is not None
        if time.monotonic() + run_s >= self._expires_at:
            raise RuntimeError(f"the gateway's tokens live less than a {run_s:g} s run: lower --duration")
        return self._token

    def headers(self, run_s: float) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(run_s)}"}
