"""Randomised access test: many users, every route, nothing out of scope in any response.

A workspace holds small reports of four issuer kinds. Every report names its own
place (two rare characters, found in no other report), issuer and units, so any of
them, its file name or its document id in a response to a user who may not read
that report is a leak. Several users with different scopes (and callers with no or
a wrong token) send thousands of randomised requests over every route the app has
(enumerated from ``app.routes``: a route added without a request generator here
fails the test), with ids and filter values drawn from the whole workspace, inside
and outside their scope. Writers' edits are checked against the rule that an edit
touching anything outside the writer's scope is refused.

Restricted items are mixed in (miner.sharing): a case lead inside one report of each kind
(its unit named after a rare place of its own), a lead document of each kind, and a
finding an analyst restricted; writers restrict and clear more during the run. A user
who may not see one (administrators and users of exactly that one kind may) must not get
its id, text, marker, file name or document in any answer. One unit (翠屏交通局) is found in
reports of several kinds and years, and reports its rectification, so recurrence chains,
rectification records and unit profiles cross kinds. The audit log must then hold exactly
one entry per request of a known user (and per refused unknown token), in order.
"""

from __future__ import annotations

import io
import json
import random
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from api.deps import INVALID_TOKEN, guard
from api.main import create_app
from api.scope import public_cluster_id
from miner import access, sharing
from miner.config import Settings

BASE = "http://127.0.0.1:8000"
N_REQUESTS = 2400
KINDS = ("audit", "congress", "discipline", "inspection")
ISSUER = {"audit": "审计局", "congress": "人大常委会", "discipline": "纪委监委", "inspection": "委巡察组"}
PLACES = [
    "翡溪", "琨山", "瑶塘", "珞川", "璃湾", "琥镇", "玳河", "瑁岭",
    "琉坪", "玑港", "璇谷", "珂原", "瑾洲", "琰坝", "璐桥", "珩屯",
]  # fmt: skip
PROBLEMS = [
    "{p}教育局往来款长期挂账未清理，其他应收款余额{n}万元，部分款项已无法确认债务人。",
    "{p}住建局规避公开招标，将道路改造项目拆分为{n}个合同直接发包。",
    "{p}交通局公务用车管理不严格，存在公车私用现象，涉及车辆{n}台。",
    "{p}卫健委违规发放津贴补贴{n}万元，以值班补助名义向未值班人员发放。",
    "{p}水务局固定资产管理不规范，{n}台设备长期闲置未使用。",
    "{p}民政局“三重一大”事项决策不规范，{n}项大额资金支出未经集体研究。",
]
LEAD_PLACES = {"audit": "璨溪", "congress": "琛山", "discipline": "瑛塘", "inspection": "琪川"}  # lead findings
LEAD_DOC_PLACES = {"audit": "璎湾", "congress": "珏镇", "discipline": "琼坡", "inspection": "瑜峡"}  # lead documents
SHARED_UNIT = "翠屏交通局"  # found by several kinds of body: never a secret
SHARED = SHARED_UNIT + "公务用车管理不严格，存在公车私用现象，涉及车辆{n}台，{y}年仍未整改到位。"
LEAD = "{m}国土局涉嫌违纪问题线索已移交纪委监委。"
RECTIFY = (
    "翠屏交通局关于审计发现问题整改情况的报告\n根据审计整改的有关规定，现将整改情况报告如下。\n"
    "一、整改工作总体情况\n局党组成立整改工作领导小组，逐项落实整改责任。\n二、具体问题的整改情况\n"
    "（一）关于公务用车管理不严格的问题。翠屏交通局已收回违规使用车辆3台，仍有2台尚未收回。\n"
    "三、下一步工作\n继续加强公务用车管理。\n翠屏交通局\n2022年3月20日\n"
)
SCOPES = {  # name: (issuer kinds, may write)
    "admin": (["*"], True),
    "auditor": (["audit", "congress"], False),
    "audit_writer": (["audit"], True),
    "discipline_reader": (["discipline"], False),
    "inspection_writer": (["inspection", "discipline"], True),
}


def report(kind: str, place: str, rng: random.Random, extra: tuple[str, ...] = ()) -> str:
    picks = [t.format(p=place, n=rng.randint(2, 90)) for t in rng.sample(PROBLEMS, 4)] + list(extra)
    items = "\n".join(f"（{'一二三四五六七'[i]}）" + t for i, t in enumerate(picks))
    return (
        f"{place}{ISSUER[kind]}关于{place}有关部门的检查情况通报\n"
        f"根据工作安排，{place}{ISSUER[kind]}于2024年对{place}有关部门开展了检查。\n"
        f"一、发现的主要问题\n{items}\n"
        "二、整改要求\n一要提高认识，二要抓紧整改。\n"
    )


@dataclass
class Doc:
    name: str
    kind: str
    place: str
    body: bytes
    year: int
    title: str = ""
    issuer: str = ""

    def meta(self) -> dict:
        out = {
            "issuer_kind": self.kind,
            "issuer": self.issuer or f"{self.place}{ISSUER[self.kind]}",
            "year": self.year,
            "units": [f"{self.place}教育局"] if self.place else [SHARED_UNIT],
        }
        if self.title:
            out["title"] = self.title
        return out


@dataclass
class World:
    client: TestClient
    app: object
    tokens: dict[str, str]
    docs: list[Doc]
    extra: list[Doc]  # uploaded during the run (some duplicate a report of another kind)
    stats: Counter = field(default_factory=Counter)


def _headers(w: World, user: str) -> dict:
    if user == "anonymous":
        return {}
    if user == "bad_token":
        return {"Authorization": "Bearer not-a-token"}
    return {"Authorization": f"Bearer {w.tokens[user]}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    rng = random.Random(7)
    ws = tmp_path_factory.mktemp("access-ws")
    tokens = {name: access.add_user(ws, name, kinds, can_write=w) for name, (kinds, w) in SCOPES.items()}
    docs = [
        Doc(f"rep-{kind}-{i}.txt", kind, PLACES[j], b"", 2021 + i)
        for j, (kind, i) in enumerate((k, i) for k in KINDS for i in range(3))
    ]
    for d in docs:
        i = int(d.name.rsplit("-", 1)[1].split(".")[0])
        lines = []
        if i == 0:  # a case lead in the first report of each kind
            lines.append(LEAD.format(m=LEAD_PLACES[d.kind]))
        if (d.kind, i) in (("audit", 0), ("inspection", 1), ("discipline", 2)):
            lines.append(SHARED.format(n=rng.randint(2, 9), y=d.year - 1))
        d.body = report(d.kind, d.place, rng, tuple(lines)).encode("utf-8")
    for kind, place in LEAD_DOC_PLACES.items():  # a lead document of each kind
        lead = Doc(f"leads-{kind}.txt", kind, place, b"", 2024, title=f"{place}{ISSUER[kind]}问题线索清单")
        lead.body = report(kind, place, rng).encode("utf-8")
        docs.append(lead)
    rect = Doc("rect-audit.txt", "audit", "", RECTIFY.encode("utf-8"), 2022, issuer=SHARED_UNIT)
    docs.append(rect)
    extra = [
        Doc("new-audit.txt", "audit", PLACES[12], b"", 2024),
        Doc("new-discipline.txt", "discipline", PLACES[13], b"", 2024),
    ]
    for d in extra:
        d.body = report(d.kind, d.place, rng).encode("utf-8")
    # the same bytes as a discipline report, offered by an audit writer under another name
    extra.append(Doc("copy.txt", "audit", "", docs[6].body, 2024))
    app = create_app(ws, Settings(workspace=ws))
    with TestClient(app, base_url=BASE) as c:
        w = World(c, app, tokens, docs, extra)
        for kind in KINDS:  # one batch per kind, so batches have scopes too
            mine = [d for d in docs if d.kind == kind]
            r = c.post(
                "/batches",
                headers=_headers(w, "admin"),
                files=[("files", (d.name, d.body, "text/plain")) for d in mine],
                data={"metadata": json.dumps({"files": {d.name: d.meta() for d in mine}}), "label": "批次"},
            )
            assert r.status_code == 201, r.text
            assert r.json()["counts"]["ok"] == len(mine), r.text
        db = app.state.miner.workspace.catalogue.db
        # an analyst keeps one finding of a congress report with its own body
        fid = next(
            r[0]
            for r in db.execute(
                "SELECT f.id FROM findings f JOIN documents d ON d.id = f.document_id"
                " WHERE d.name = 'rep-congress-1.txt' ORDER BY f.seq"
            )
        )
        r = c.post(
            "/restrictions",
            headers=_headers(w, "admin"),
            json={"target_kind": "finding", "target_id": fid, "reason": "分析员限定"},
        )
        assert r.status_code == 200, r.text
        restricted = sharing.restrictions(app.state.miner.workspace.catalogue)
        texts = {
            r[0]: r[1]
            for r in db.execute(
                'SELECT f.id, substr(d.text, f.start + 1, f."end" - f.start) FROM findings f'
                " JOIN documents d ON d.id = f.document_id"
            )
        }
        for kind, marker in LEAD_PLACES.items():  # the rule found every lead, and its kind owns it
            leads = [f for f, t in texts.items() if marker in t]
            assert leads and all(restricted[f].owner_kind == kind for f in leads), (kind, leads)
        assert {d for d in sharing.restricted_document_ids(app.state.miner.workspace.catalogue)} == {
            r[0] for r in db.execute("SELECT id FROM documents WHERE name LIKE 'leads-%'")
        }
        assert db.execute("SELECT COUNT(*) FROM rectifications").fetchone()[0] >= 1
        yield w


# --------------------------------------------------------------------------- the truth, from the catalogue


@dataclass
class Truth:
    docs: dict[str, dict]  # id -> row
    findings: dict[str, str]  # id -> issuer kind
    members: dict[str, list[str]]  # catalogue cluster id -> finding ids
    batches: dict[str, set[str]]  # batch id -> document ids of its files
    owners: dict[str, str | None]
    secret: bytes
    places: dict[str, str]  # document name -> place
    not_counted: set[str] = field(default_factory=set)  # review items not accepted, rejected findings
    restricted: dict[str, str] = field(default_factory=dict)  # finding id -> owner kind (miner.sharing)
    restricted_docs: set[str] = field(default_factory=set)
    texts: dict[str, str] = field(default_factory=dict)  # finding id -> text
    doc_of: dict[str, str] = field(default_factory=dict)  # finding id -> document id
    records: dict[str, str] = field(default_factory=dict)  # rectification record id -> document id

    def opaque(self) -> dict[str, str]:
        return {public_cluster_id(self.secret, c): c for c in self.members}


def truth(w: World) -> Truth:
    state = w.app.state.miner  # type: ignore[attr-defined]
    db = state.workspace.catalogue.db
    docs = {r["id"]: dict(r) for r in db.execute("SELECT id, name, issuer_kind, issuer, units FROM documents")}
    findings = {
        r[0]: r[1]
        for r in db.execute("SELECT f.id, d.issuer_kind FROM findings f JOIN documents d ON d.id = f.document_id")
    }
    members: dict[str, list[str]] = {}
    for fid, cid in db.execute("SELECT finding_id, cluster_id FROM cluster_members WHERE cluster_id IS NOT NULL"):
        members.setdefault(cid, []).append(fid)
    for (cid,) in db.execute("SELECT id FROM clusters"):
        members.setdefault(cid, [])
    batches: dict[str, set[str]] = {}
    for bid, did in db.execute(
        "SELECT b.id, f.document_id FROM batches b LEFT JOIN batch_files f ON f.batch_id = b.id"
    ):
        batches.setdefault(bid, set())
        if did:
            batches[bid].add(did)
    places = {d.name: d.place for d in w.docs + w.extra if d.place}
    review = {  # review items count once accepted; rejected findings no more
        r[0]
        for r in db.execute(
            "SELECT f.id FROM findings f LEFT JOIN review_decisions r ON r.finding_id = f.id"
            " WHERE (f.status = 'review' AND COALESCE(r.decision, '') != 'accepted') OR r.decision = 'rejected'"
        )
    }
    rows = db.execute(
        'SELECT f.id, f.document_id, substr(d.text, f.start + 1, f."end" - f.start) FROM findings f'
        " JOIN documents d ON d.id = f.document_id"
    ).fetchall()
    return Truth(
        docs,
        findings,
        members,
        batches,
        {b: state.owners.get(b) for b in batches},
        state.secret,
        places,
        review,
        {f: r.owner_kind for f, r in sharing.restrictions(state.workspace.catalogue).items()},
        sharing.restricted_document_ids(state.workspace.catalogue),
        {r[0]: r[2] for r in rows},
        {r[0]: r[1] for r in rows},
        {r[0]: r[1] for r in db.execute("SELECT id, document_id FROM rectifications")},
    )


def may_read(user: str, kind: str) -> bool:
    if user not in SCOPES:
        return False
    kinds = SCOPES[user][0]
    return "*" in kinds or kind in kinds


def _kinds(user: str) -> list[str] | None:
    return None if "*" in SCOPES[user][0] else list(SCOPES[user][0])


def sees_document(t: Truth, user: str, did: str) -> bool:
    kind = t.docs[did]["issuer_kind"]
    return may_read(user, kind) and (did not in t.restricted_docs or sharing.may_see(kind, _kinds(user)))


def sees_finding(t: Truth, user: str, fid: str) -> bool:
    if not may_read(user, t.findings[fid]) or not sees_document(t, user, t.doc_of[fid]):
        return False
    return fid not in t.restricted or sharing.may_see(t.restricted[fid], _kinds(user))


def secrets_for(t: Truth, user: str) -> set[str]:
    """Strings that must not appear in any response to this user."""
    out: set[str] = set()
    for did, d in t.docs.items():
        if user in SCOPES and sees_document(t, user, did):
            continue
        out |= {did, d["name"], d["issuer"], *json.loads(d["units"])}
        if d["name"] in t.places:
            out.add(t.places[d["name"]])
    for fid in t.findings:
        if user not in SCOPES or not sees_finding(t, user, fid):
            out.add(fid)
            text = t.texts[fid]
            out |= {text} | {m for m in LEAD_PLACES.values() if m in text}
    for pid, cid in t.opaque().items():
        if not any(user in SCOPES and sees_finding(t, user, f) for f in t.members[cid]):
            out.add(pid)
    for rid, did in t.records.items():
        if user not in SCOPES or not sees_document(t, user, did):
            out.add(rid)
    full = user in SCOPES and "*" in SCOPES[user][0]
    for bid, dids in t.batches.items():
        readable = any(user in SCOPES and sees_document(t, user, d) for d in dids if d in t.docs)
        if not (full or readable or t.owners.get(bid) == user):
            out.add(bid)
    return {x for x in out if x and SHARED_UNIT not in x}


def response_text(content: bytes) -> str:
    """All text of a response: exports (xlsx, docx) are zip files of XML."""
    if content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return content.decode("utf-8", "replace")


# --------------------------------------------------------------------------- one generator per route


def _pick(rng: random.Random, pool: list[str], junk: str) -> str:
    return rng.choice(pool) if pool and rng.random() < 0.9 else junk


def _filters(rng: random.Random, t: Truth) -> dict:
    p: dict = {}
    if rng.random() < 0.3:
        p["issuer_kind"] = rng.sample([*KINDS, "finance"], rng.randint(1, 2))
    if rng.random() < 0.3:
        p["unit"] = rng.choice([u for d in t.docs.values() for u in json.loads(d["units"])] + ["教育局"])
    if rng.random() < 0.2:
        p["issuer"] = rng.choice([d["issuer"] for d in t.docs.values()] + ["审计局"])
    if rng.random() < 0.2:
        p["year"] = rng.choice(["2021", "2022-2024", "2023"])
    if rng.random() < 0.1:
        p["batch"] = rng.choice(list(t.batches))
    return p


def gen_upload(rng, w: World, t: Truth, user: str):
    d = rng.choice(w.extra + w.docs[:2])
    meta: dict = {"files": {d.name: d.meta()}} if rng.random() < 0.8 else {}
    return (
        "POST",
        "/batches",
        {"files": [("files", (d.name, d.body, "text/plain"))], "data": {"metadata": json.dumps(meta)}},
    )


def _cluster(rng, t: Truth) -> str:
    return _pick(rng, list(t.opaque()), rng.choice(["p-00000000000000000000", "c-nope-001", *list(t.members)[:1]]))


GENERATORS: dict[tuple[str, str], Callable] = {
    ("POST", "/batches"): gen_upload,
    ("GET", "/batches"): lambda rng, w, t, u: ("GET", "/batches", {}),
    ("GET", "/batches/{batch_id}"): lambda rng, w, t, u: (
        "GET",
        f"/batches/{_pick(rng, list(t.batches), 'b-nope')}",
        {},
    ),
    ("GET", "/documents"): lambda rng, w, t, u: ("GET", "/documents", {}),
    ("GET", "/documents/{doc_id}"): lambda rng, w, t, u: (
        "GET",
        f"/documents/{_pick(rng, [*t.docs, *(d['name'] for d in t.docs.values())], 'nope')}",
        {"params": {"text": rng.random() < 0.5}},
    ),
    ("GET", "/findings/{finding_id}"): lambda rng, w, t, u: (
        "GET",
        f"/findings/{_pick(rng, list(t.findings), 'x-001')}",
        {},
    ),
    ("GET", "/findings/{finding_id}/similar"): lambda rng, w, t, u: (
        "GET",
        f"/findings/{_pick(rng, list(t.findings), 'x-001')}/similar",
        {"params": {"k": rng.randint(1, 30), "include_same_document": rng.random() < 0.3}},
    ),
    ("GET", "/review"): lambda rng, w, t, u: ("GET", "/review", {}),
    ("POST", "/review/{finding_id}"): lambda rng, w, t, u: (
        "POST",
        f"/review/{_pick(rng, list(t.findings), 'x-001')}",
        {"json": {"decision": rng.choice(["accepted", "rejected"]), "note": "核实"}},
    ),
    ("GET", "/search"): lambda rng, w, t, u: (
        "GET",
        "/search",
        {
            "params": {
                "q": rng.choice(["往来款长期挂账", "公车私用", "规避招标", "津贴补贴", "设备闲置", *PLACES[:6]]),
                "k": rng.randint(1, 40),
                **_filters(rng, t),
            }
        },
    ),
    ("GET", "/clusters"): lambda rng, w, t, u: (
        "GET",
        "/clusters",
        {"params": {"min_bodies": rng.randint(1, 3), **_filters(rng, t)}},
    ),
    ("GET", "/clusters/-/edits"): lambda rng, w, t, u: ("GET", "/clusters/-/edits", {}),
    ("GET", "/clusters/{cluster_id}"): lambda rng, w, t, u: ("GET", f"/clusters/{_cluster(rng, t)}", {}),
    ("POST", "/clusters/{cluster_id}/rename"): lambda rng, w, t, u: (
        "POST",
        f"/clusters/{_cluster(rng, t)}/rename",
        {"json": {"label": f"分析员命名{rng.randint(1, 99)}", "note": "备注"}},
    ),
    ("POST", "/clusters/{cluster_id}/merge"): lambda rng, w, t, u: (
        "POST",
        f"/clusters/{_cluster(rng, t)}/merge",
        {"json": {"others": [_cluster(rng, t)]}},
    ),
    ("POST", "/clusters/{cluster_id}/split"): lambda rng, w, t, u: _gen_split(rng, t),
    ("POST", "/clusters/move"): lambda rng, w, t, u: (
        "POST",
        "/clusters/move",
        {"json": {"finding_id": _pick(rng, list(t.findings), "x-001"), "target": _cluster(rng, t)}},
    ),
    ("POST", "/clusters/remove/{finding_id}"): lambda rng, w, t, u: (
        "POST",
        f"/clusters/remove/{_pick(rng, list(t.findings), 'x-001')}",
        {},
    ),
    ("GET", "/exports"): lambda rng, w, t, u: (
        "GET",
        "/exports",
        {
            "params": {
                "format": rng.choice(["xlsx", "docx", "md", "json"]),
                "min_bodies": rng.randint(1, 2),
                **_filters(rng, t),
            }
        },
    ),
    ("GET", "/"): lambda rng, w, t, u: ("GET", "/", {}),
    ("GET", "/static/{name}"): lambda rng, w, t, u: (
        "GET",
        f"/static/{rng.choice(['app.js', 'app.css', 'index.html', '..%2Fdeps.py'])}",
        {},
    ),
    ("GET", "/health"): lambda rng, w, t, u: ("GET", "/health", {}),
    ("GET", "/openapi.json"): lambda rng, w, t, u: ("GET", "/openapi.json", {}),
    ("GET", "/docs"): lambda rng, w, t, u: ("GET", "/docs", {}),
    ("GET", "/redoc"): lambda rng, w, t, u: ("GET", "/redoc", {}),
    ("GET", "/docs/assets/{name}"): lambda rng, w, t, u: (
        "GET",
        f"/docs/assets/{rng.choice(['swagger-ui.css', 'swagger-ui-bundle.js', 'index.html', '..%2Fconsts.py'])}",
        {},
    ),
    ("GET", "/favicon.ico"): lambda rng, w, t, u: ("GET", "/favicon.ico", {}),
    ("GET", "/session"): lambda rng, w, t, u: ("GET", "/session", {}),
    ("POST", "/session"): lambda rng, w, t, u: (
        "POST",
        "/session",
        {"json": {"token": rng.choice([*w.tokens.values(), "not-a-token"])} if rng.random() < 0.9 else {}},
    ),
    ("DELETE", "/session"): lambda rng, w, t, u: ("DELETE", "/session", {}),
    ("GET", "/batches/-/jobs/{job_id}"): lambda rng, w, t, u: (
        "GET",
        f"/batches/-/jobs/{rng.choice(['0123456789abcdef', 'nope'])}",
        {},
    ),
    ("GET", "/findings/{finding_id}/source"): lambda rng, w, t, u: (
        "GET",
        f"/findings/{_pick(rng, list(t.findings), 'x-001')}/source",
        {},
    ),
    ("GET", "/findings/{finding_id}/page.png"): lambda rng, w, t, u: (
        "GET",
        f"/findings/{_pick(rng, list(t.findings), 'x-001')}/page.png",
        {},
    ),
    ("GET", "/documents/{doc_id}/file"): lambda rng, w, t, u: (
        "GET",
        f"/documents/{_pick(rng, [*t.docs, *(d['name'] for d in t.docs.values())], 'nope')}/file",
        {},
    ),
    # the supervision workflow
    ("GET", "/units"): lambda rng, w, t, u: ("GET", "/units", {"params": {"min_documents": rng.randint(1, 2)}}),
    ("GET", "/units/{name}"): lambda rng, w, t, u: ("GET", f"/units/{_unit(rng, t)}", {}),
    ("GET", "/units/{name}/export"): lambda rng, w, t, u: (
        "GET",
        f"/units/{_unit(rng, t)}/export",
        {"params": {"format": rng.choice(["md", "json"])}},
    ),
    ("POST", "/units/aliases"): lambda rng, w, t, u: (
        "POST",
        "/units/aliases",
        {"json": {"alias": _unit(rng, t), "canonical": _unit(rng, t), "remove": rng.random() < 0.3}},
    ),
    ("GET", "/recurrence"): lambda rng, w, t, u: (
        "GET",
        "/recurrence",
        {"params": {"all": rng.random() < 0.5, **({"unit": _unit(rng, t)} if rng.random() < 0.4 else {})}},
    ),
    ("GET", "/rectifications"): lambda rng, w, t, u: (
        "GET",
        "/rectifications",
        {"params": {"document": _doc(rng, t)} if rng.random() < 0.4 else {}},
    ),
    ("POST", "/rectifications/{record_id}/link"): lambda rng, w, t, u: (
        "POST",
        f"/rectifications/{_pick(rng, list(t.records), 'r-nope')}/link",
        {"json": {"finding_id": _finding(rng, t) if rng.random() < 0.8 else None}},
    ),
    ("GET", "/status"): lambda rng, w, t, u: (
        "GET",
        "/status",
        {"params": {"status": rng.choice(["未整改", "整改中"])} if rng.random() < 0.3 else {}},
    ),
    ("GET", "/status/overdue"): lambda rng, w, t, u: ("GET", "/status/overdue", {}),
    ("GET", "/status/{finding_id}/history"): lambda rng, w, t, u: ("GET", f"/status/{_finding(rng, t)}/history", {}),
    ("POST", "/status/{finding_id}"): lambda rng, w, t, u: (
        "POST",
        f"/status/{_finding(rng, t)}",
        {"json": {"status": rng.choice(["整改中", "已整改", "已销号"]), "note": "约谈", "date": "2024-05-01"}},
    ),
    ("POST", "/status/{finding_id}/deadline"): lambda rng, w, t, u: (
        "POST",
        f"/status/{_finding(rng, t)}/deadline",
        {"json": {"deadline": rng.choice(["2020-06-30", "2099-06-30"]), "responsible": "责任单位"}},
    ),
    ("GET", "/restrictions"): lambda rng, w, t, u: ("GET", "/restrictions", {}),
    ("POST", "/restrictions"): lambda rng, w, t, u: _gen_restrict(rng, t),
    ("GET", "/audit"): lambda rng, w, t, u: ("GET", "/audit", {"params": {"limit": rng.randint(0, 50)}}),
    ("GET", "/audit/export"): lambda rng, w, t, u: (
        "GET",
        "/audit/export",
        {"params": {"format": rng.choice(["csv", "jsonl"])}},
    ),
}


def _finding(rng, t: Truth) -> str:
    return _pick(rng, list(t.findings), "x-001")


def _doc(rng, t: Truth) -> str:
    return _pick(rng, [*t.docs, *(d["name"] for d in t.docs.values())], "nope.txt")


def _unit(rng, t: Truth) -> str:
    names = [u for d in t.docs.values() for u in json.loads(d["units"])]
    names += [SHARED_UNIT, "交通局", *(f"{m}国土局" for m in LEAD_PLACES.values())]
    return _pick(rng, names, "没有的单位")


def _gen_restrict(rng, t: Truth):
    if rng.random() < 0.7:
        target = {"target_kind": "finding", "target_id": _finding(rng, t)}
    else:
        target = {"target_kind": "document", "target_id": _doc(rng, t)}
    return "POST", "/restrictions", {"json": {**target, "restricted": rng.random() < 0.6, "reason": "分析员"}}


def _gen_split(rng, t: Truth):
    opaque = t.opaque()
    pid = _cluster(rng, t)
    members = t.members.get(opaque.get(pid, ""), []) or list(t.findings)
    fids = rng.sample(members, min(len(members), rng.randint(1, 2)))
    return "POST", f"/clusters/{pid}/split", {"json": {"finding_ids": fids, "label": None}}


def app_routes(app) -> list[tuple[str, str, Callable]]:
    out = []
    for rc in iter_route_contexts(app.routes):
        for method in sorted(rc.methods or []):
            out.append((method, rc.path, rc.endpoint))
    return out


# --------------------------------------------------------------------------- checks


def edit_scope_ok(t: Truth, user: str, method_path: tuple[str, str], url: str, body: dict) -> bool:
    """Whether every finding and common problem the edit touches is in the user's scope."""
    opaque = t.opaque()

    def cluster_ok(pid: str) -> bool:
        cid = opaque.get(pid)
        return cid is not None and bool(t.members[cid]) and all(sees_finding(t, user, f) for f in t.members[cid])

    def finding_ok(fid: str) -> bool:
        if fid not in t.findings or not sees_finding(t, user, fid):
            return False
        home = next((c for c, fs in t.members.items() if fid in fs), None)
        return home is None or cluster_ok(public_cluster_id(t.secret, home))

    parts = url.split("/")
    kind = method_path[1]
    if kind.endswith("/rename"):
        return cluster_ok(parts[2])
    if kind.endswith("/merge"):
        return cluster_ok(parts[2]) and all(cluster_ok(o) for o in body["others"])
    if kind.endswith("/split"):
        return cluster_ok(parts[2]) and all(finding_ok(f) for f in body["finding_ids"])
    if kind == "/clusters/move":
        return finding_ok(body["finding_id"]) and cluster_ok(body["target"])
    if kind.startswith("/clusters/remove"):
        return finding_ok(parts[3])
    raise AssertionError(kind)


def check_counts(t: Truth, user: str, path: str, data: object) -> None:
    if path == "/health" and isinstance(data, dict):
        if user not in SCOPES:
            assert data == {"status": "ok"}, data
        else:
            readable = [d for d in t.docs if sees_document(t, user, d)]
            assert data["documents"] == len(readable), data
            counted = [f for f in t.findings if f not in t.not_counted]
            assert data["findings"] == sum(1 for f in counted if sees_finding(t, user, f)), data
    if path == "/documents" and isinstance(data, list):
        assert len(data) == sum(1 for d in t.docs if sees_document(t, user, d))
    batches = data if path == "/batches" and isinstance(data, list) else [data] if path.startswith("/batches") else []
    for b in batches:
        if isinstance(b, dict) and "files" in b:
            assert b["counts"] == {
                s: sum(1 for f in b["files"] if f["status"] == s) for s in ("ok", "duplicate", "failed")
            }
    if path == "/clusters" and isinstance(data, list):
        for c in data:
            assert c["size"] == len(c["findings"]) == len(c["finding_ids"])
            assert all(sees_finding(t, user, f) for f in c["finding_ids"])
    if path in ("/status", "/status/overdue", "/restrictions") and isinstance(data, list):
        assert all(sees_finding(t, user, x["finding_id"]) for x in data), path
    if path == "/units" and isinstance(data, list):
        names = {t.docs[d]["name"] for d in t.docs if sees_document(t, user, d)}
        assert all(set(u["files"]) <= names for u in data)


def test_routes_all_have_the_guard_and_a_generator(world: World):
    routes = app_routes(world.app)
    assert len(routes) >= 20
    missing = [(m, p) for m, p, _ in routes if (m, p) not in GENERATORS]
    assert not missing, f"routes without a request generator in this test: {missing}"
    for rc in iter_route_contexts(world.app.routes):
        assert any(d.call is guard for d in rc.dependant.dependencies), rc.path


def test_randomised_requests_leak_nothing(world: World):
    rng = random.Random(20261201)
    w = world
    routes = app_routes(w.app)
    users = [*SCOPES, "anonymous", "bad_token"]
    t = truth(w)
    secrets = {u: secrets_for(t, u) for u in users}
    leaks: list[str] = []
    covered: Counter = Counter()
    scoped_edits: Counter = Counter()
    statuses: Counter = Counter()
    state = w.app.state.miner  # type: ignore[attr-defined]
    state.audit.flush()
    db = state.workspace.catalogue.db
    first_seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM audit_log").fetchone()[0]
    expected_log: list[tuple[str, str, str]] = []
    public = {"/", "/static/{name}", "/health", "/session", "/favicon.ico", "/docs/assets/{name}"}
    started = time.perf_counter()
    for i in range(N_REQUESTS):
        method, path, _ = routes[i % len(routes)] if i < len(routes) * 2 else rng.choice(routes)
        user = rng.choice(users)
        m, url, kw = GENERATORS[(method, path)](rng, w, t, user)
        r = w.client.request(m, url, headers=_headers(w, user), **kw)
        w.client.cookies.clear()  # a sign-in (POST /session) must not carry over to the next caller
        covered[(method, path)] += 1
        statuses[r.status_code] += 1
        unrouted = (
            r.status_code == 404
            and r.headers.get("content-type", "").startswith("application/json")
            and r.json().get("error") in ("Not Found", "没有找到 / Not Found")  # Starlette's own: no route
        )
        if not unrouted and user in SCOPES:
            expected_log.append((user, method, path))
        elif not unrouted and user == "bad_token" and path not in public:
            expected_log.append((INVALID_TOKEN, method, path))
        assert r.status_code < 500, (method, url, r.status_code, r.text[:300])
        sent = url + json.dumps(kw, ensure_ascii=False, default=str)
        text = response_text(r.content)
        found = [s for s in secrets[user] if s and s in text and s not in sent]
        if found:
            at = text.find(found[0])
            leaks.append(
                f"{user} {m} {url} -> {r.status_code}: {sorted(found)[:5]} in …{text[max(0, at - 120) : at + 40]}…"
            )
        if r.status_code == 200 and r.headers.get("content-type", "").startswith("application/json"):
            check_counts(t, user, path, r.json())
        if user in ("anonymous", "bad_token") and path not in public:
            assert r.status_code in (401, 422), (m, url, r.status_code)
        if m == "POST" and path.startswith("/clusters") and user in SCOPES and SCOPES[user][1]:
            allowed = edit_scope_ok(t, user, (method, path), url, kw.get("json") or {})
            if r.status_code == 200:
                assert allowed, f"{user} edited outside scope: {url} {kw}"
            scoped_edits["accepted" if r.status_code == 200 else "refused"] += 1
        if m == "POST" and r.status_code in (200, 201):
            t = truth(w)
            secrets = {u: secrets_for(t, u) for u in users}
    elapsed = time.perf_counter() - started
    state.audit.flush()
    logged = [
        (r[0], json.loads(r[1])["method"], json.loads(r[1])["route"])
        for r in db.execute("SELECT who, detail FROM audit_log WHERE seq > ? ORDER BY seq", (first_seq,))
    ]
    w.stats.update({"requests": N_REQUESTS, "routes": len(covered), "leaks": len(leaks)})
    print(
        f"\naudit log: {len(logged)} entries for {len(expected_log)} requests of known users or unknown tokens"
        f"\n{N_REQUESTS} requests over {len(covered)} routes in {elapsed:.1f}s; leaks {len(leaks)};"
        f" writers' edits accepted/refused {scoped_edits['accepted']}/{scoped_edits['refused']};"
        f" statuses {dict(sorted(statuses.items()))}"
    )
    assert not leaks, "\n".join(leaks[:20])
    assert logged == expected_log, "the audit log holds one entry per request, in order"
    assert set(covered) == {(m, p) for m, p, _ in routes}
    assert scoped_edits["accepted"] > 0 and scoped_edits["refused"] > 0


def test_scoped_writer_cannot_edit_a_mixed_problem(world: World):
    w = world
    t = truth(w)
    admin = _headers(w, "admin")
    mixed = [
        pid
        for pid, cid in t.opaque().items()
        if {t.findings[f] for f in t.members[cid]} & {"audit"} and {t.findings[f] for f in t.members[cid]} - {"audit"}
    ]
    assert mixed, "the reports share problems across kinds"
    r = w.client.post(f"/clusters/{mixed[0]}/rename", json={"label": "越权命名"}, headers=_headers(w, "audit_writer"))
    assert r.status_code == 404 and mixed[0] not in r.text.replace(f"/clusters/{mixed[0]}", "")
    assert w.client.get(f"/clusters/{mixed[0]}", headers=admin).json()["label"] != "越权命名"
    # the auditor sees the problem, named from what the auditor may read, under the same opaque id
    seen = w.client.get(f"/clusters/{mixed[0]}", headers=_headers(w, "audit_writer")).json()
    assert {f["issuer_kind"] for f in seen["findings"]} == {"audit"}
