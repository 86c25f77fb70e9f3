"""Metadata inference from title, 文号, opening lines and signature; overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from miner.ingest import Block, finish
from miner.metadata import apply_overrides, infer_metadata, load_sidecar


def meta_of(lines: list[str]):
    blocks = [Block(lines[0], kind="title")] + [Block(t) for t in lines[1:]]
    return infer_metadata(finish(blocks, 1))


def test_inspection_feedback():
    m = meta_of(
        [
            "市委第二巡察组关于巡察中共江州市交通运输局党组的反馈意见",
            "江巡反〔2023〕6号",
            "根据市委统一部署，市委第二巡察组对中共江州市交通运输局党组进行了常规巡察。",
            "中共江州市委第二巡察组",
            "2023年7月10日",
        ]
    )
    assert (m.issuer_kind, m.year, m.report_kind) == ("inspection", 2023, "巡察反馈意见")
    assert m.issuer == "中共江州市委第二巡察组"
    assert m.units == ["中共江州市交通运输局党组"]
    assert m.doc_number == "江巡反〔2023〕6号"


def test_audit_result_announcement_year_from_signature():
    m = meta_of(
        [
            "江州市水务局2022年度预算执行情况审计结果公告",
            "江州市审计局对江州市水务局2022年度预算执行情况进行了审计。",
            "江州市审计局",
            "2023年8月15日",
        ]
    )
    assert (m.issuer_kind, m.year, m.issuer) == ("audit", 2023, "江州市审计局")
    assert m.units == ["江州市水务局"]


@pytest.mark.parametrize(
    "title,kind",
    [
        ("江州市人大常委会关于2023年度国有资产管理情况综合报告的审议意见", "congress"),
        ("关于检查《中华人民共和国统计法》实施情况的报告", "congress"),
        ("江州市纪委监委通报5起违反中央八项规定精神典型问题", "discipline"),
        ("江州市财政局关于2023年度财会监督专项行动检查情况的通报", "finance"),
        ("江州市统计局关于2023年度统计执法检查情况的通报", "statistics"),
        ("关于某某事项的说明", "other"),
    ],
)
def test_issuer_kind_from_title(title: str, kind: str):
    assert meta_of([title, "正文。"]).issuer_kind == kind


def test_overrides_and_sidecar(tmp_path: Path):
    m = meta_of(["关于某某事项的说明", "正文。"])
    apply_overrides(m, {"issuer_kind": "legal", "year": "2021", "units": "甲局；乙局", "issuer": ""})
    assert (m.issuer_kind, m.year, m.units) == ("legal", 2021, ["甲局", "乙局"])
    with pytest.raises(ValueError):
        apply_overrides(m, {"issuer_kind": "police"})
    (tmp_path / "m.csv").write_text("file,issuer_kind,year\na.pdf,audit,2022\n", encoding="utf-8")
    assert load_sidecar(tmp_path / "m.csv") == {"a.pdf": {"issuer_kind": "audit", "year": "2022"}}
    (tmp_path / "m.json").write_text(json.dumps([{"file": "dir/b.pdf", "issuer": "某局"}]), encoding="utf-8")
    assert load_sidecar(tmp_path / "m.json") == {"b.pdf": {"issuer": "某局"}}


def test_unit_from_salutation_line():
    m = meta_of(["江州市人大常委会关于审计工作报告的审议意见", "江人常办发〔2024〕28号", "市人民政府：", "会议认为……"])
    assert m.units == ["市人民政府"] and m.issuer_kind == "congress"
