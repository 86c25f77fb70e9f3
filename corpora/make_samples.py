"""Render two of the sample reports as PDF and .docx, the formats analysts receive.

    python corpora/make_samples.py      # needs fpdf2 and a CJK font (fonts-wqy-zenhei)

The texts are fictional, written for this repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from conftest import make_docx, make_pdf  # noqa: E402

PDF_TITLE = "江州市教育局2023年度预算执行情况审计结果公告"
PDF_PAGES = [
    [
        "根据《中华人民共和国审计法》的规定，江州市审计局于2024年4月至6月对江州市教育局2023年度预算执行情况进行了审计。",
        "一、审计发现的主要问题",
        "（一）其他应收款长期挂账。截至2023年底，局本级其他应收款余额926.30万元，其中账龄5年以上的418.00万元，"
        "主要为以前年度借给所属学校的周转资金，一直未清理收回。",
        "（二）学校采购化整为零。3所中学将同一批次课桌椅采购拆分为6个项目，单个项目金额均低于政府采购限额标准，"
        "规避了政府采购程序，涉及金额268.40万元。",
        "（三）校舍闲置。2所撤并学校的校舍合计1.20万平方米闲置2年以上，未及时调剂使用或处置。",
    ],
    [
        "（四）违规发放补贴。2所学校以“课后服务补助”名义向未参与课后服务的行政人员发放补贴9.60万元。",
        "二、审计处理及整改情况",
        "对上述问题，市审计局已依法出具审计报告。市教育局已清理其他应收款210万元，收回违规发放的补贴，其余问题正在整改中。",
        "江州市审计局",
        "2024年7月18日",
    ],
]
DOCX_TITLE = "江州市纪委监委关于专项监督检查发现问题的通报"
DOCX_BODY = [
    "江纪通〔2024〕5号",
    "近日，市纪委监委对市直部门财经纪律执行情况开展了专项监督检查。现将发现的主要问题通报如下：",
    [
        ["序号", "被检查单位", "问题描述"],
        ["1", "市住房和城乡建设局", "暂付款长期挂账未清理，部分款项已无法查清往来单位"],
        ["2", "市文化广电和旅游局", "公务用车使用登记不完整，存在公车私用现象"],
        ["3", "市水务局", "违规向职工发放节日慰问品，资金从公用经费中列支"],
    ],
    "各单位要引以为戒，立行立改，于2024年12月31日前将整改情况报送市纪委监委。",
    "江州市纪委监委",
    "2024年11月5日",
]


def main() -> None:
    make_pdf(
        HERE / "samples" / "s07_audit_jiangzhou_education.pdf",
        PDF_PAGES,
        title=PDF_TITLE,
        header="江州市审计局",
        footer="第 {n} 页 共 {total} 页",
    )
    make_docx(HERE / "samples" / "s08_discipline_jiangzhou.docx", DOCX_BODY, title=DOCX_TITLE)


if __name__ == "__main__":
    main()
