"""Who may see what: API users and the kinds of report each may read.

Reports of a discipline commission or an inspection office are not for every
analyst. A workspace can hold an ``access.json`` listing API users, each with a
token (stored only as its SHA-256), the issuer kinds whose reports they may read
(``*`` for all) and whether they may upload and edit. With no users configured
the API runs in single-user mode, bound to 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from miner.records import ISSUER_KINDS

FILE = "access.json"


@dataclass
class User:
    name: str
    token_sha256: str
    issuer_kinds: list[str] = field(default_factory=lambda: ["*"])
    can_write: bool = False

    def allowed_kinds(self) -> list[str] | None:
        """None means every kind."""
        return None if "*" in self.issuer_kinds else list(self.issuer_kinds)

    def may_read(self, issuer_kind: str) -> bool:
        return "*" in self.issuer_kinds or issuer_kind in self.issuer_kinds


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load(workspace: Path) -> list[User]:
    path = Path(workspace) / FILE
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [User(**u) for u in data.get("users", [])]


def save(workspace: Path, users: list[User]) -> None:
    path = Path(workspace) / FILE
    path.write_text(json.dumps({"users": [asdict(u) for u in users]}, ensure_ascii=False, indent=1), encoding="utf-8")
    path.chmod(0o600)


def add_user(workspace: Path, name: str, issuer_kinds: list[str], can_write: bool = False) -> str:
    """Create (or replace) a user; returns the token, which is shown once and never stored."""
    kinds = issuer_kinds or ["*"]
    bad = [k for k in kinds if k != "*" and k not in ISSUER_KINDS]
    if bad:
        raise ValueError(f"unknown issuer kinds {bad}; use {', '.join(ISSUER_KINDS)} or *")
    token = secrets.token_urlsafe(24)
    users = [u for u in load(workspace) if u.name != name]
    users.append(User(name, _hash(token), kinds, can_write))
    save(workspace, users)
    return token


def revoke(workspace: Path, name: str) -> bool:
    users = load(workspace)
    kept = [u for u in users if u.name != name]
    save(workspace, kept)
    return len(kept) != len(users)


def authenticate(users: list[User], token: str | None) -> User | None:
    if not token:
        return None
    digest = _hash(token)
    for u in users:
        if secrets.compare_digest(u.token_sha256, digest):
            return u
    return None
