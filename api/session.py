"""Page sign-in: an access token exchanged for a signed, expiring, HttpOnly session cookie.

The cookie holds ``<user>|<expiry>|<token fingerprint>`` and an HMAC-SHA256 of that
under the workspace secret (:func:`api.scope.workspace_secret`), so the server
keeps no session table and a restart keeps people signed in. The fingerprint is
part of the user's stored token hash: revoking a user or giving them a new token
ends their sessions at once. The cookie is ``SameSite=Strict`` and ``HttpOnly``
(no script can read it); writes are further held to this server's own origin by
:mod:`api.security`. Hand-written (a dozen lines of :mod:`hmac`) because
Starlette's ``SessionMiddleware`` would add a dependency (itsdangerous) and a
session for every visitor, where only a signed-in user needs one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from miner import access

COOKIE = "miner_session"


def _sign(secret: bytes, payload: str) -> str:
    mac = hmac.new(secret, b"session|" + payload.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def issue(secret: bytes, user: access.User, hours: float, now: float | None = None) -> str:
    """A cookie value for ``user`` valid for ``hours``."""
    expiry = int((now or time.time()) + hours * 3600)
    name = base64.urlsafe_b64encode(user.name.encode("utf-8")).decode().rstrip("=")
    payload = f"{name}|{expiry}|{user.token_sha256[:16]}"
    return f"{payload}|{_sign(secret, payload)}"


def verify(secret: bytes, users: list[access.User], value: str | None, now: float | None = None) -> access.User | None:
    """The user a cookie value stands for, or None (forged, expired, revoked or re-keyed)."""
    if not value or value.count("|") != 3:
        return None
    payload, _, mac = value.rpartition("|")
    if not hmac.compare_digest(mac, _sign(secret, payload)):
        return None
    name64, expiry, fingerprint = payload.split("|")
    if not expiry.isdigit() or int(expiry) < (now or time.time()):
        return None
    try:
        name = base64.urlsafe_b64decode(name64 + "=" * (-len(name64) % 4)).decode("utf-8")
    except ValueError:
        return None
    for u in users:
        if u.name == name and hmac.compare_digest(u.token_sha256[:16], fingerprint):
            return u
    return None
