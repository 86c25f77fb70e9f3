"""The web boundary: Host allow-list, request size, same-origin writes and security headers.

One small ASGI middleware, outermost, so that all of it happens before a byte of the
body is read and before any token is checked. Hand-written because no maintained
piece does this combination: Starlette's ``TrustedHostMiddleware`` answers in
English plain text and mis-parses IPv6 ``Host`` headers (``[::1]:8000``), and the
CSRF packages for Starlette rely on cookies, which miner does not use. What the
checks are:

- ``Host`` must name this server (settings ``host``, ``allowed_hosts`` and loopback):
  a page on another domain that rebinds its DNS to 127.0.0.1 is refused (DNS rebinding);
- a state-changing request (POST, PUT, PATCH, DELETE) sent by a browser must come
  from this server's own origin (``Origin``, else ``Referer``, and ``Sec-Fetch-Site``):
  another site's page cannot upload or edit in the analyst's name (CSRF). Clients
  that send neither header (curl, scripts) are not browsers and pass;
- ``Content-Length`` over the limit is refused at once; a body sent without one is
  counted while it streams and cut off at the limit;
- every response carries CSP (no inline script), X-Frame-Options DENY, nosniff, a
  Referrer-Policy and ``Cache-Control: no-store`` (reports are confidential).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from miner.config import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
LOOPBACK = ("127.0.0.1", "localhost", "::1")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit; renders as 413."""

    def __init__(self, limit: int):
        super().__init__(413, detail=too_large_message(limit))


def too_large_message(limit: int) -> str:
    return f"请求内容超过 {limit / 1024 / 1024:.1f} MB 上限 / request body larger than {limit} bytes"


def allowed_hosts(settings: Settings) -> list[str]:
    """Loopback names, the configured bind host (unless a wildcard address) and ``allowed_hosts``."""
    hosts = [*LOOPBACK]
    if settings.host and settings.host not in ("0.0.0.0", "::", "*"):
        hosts.append(settings.host)
    hosts += settings.allowed_hosts
    return list(dict.fromkeys(h.strip().lower().strip("[]") for h in hosts if h.strip()))


def host_name(netloc: str) -> str:
    """``example.org:8000`` → ``example.org``; ``[::1]:8000`` → ``::1``."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else ""
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def host_allowed(name: str, hosts: Iterable[str]) -> bool:
    for h in hosts:
        if h == "*" or name == h or (h.startswith("*.") and name.endswith(h[1:])):
            return True
    return False


class BoundaryMiddleware:
    """Refuse foreign hosts, cross-site writes and oversized bodies; add security headers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: list[str],
        allowed_origins: list[str],
        max_body: int,
        max_upload: int,
        upload_paths: frozenset[str],
    ):
        self.app = app
        self.hosts = hosts
        self.origins = {o.rstrip("/").lower() for o in allowed_origins}
        self.max_body = max_body
        self.max_upload = max_upload
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = scope.get("path", "")
        method = scope["method"]
        send = self._secured(send, path)

        host = headers.get("host", "")
        if not host_allowed(host_name(host), self.hosts):
            await _refuse(send, 400, "主机名不在允许列表中 / host not allowed (set MINER_ALLOWED_HOSTS)")
            return
        if method not in SAFE_METHODS and not self._same_origin(headers, host):
            await _refuse(send, 403, "拒绝跨站请求 / cross-site request refused (Origin does not match this server)")
            return
        limit = self.max_upload if path in self.upload_paths else self.max_body
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            if length.isdigit():
                await _refuse(send, 413, too_large_message(limit), close=True)
            else:
                await _refuse(send, 400, "Content-Length 无效 / invalid Content-Length")
            return

        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)

    def _same_origin(self, headers: Headers, host: str) -> bool:
        if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return False
        origin = headers.get("origin")
        if origin is None:
            referer = headers.get("referer")
            if referer is None:
                return True  # not sent by a browser (browsers send Origin with every POST)
            parts = urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}"
        origin = origin.rstrip("/").lower()
        if origin in self.origins:
            return True
        if origin == "null" or "://" not in origin:
            return False
        return urlsplit(origin).netloc == host.lower()

    def _secured(self, send: Send, path: str) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                if "content-security-policy" not in h:
                    h["content-security-policy"] = CSP
                for key, value in SECURITY_HEADERS.items():
                    h.setdefault(key, value)
                if not path.startswith("/static/"):
                    h.setdefault("cache-control", "no-store")
            await send(message)

        return wrapped


async def _refuse(send: Send, status: int, error: str, close: bool = False) -> None:
    body = json.dumps({"error": error, "status": status}, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
