"""Finding shapes and the text that is not a finding."""

from __future__ import annotations

from pathlib import Path

from miner.findings import FindingExtractor, extract_findings, is_problem
from miner.ingest import Block, finish, read_document


def _doc(text: str):
    blocks = []
    for line in text.strip().splitlines():
        line = line.strip()
        if "\t" in line:
            blocks.append(Block(line, 1, "row", line.split("\t")))
        elif line:
            blocks.append(Block(line))
    return finish(blocks, 1)


def findings_of(text: str) -> list[str]:
    doc = _doc(text)
    return [doc.text[s.start : s.end] for s in extract_findings(doc)]


def shapes_of(text: str) -> list[str]:
    """The statements the rules cut out and their cues call problems (before the model's word)."""
    return [c.text for c in FindingExtractor().candidates(_doc(text)) if c.rule_ok and c.alt != "part"]


def findings_and_review_of(text: str) -> list[str]:
    """Findings plus the doubtful statements listed for review, in reading order."""
    doc = _doc(text)
    return [doc.text[s.start : s.end] for s in extract_findings(doc, with_review=True)]


def test_numbered_items_at_every_level():
    got = findings_of(
        """
        关于某局的巡察反馈意见
        一、巡察发现的主要问题
        （一）财务管理方面
        1.暂付款长期挂账未清理。截至2022年末，局本级暂付款余额860万元。
        2.违规发放津贴补贴。局机关向不符合条件的人员发放补贴12万元。
        （1）公务用车管理不严，存在公车私用现象。
        ①合同管理不规范，部分合同未经法律审核。
        """
    )
    assert got == [
        "暂付款长期挂账未清理。截至2022年末，局本级暂付款余额860万元",
        "违规发放津贴补贴。局机关向不符合条件的人员发放补贴12万元",
        "公务用车管理不严，存在公车私用现象",
        "合同管理不规范，部分合同未经法律审核",
    ]


def test_category_headline_over_independent_sentences_is_dropped():
    got = findings_and_review_of(
        """
        二、存在的主要问题
        （一）统计基础工作依然薄弱。抽查的50家企业中，有12家统计台账不健全，数据无据可查。乡镇统计力量不足，统计人员普遍身兼数职。
        """
    )
    assert got == ["抽查的50家企业中，有12家统计台账不健全，数据无据可查", "乡镇统计力量不足，统计人员普遍身兼数职"]


def test_inline_runs_yi_shi_er_shi():
    got = findings_and_review_of(
        """
        会议指出，还存在一些问题：一是部分部门暂收暂付款余额过大，长期挂账不清理；二是一些单位化整为零规避公开招标；三是专项资金下达后未及时使用。
        """
    )
    assert got == [
        "部分部门暂收暂付款余额过大，长期挂账不清理",
        "一些单位化整为零规避公开招标",
        "专项资金下达后未及时使用",
    ]


def test_semicolon_list_under_unit_heading_inherits_unit():
    blocks = [
        Block("区委巡察反馈问题公布", kind="title"),
        Block("一、县卫生监督所"),
        Block("暂收暂付款长期未清理；违规向职工发放节日慰问金；公务用车使用登记不完整。"),
        Block("二、县市场监督管理局"),
        Block("罚没收入未及时缴入国库。"),
    ]
    doc = finish(blocks, 1)
    spans = extract_findings(doc)
    assert [doc.text[s.start : s.end] for s in spans] == [
        "暂收暂付款长期未清理",
        "违规向职工发放节日慰问金",
        "公务用车使用登记不完整",
        "罚没收入未及时缴入国库",
    ]
    assert [s.unit for s in spans] == ["县卫生监督所"] * 3 + ["县市场监督管理局"]


def test_problem_table_one_row_one_finding():
    got = findings_of(
        """
        二、发现的主要问题
        问题类型\t问题描述\t金额（万元）
        往来款项\t5个部门暂收暂付款长期挂账未清理\t2380.00
        政府采购\t3个部门拆分采购项目规避公开招标\t415.60
        """
    )
    assert got == ["5个部门暂收暂付款长期挂账未清理", "3个部门拆分采购项目规避公开招标"]


def test_restated_problems_in_rectification_report_are_not_new_findings():
    text = """
        二、巡察反馈问题的整改落实情况
        1.关于“局属学校采购教学设备化整为零，规避政府采购”的问题。整改情况：实行教学设备年度集中采购。
        2.关于3个部门所属单位超范围发放津贴补贴58.20万元的问题。已追回违规发放资金51.60万元。
        """
    assert findings_of(text) == []
    restated = [c.text for c in FindingExtractor().restated(_doc(text))]
    assert restated == ["局属学校采购教学设备化整为零，规避政府采购", "3个部门所属单位超范围发放津贴补贴58.20万元"]


def test_narrative_problem_sentences_with_lead_phrases():
    got = findings_of(
        """
        在财政收支管理方面，城关镇将摊位租金收入28.40万元直接用于日常开支，未缴入县财政，存在坐支行为。镇本级暂付款余额986万元，长期挂账，无人催收。
        此外，镇财务审批制度执行不严，大额资金支付未严格履行“双签”程序。
        """
    )
    assert got == [
        "城关镇将摊位租金收入28.40万元直接用于日常开支，未缴入县财政，存在坐支行为",
        "镇本级暂付款余额986万元，长期挂账，无人催收",
        "镇财务审批制度执行不严，大额资金支付未严格履行“双签”程序",
    ]


def test_discipline_case_keeps_facts_drops_punishment():
    got = findings_of(
        """
        1.某镇党委委员钱某某公车私用问题。2023年2月至4月，钱某某多次驾驶公务用车办理私事。钱某某受到党内警告处分，相关费用已退赔。
        """
    )
    assert got == ["某镇党委委员钱某某公车私用问题。2023年2月至4月，钱某某多次驾驶公务用车办理私事"]


def test_non_findings_background_achievements_recommendations_signature():
    got = findings_of(
        """
        某市审计局关于某局预算执行情况的审计结果公告
        根据审计法的规定，市审计局对某局2023年度预算执行情况进行了审计。
        审计结果表明，该局预算执行情况总体较好，取得了明显成效。
        一、审计发现的主要问题
        （一）暂付款长期挂账未清理。
        二、审计建议
        （一）加强往来款管理，抓紧清理暂付款项，防止资金闲置。
        三、整改情况
        该局已清理暂付款320万元，其余问题正在整改中。
        为此，会议提出如下意见：
        一要严格执行政府采购制度，杜绝规避招标。
        联系电话：0591-1234567
        某市审计局
        2024年6月12日
        """
    )
    assert got == ["暂付款长期挂账未清理"]


def test_finding_offsets_and_page_refer_to_normalised_text(tmp_path: Path):
    from conftest import AUDIT_PAGES, AUDIT_TITLE, make_pdf

    pdf = make_pdf(tmp_path / "a.pdf", AUDIT_PAGES, title=AUDIT_TITLE)
    doc = read_document(pdf)
    spans = extract_findings(doc)
    texts = [doc.text[s.start : s.end] for s in spans]
    assert texts[0].startswith("暂收暂付款长期挂账未清理。截至2023年底")
    assert any(t == "水质检测设备长期闲置未使用" for t in texts)
    pages = {doc.text[s.start : s.end][:6]: s.page for s in spans}
    assert pages["暂收暂付款长"] == 1 and pages["违规发放津贴"] == 2
    assert not any("建议" in t or "抓紧清理" in t for t in texts)


def test_is_problem_cues():
    assert is_problem("公务接待费报销无接待清单和公函")
    assert not is_problem("加强往来款管理，抓紧清理暂付款项")
    assert not is_problem("审计结果表明，预算执行情况总体较好")
    assert not is_problem("同时，巡察也发现了一些问题")


def test_colon_lead_in_and_also_found_phrases_are_not_part_of_findings():
    got = findings_and_review_of(
        """
        巡察组指出，该局党组在落实管党治党责任方面存在不足：学习贯彻不够深入，研究部署不够；对下属单位监督乏力。
        审计还发现，部分单位存在违规使用公务卡套现等问题，涉及金额56万元。
        """
    )
    assert got == [
        "学习贯彻不够深入，研究部署不够",
        "对下属单位监督乏力",
        "部分单位存在违规使用公务卡套现等问题，涉及金额56万元",
    ]


def test_table_with_unit_column_and_rectification_column():
    text = (
        "二、审计发现的主要问题\n序号\t被审计单位\t问题\t金额（万元）\t整改情况\n"
        "1\t市水务局\t暂付款长期挂账未清理\t860\t已清理320万元"
    )
    blocks = [Block(x, 1, "row", x.split("\t")) if "\t" in x else Block(x) for x in text.splitlines()]
    doc = finish(blocks, 1)
    spans = extract_findings(doc)
    assert [(doc.text[s.start : s.end], s.unit) for s in spans] == [("暂付款长期挂账未清理", "市水务局")]


def test_rate_headline_with_detail_and_rectification_dropped():
    got = findings_of(
        """
        1.项目支出预算执行率低。2023年该局项目支出预算执行率为58%。
        2.结余资金未及时上缴。截至2023年底，236万元未按规定交回财政。审计指出后，该局已上缴结余资金236万元。
        """
    )
    assert got == [
        "项目支出预算执行率低。2023年该局项目支出预算执行率为58%",
        "结余资金未及时上缴。截至2023年底，236万元未按规定交回财政",
    ]


def test_problem_model_ranks_problems_above_the_text_around_them():
    """The learned model, not a cue list, decides: every non-problem here has problem words."""
    doc = _doc(
        """
        关于某区财政局的审计结果公告
        根据审计法的规定，区审计局对区财政局预算执行情况进行了审计，发现了一些问题。
        审计结果表明，区财政局预算执行总体较好，取得了明显成效。
        （一）暂付款长期挂账未清理，截至2023年底余额达3,200万元。
        （二）部分单位违规发放津贴补贴，涉及金额45万元。
        审计建议：加强往来款管理，抓紧清理暂付款项，严禁违规发放津贴补贴。
        区财政局已对上述问题进行整改，追回违规发放资金45万元。
        """
    )
    scored = {doc.text[s.start : s.end]: s.confidence for s in FindingExtractor(floor=0.0).scored(doc)}
    problems = [v for k, v in scored.items() if k.startswith(("暂付款", "部分单位违规"))]
    others = [v for k, v in scored.items() if not k.startswith(("暂付款", "部分单位违规"))]
    assert len(problems) == 2 and others
    assert min(problems) > max(others)
    assert findings_of(doc.text) == [
        "暂付款长期挂账未清理，截至2023年底余额达3,200万元",
        "部分单位违规发放津贴补贴，涉及金额45万元",
    ]


def test_under_read_documents_are_flagged():
    from miner.findings import under_read

    announced = _doc("关于某局的审计报告\n（一）违规发放津贴补贴，涉及金额45万元。\n其他问题详见附表。")
    assert "附表" in under_read(announced, extract_findings(announced, with_review=True))
    plain = _doc("关于某局的审计报告\n（一）违规发放津贴补贴，涉及金额45万元。")
    assert under_read(plain, extract_findings(plain, with_review=True)) == ""
    empty = _doc("关于某局的工作总结\n今年以来，我局各项工作取得明显成效。")
    assert "未识别出问题" in under_read(empty, extract_findings(empty, with_review=True))


def test_unit_named_in_the_statement():
    from miner.findings import unit_in_text

    assert unit_in_text("市城市管理局将占道停车收费1,268万元坐支用于委托管理服务费") == "市城市管理局"
    assert unit_in_text("市教育体育局所属2所学校应撤销未撤销的账户6个") == "市教育体育局"
    assert unit_in_text("部分单位违规发放津贴补贴，涉及金额45万元") == ""
    assert unit_in_text("市某局原副局长王某某违规收受礼品") == ""
    assert unit_in_text("借给原旅游开发公司的筹建款820万元挂账已超过6年") == ""


def test_a_short_item_of_a_problem_list_is_a_finding_and_a_recommendation_list_is_not():
    got = findings_of(
        """
        镇党委会同有关部门召开反馈会议
        会议指出，镇党委较好地完成了年度重点任务。但也发现了一些问题，主要有：一是落实基层减负要求不够到位，督查检查考核事项偏多；二是干部队伍建设还有差距；三是村级财务管理不够规范，报销凭证审核把关不严。
        为此，会议提出：一是提高政治站位，全面认领反馈问题；二是健全工作机制，加强日常监督；三是严格财务制度，规范村级报销流程。
        """
    )
    assert got == [
        "落实基层减负要求不够到位，督查检查考核事项偏多",
        "干部队伍建设还有差距",
        "村级财务管理不够规范，报销凭证审核把关不严",
    ]


def test_the_announcement_before_a_list_of_有的_is_not_part_of_its_first_item():
    doc = _doc(
        "反馈指出，各单位总体工作有序。但检查也发现了一些问题和不足，有的预算执行进度偏慢，资金闲置；"
        "有的政府采购程序不规范；有的固定资产长期未入账。"
    )
    starts = [c.text for c in FindingExtractor().candidates(doc) if c.source == "clause"]
    assert starts[0].startswith("有的预算执行进度偏慢") and len(starts) == 3
