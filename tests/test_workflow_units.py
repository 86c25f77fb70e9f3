"""Unit names as entities: Party bodies, company forms, city prefixes, abbreviations, analyst aliases."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_reports import build_workspace

from miner import units
from miner.units import UnitIndex, canonical, is_abbreviation


def test_party_body_and_company_form_name_the_unit():
    assert canonical("中共江州交通投资集团有限公司委员会") == "江州交通投资集团"
    assert canonical("江州市文化旅游局党组") == "文化旅游局"
    assert canonical("市文化旅游局") == "文化旅游局"
    assert canonical("中共江州市文化旅游局党组") == "文化旅游局"


def test_relative_names_take_the_report_context():
    assert canonical("县教育局党组", region="青石县") == "青石县教育局"
    assert canonical("集团公司党委", company="江州交通投资集团") == "江州交通投资集团"
    # a county's unit is not the city's
    assert canonical("青石县教育局") != canonical("江州市教育局")


def test_words_that_only_look_like_prefixes_stay():
    assert canonical("市场监管局") == "市场监管局"
    assert canonical("县市场监管局", region="青石县") == "青石县市场监管局"


def test_not_a_unit():
    assert canonical("全县2022年度涉农资金统筹整合使用情况") == ""
    assert canonical("我局2020年度预算执行情况") == ""


def test_abbreviation():
    assert is_abbreviation("江州交投集团", "江州交通投资集团")
    assert is_abbreviation("文旅局", "文化旅游局")
    assert not is_abbreviation("教育局", "青石县教育局")  # another first character: not the same unit
    assert not is_abbreviation("交投公司", "江州交通投资集团")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = build_workspace(tmp_path_factory.mktemp("units"))
    yield w
    w.close()


def test_one_entity_across_reports(ws):
    ix = UnitIndex(ws.catalogue)
    e = ix.find("文旅局")
    assert e is not None and e.name == "文化旅游局"
    docs = {ws.catalogue.document(d)["name"] for d in e.documents}
    assert docs == {"a2021.txt", "r2022.txt", "i2023.txt"}  # the rectifying unit reports on itself


def test_analyst_alias_merges_and_names(ws, tmp_path: Path):
    units.set_alias(ws.catalogue, "江州文旅", "江州市文化和旅游局")
    try:
        ix = UnitIndex(ws.catalogue)
        e = ix.find("江州文旅")
        assert e is not None
        assert e.name == "江州市文化和旅游局"
    finally:
        assert units.remove_alias(ws.catalogue, "江州文旅")
    assert UnitIndex(ws.catalogue).find("文旅局").name == "文化旅游局"


def test_analyst_keeps_an_auto_merged_name_apart(ws):
    ws.catalogue.db.execute(
        "UPDATE documents SET units=? WHERE name='i2023.txt'", ('["江州市文旅局"]',)
    )  # an abbreviation the rule merges with 文化旅游局
    ws.catalogue.db.commit()
    assert UnitIndex(ws.catalogue).find("文旅局").name == "文化旅游局"
    units.set_alias(ws.catalogue, "文旅局", "文旅局")  # the analyst: another unit
    try:
        ix = UnitIndex(ws.catalogue)
        assert ix.entity_of("文旅局").name == "文旅局"
        assert ix.entity_of("江州市文化旅游局").name == "文化旅游局"
    finally:
        units.remove_alias(ws.catalogue, "文旅局")
