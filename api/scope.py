"""What one API user may see: findings, documents, batches, common problems and edits in scope.

Every route answers from a :class:`Scope`, so nothing outside the caller's issuer
kinds can reach a response: not a text, an id, a file name, a unit or issuer name,
nor a count. Two things need more than a filter:

- **cluster ids**. The catalogue names a common problem after its first finding
  (``c-<document id>-NNN``, stable for the CLI), which would tell an auditor the id
  of a discipline report in a mixed cluster. The API shows an opaque id instead:
  an HMAC of the catalogue id under a per-workspace secret (``p-…``), stable while
  the cluster lives, the same for every user, and meaningless without the secret;
- **edits**. A writer may only edit common problems made wholly of findings they
  may read; anything else is answered exactly like an unknown id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from miner import access
from miner.pipeline import make_filters
from miner.records import CommonProblem, Finding

if TYPE_CHECKING:
    from api.deps import ReadView

SECRET_FILE = "api_secret"
OWNERS_FILE = "api_batch_owners.json"


def workspace_secret(root: Path) -> bytes:
    """The workspace's key for opaque ids, created once (owner-only file)."""
    path = Path(root) / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def public_cluster_id(secret: bytes, cluster_id: str) -> str:
    return "p-" + hmac.new(secret, cluster_id.encode("utf-8"), hashlib.sha256).hexdigest()[:20]


class BatchOwners:
    """Who uploaded which batch through the API, so the uploader sees their failed files.

    Kept beside the catalogue (the catalogue schema belongs to miner.store); written
    under the API's write lock.
    """

    def __init__(self, root: Path):
        self.path = Path(root) / OWNERS_FILE
        self._owners: dict[str, str] = json.loads(self.path.read_text("utf-8")) if self.path.exists() else {}

    def get(self, batch_id: str) -> str | None:
        return self._owners.get(batch_id)

    def set(self, batch_id: str, user: str) -> None:
        self._owners[batch_id] = user
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._owners, ensure_ascii=False), "utf-8")
        tmp.chmod(0o600)
        tmp.replace(self.path)


class NotInScope(LookupError):
    """Unknown, or outside the caller's scope: both are answered the same way."""


class Scope:
    """One user's view of one catalogue snapshot."""

    def __init__(self, user: access.User, view: ReadView, secret: bytes):
        self.user = user
        self.view = view
        self.secret = secret
        self.kinds = user.allowed_kinds()  # None: every kind

    @property
    def restricted(self) -> bool:
        return self.kinds is not None

    def may_read(self, issuer_kind: str) -> bool:
        return self.user.may_read(issuer_kind)

    # ------------------------------------------------------------------ findings and documents

    @cached_property
    def findings(self) -> list[Finding]:
        return [f for f in self.view.catalogue.findings() if self.may_read(f.issuer_kind)]

    @cached_property
    def finding_ids(self) -> set[str]:
        return {f.id for f in self.findings}

    def documents(self) -> list[dict]:
        return [_public_document(d) for d in self.view.catalogue.documents() if self.may_read(d["issuer_kind"])]

    def document(self, key: str, with_text: bool = False) -> dict:
        """A document by id or file name (of the documents so named, one the user may read)."""
        rows = self.view.catalogue.db.execute(
            "SELECT id, issuer_kind FROM documents WHERE id = ? OR name = ? ORDER BY id = ? DESC, id", (key, key, key)
        )
        doc_id = next((r[0] for r in rows if self.may_read(r[1])), None)
        doc = self.view.catalogue.document(doc_id, with_text=with_text) if doc_id else None
        if doc is None:
            raise NotInScope(key)
        return _public_document(doc)

    def finding(self, finding_id: str) -> Finding:
        found = self.view.catalogue.findings(ids=[finding_id], review=None)
        if not found or not self.may_read(found[0].issuer_kind):
            raise NotInScope(finding_id)
        return found[0]

    def kinds_for(self, requested: list[str] | None) -> list[str] | None:
        """Issuer kinds a query may touch: the requested ones the user may read (None = no limit)."""
        if self.kinds is None:
            return requested
        if requested is None:
            return list(self.kinds)
        return [k for k in requested if k in self.kinds] or ["\x00none"]

    def filters(self, **analyst: object) -> dict:
        """Analyst filters resolved over the findings in scope only (unit and issuer names included)."""
        kinds = analyst.pop("issuer_kind", None)
        return make_filters(self.findings, issuer_kind=self.kinds_for(kinds), **analyst)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ common problems

    def cluster_id(self, catalogue_id: str) -> str:
        return public_cluster_id(self.secret, catalogue_id)

    @cached_property
    def mixed_clusters(self) -> set[str]:
        """Clusters holding at least one finding outside this scope."""
        if self.kinds is None:
            return set()
        marks = ",".join("?" * len(self.kinds))
        rows = self.view.catalogue.db.execute(
            "SELECT DISTINCT m.cluster_id FROM cluster_members m JOIN findings f ON f.id = m.finding_id"
            " JOIN documents d ON d.id = f.document_id"
            f" WHERE m.cluster_id IS NOT NULL AND d.issuer_kind NOT IN ({marks})",
            list(self.kinds),
        )
        return {r[0] for r in rows}

    def problems(self, *, min_size: int = 2, min_bodies: int = 1, **analyst: object) -> list[CommonProblem]:
        """Common problems over the findings in scope, with opaque ids and nothing from outside.

        The catalogue's keywords of a cluster that also holds findings outside the
        scope were computed over all of them; they are recomputed from what is shown.
        """
        from miner import problems
        from miner.naming import name_cluster

        flt = self.filters(**analyst)
        out = problems.problems(self.view, min_size=min_size, filters=flt, min_bodies=min_bodies)  # type: ignore[arg-type]
        for p in out:
            if p.id in self.mixed_clusters:
                emb = problems._embeddings(self.view, p.findings)  # type: ignore[arg-type]
                p.keywords = name_cluster([f.text for f in p.findings], emb).keywords
            p.id = self.cluster_id(p.id)
        return out

    def problem(self, public_id: str) -> CommonProblem:
        found = [p for p in self.problems(min_size=1) if p.id == public_id]
        if not found:
            raise NotInScope(public_id)
        return found[0]

    def edits(self, entries: Iterable[dict]) -> list[dict]:
        """The edit log, keeping entries about findings and common problems wholly in scope."""
        db = self.view.catalogue.db
        members: dict[str, list[str]] = {}
        for fid, cid in db.execute("SELECT finding_id, cluster_id FROM cluster_members WHERE cluster_id IS NOT NULL"):
            members.setdefault(cid, []).append(fid)
        readable = self.finding_ids
        out = []
        for e in entries:
            clusters = [e[k] for k in ("cluster", "target", "new") if isinstance(e.get(k), str)] + list(
                e.get("others") or []
            )
            fids = [e["finding"]] if isinstance(e.get("finding"), str) else list(e.get("findings") or [])
            if not all(f in readable for f in fids):
                continue
            if self.restricted and not all(c in members and set(members[c]) <= readable for c in clusters):
                continue
            shown = dict(e)
            for k in ("cluster", "target", "new"):
                if isinstance(shown.get(k), str):
                    shown[k] = self.cluster_id(shown[k])
            if "others" in shown:
                shown["others"] = [self.cluster_id(c) for c in shown["others"]]
            out.append(shown)
        return out

    # ------------------------------------------------------------------ batches

    def batch(self, batch: dict, owner: str | None) -> dict | None:
        """A batch with only the files this user may know of; None when that is none of them."""
        docs = {r[0]: r[1] for r in self.view.catalogue.db.execute("SELECT id, issuer_kind FROM documents")}
        mine = owner is not None and owner == self.user.name
        files = []
        for f in batch["files"]:
            doc_kind = docs.get(f["document_id"]) if f.get("document_id") else None
            readable_doc = doc_kind is not None and self.may_read(doc_kind)
            if not (readable_doc or mine or not self.restricted):
                continue
            shown = {k: f[k] for k in ("name", "status", "message", "findings", "document_id")}
            if not readable_doc:
                shown["document_id"] = None
                shown["findings"] = 0
                if f["status"] == "duplicate":
                    shown["message"] = "与已有文档内容相同 / same content as a document already in the workspace"
            files.append(shown)
        if not files and not (mine or not self.restricted):
            return None
        counts = {s: sum(1 for f in files if f["status"] == s) for s in ("ok", "duplicate", "failed")}
        return {
            "id": batch["id"],
            "created_at": batch["created_at"],
            "label": batch["label"],
            "overrides": batch["overrides"],
            "files": files,
            "counts": counts,
        }


def _public_document(doc: dict) -> dict:
    """A document as the API shows it: no server path."""
    doc.pop("path", None)
    return doc
