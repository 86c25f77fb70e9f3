"""Review of doubtful findings: the analyst's accept / reject, kept across re-runs.

The problem model gives every candidate statement a confidence. Those under its
threshold (but above its floor) are not findings yet: they stay out of search,
common problems and exports, and are listed here for an analyst. A decision is
stored apart from the findings (``review_decisions``), so it survives
re-clustering and ``--rebuild``; an analyst can also reject a finding the model
kept. Search indexes follow at once; common problems on their next update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from miner.pipeline import Workspace
    from miner.records import Finding
    from miner.store import Catalogue


def pending(catalogue: Catalogue, document: str | None = None) -> list[Finding]:
    """Review items nobody has decided on, least doubtful first (the CLI's and the API's list)."""
    items = catalogue.findings(document=document, review=True)
    return sorted(items, key=lambda f: -f.confidence)


def decide(ws: Workspace, finding_id: str, decision: str, who: str = "", note: str = "") -> dict:
    """Accept or reject one finding or review item, then bring the search indexes in step.

    Raises KeyError for an unknown id and ValueError for a decision other than
    ``accepted`` / ``rejected``. The caller holds the workspace's write lock.
    """
    result = ws.catalogue.decide(finding_id, decision, who=who, note=note)
    from miner import indexing

    indexing.index_documents(ws)
    return result
