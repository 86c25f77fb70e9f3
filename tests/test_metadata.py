"""Metadata inference from title, 文号, opening lines and signature; overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from miner.ingest import Block, finish
from miner.metadata import apply_overrides, infer_metadata, load_sidecar, normalise_issuer


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


# --- issuer, year and kind from the places official documents and news items name them ---
# All sentences below are fictional (江州市, 云溪县, 东山区 are made up).


def test_masthead_office_is_not_the_issuer_when_the_title_and_signature_name_the_group():
    m = meta_of(
        [
            "中共江州市委巡察工作领导小组办公室",
            "江巡办〔2023〕9号",
            "市委第四巡察组关于对江州港务集团有限公司党委开展巡察的反馈意见",
            "江州港务集团有限公司党委：",
            "根据市委统一部署，市委第四巡察组对集团党委开展了常规巡察。",
            "中共江州市委第四巡察组",
            "2023年6月2日",
            "抄送：市纪委监委，市委组织部。",
            "江州市委巡察工作领导小组办公室2023年6月5日印发",
        ]
    )
    assert (m.issuer, m.year, m.issuer_kind) == ("中共江州市委第四巡察组", 2023, "inspection")


def test_audit_work_report_speaker_line_names_the_issuer():
    m = meta_of(
        [
            "关于江州市2023年度市级预算执行和其他财政收支的审计工作报告",
            "——2024年8月27日在江州市第九届人民代表大会常务委员会第十次会议上",
            "江州市审计局局长 林某某",
            "主任、各位副主任、秘书长、各位委员：",
            "我受市人民政府委托，向市人大常委会报告2023年度市级预算执行的审计情况，请予审议。",
        ]
    )
    assert (m.issuer, m.year, m.issuer_kind) == ("江州市审计局", 2024, "audit")


def test_opening_sentence_names_the_auditor_and_the_county_completes_it():
    m = meta_of(
        [
            "关于云溪县2023年度县级预算执行和其他财政收支的审计工作报告",
            "——2024年8月29日在云溪县第八届人民代表大会常务委员会第二十次会议上",
            "主任、各位副主任、各位委员：",
            "我受县人民政府委托，向县人大常委会报告2023年度县级预算执行的审计情况。",
            "县审计局审计了县财政局组织县级预算执行情况，以及县级18个部门预算执行情况。",
        ]
    )
    assert (m.issuer, m.issuer_kind) == ("云溪县审计局", "audit")


def test_entrusted_auditor_in_the_opening_sentence():
    m = meta_of(
        [
            "江州市2022年度市级预算执行审计查出问题整改情况",
            "受市人民政府委托，市审计局对2022年度审计查出问题的整改情况进行了跟踪检查，现报告如下。",
            "江州市各部门高度重视整改工作。",
        ]
    )
    assert m.issuer == "江州市审计局"


def test_news_title_with_abbreviated_group_publication_date_and_city_from_source_line():
    m = meta_of(
        [
            "市委第三巡察组向市文化局党组反馈巡察情况",
            "发布时间：2023-09-14 16:02 来源：江州市纪委监委",
            "9月12日，市委第三巡察组向市文化局党组反馈巡察情况。巡察组指出了存在的问题。",
        ]
    )
    assert (m.issuer, m.year, m.issuer_kind) == ("中共江州市委第三巡察组", 2023, "inspection")


def test_news_lead_without_a_title_names_the_reporting_body():
    m = meta_of(
        [
            "9月9日，江州市纪委监委通报了近期查处的5起违反中央八项规定精神问题。",
            "一、市某局原副局长王某某违规接受宴请问题。2022年，王某某多次接受管理服务对象宴请。",
        ]
    )
    assert (m.issuer, m.year, m.issuer_kind) == ("中共江州市纪委监委", 2022, "discipline")


def test_joint_discipline_signature_is_one_organ():
    m = meta_of(
        [
            "市纪委监委通报4起群众身边不正之风典型问题",
            "近日，市纪委监委对4起典型问题进行了通报。",
            "中共江州市纪律检查委员会 江州市监察委员会",
            "2024年5月21日",
        ]
    )
    assert (m.issuer, m.year, m.issuer_kind) == ("中共江州市纪委监委", 2024, "discipline")


def test_rectification_notice_is_issued_by_the_rectifying_party_group():
    m = meta_of(
        [
            "中共江州市东山区民政局党组关于区委巡察集中整改进展情况的通报",
            "根据区委统一部署，区委第二巡察组对区民政局党组进行了巡察。",
            "中共江州市东山区民政局党组",
            "2023年5月8日",
        ]
    )
    assert (m.issuer, m.issuer_kind) == ("中共江州市东山区民政局党组", "inspection")


def test_district_issuer_gets_the_city_and_kind_follows_the_issuing_body():
    m = meta_of(
        [
            "关于对区政府部门审计整改工作满意度测评情况的报告",
            "江州市东山区人大常委会：",
            "根据常委会工作要点，对区民政局等4个部门落实审计整改工作情况进行了满意度测评。",
            "区人大常委会预算工作委员会",
            "2024年6月27日",
        ]
    )
    assert (m.issuer, m.issuer_kind) == ("江州市东山区人大常委会预算工作委员会", "congress")


def test_meta_line_publisher_and_doc_number_year():
    m = meta_of(
        [
            "江州市东山区审计局",
            "发布机构：江州市东山区审计局 生成日期：2024-01-08",
            "东山区教育局2022年度预算执行情况审计结果",
            "东审公告〔2023〕5号",
            "区审计局于2023年5月至6月对区教育局2022年度预算执行情况进行了审计。",
        ]
    )
    assert (m.issuer, m.year) == ("江州市东山区审计局", 2023)
    assert m.doc_number == "东审公告〔2023〕5号"


def test_reposted_news_keeps_the_original_title_issuer():
    m = meta_of(
        [
            "统计局通报3起统计违法案件",
            "（原标题：江州市统计局关于3起典型统计违法案件的通报）",
            "近年来，江州市统计局持续加大对统计造假的惩治力度，2024年查处了一批案件。",
        ]
    )
    assert (m.issuer, m.issuer_kind, m.year) == ("江州市统计局", "statistics", 2024)


def test_verbs_before_a_city_organ_are_not_place_names():
    m = meta_of(
        [
            "市委第一巡察组进驻市委办公室开展巡察",
            "11月23日上午，市委第一巡察组进驻市委办公室，根据市委部署开展为期两个月的巡察。",
            "江州市委巡察工作领导小组办公室发布。江州市各单位要积极配合。",
        ]
    )
    assert m.issuer == "中共江州市委第一巡察组"


@pytest.mark.parametrize(
    "raw,canonical",
    [
        ("中共江州市纪律检查委员会　江州市监察委员会", "中共江州市纪委监委"),
        ("中共江州市纪委江州市监委", "中共江州市纪委监委"),
        ("江州市人民代表大会常务委员会", "江州市人大常委会"),
        ("江州市审计局", "江州市审计局"),
    ],
)
def test_normalise_issuer(raw: str, canonical: str):
    assert normalise_issuer(raw) == canonical


def test_undated_fiscal_year_audit_is_dated_the_year_after():
    m = meta_of(
        [
            "江州市水务局2022年度预算执行情况审计结果",
            "市审计局对江州市水务局2022年度预算执行情况进行了审计。",
            "审计发现的主要问题：暂付款长期挂账。",
        ]
    )
    assert (m.year, m.issuer) == (2023, "江州市审计局")


def test_news_item_found_through_the_body_that_released_it():
    m = meta_of(
        [
            "涉农资金审计发现多项问题",
            "记者从江州市审计局获悉，2023年审计发现部分乡镇惠农补贴发放审核不严。",
        ]
    )
    assert (m.issuer, m.issuer_kind, m.year) == ("江州市审计局", "audit", 2023)


def test_web_page_footer_is_not_the_signature():
    m = meta_of(
        [
            "关于2024年度会计信息质量检查情况的通报",
            "各有关单位：",
            "市财政局对12户单位2023年度会计信息质量进行了检查，现将有关情况通报如下。",
            "江州市财政局",
            "2024年10月30日",
            "（来源：江州市财政局）",
            "江州市人民政府办公室主办",
            "网站标识码：3300000001 ICP备12345678号",
        ]
    )
    assert (m.issuer, m.year, m.issuer_kind) == ("江州市财政局", 2024, "finance")


def test_browser_print_stamp_does_not_date_the_report():
    m = meta_of(
        [
            "市统计局通报统计执法检查情况",
            "发布日期：2023-12-06 来源：江州市统计局",
            "2023年，市统计局对全市60家调查对象开展了统计执法检查，发现部分企业统计台账不规范。",
            "各单位要加强统计基础工作。",
            "2025/3/18 14:22 https://tjj.jiangzhou.example/art/2023/12/6/art_1.html",
        ]
    )
    assert (m.year, m.issuer, m.issuer_kind) == (2023, "江州市统计局", "statistics")


def test_kind_from_the_words_of_the_body_when_title_and_opening_say_nothing():
    m = meta_of(
        [
            "关于有关情况的说明",
            "近期工作总体平稳。",
            "一、审计发现，部分单位暂付款长期挂账。",
            "二、审计指出的问题整改不到位，屡审屡犯。",
        ]
    )
    assert m.issuer_kind == "audit"


def test_title_led_by_the_body_and_a_colon():
    m = meta_of(["江州市审计局：部分乡镇惠农补贴发放审核不严", "审计发现，3个乡镇多发补贴7.4万元。"])
    assert (m.issuer, m.issuer_kind) == ("江州市审计局", "audit")


def test_person_before_the_group_is_not_part_of_its_name():
    m = meta_of(
        [
            "巡察反馈会召开",
            "6月1日，巡察组组长赵某某代表县委第一巡察组反馈了巡察情况。云溪县农业农村局党组书记主持会议。",
            "云溪县委巡察办有关负责同志出席会议。",
        ]
    )
    assert m.issuer == "中共云溪县委第一巡察组"
