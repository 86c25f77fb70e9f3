"""Shared fixtures: reports written on the fly as PDF, .docx and .txt; the backends of a run.

PDFs are set with fpdf2 in the WenQuanYi Zen Hei font (Debian fonts-wqy-zenhei,
installed by .ci/run), with a running header, a page-number footer, paragraphs
with a two-character indent and ruled tables: the layout of real reports.

Backends: ``MINER_TEST_BACKENDS=postgres,chroma`` (or ``--backends postgres,chroma``) runs the
whole suite with the catalogue in a throwaway PostgreSQL and the vectors on a throwaway chroma
server (tests/backends.py), started before collection and stopped at the end; the URLs go into
the environment (``MINER_DATABASE_URL``, ``MINER_CHROMA_URL``), so CLI subprocesses use them
too. Each workspace a test makes has its own schema and its own collection.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

_STOP: list = []  # how to stop the servers this run started


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends",
        default=None,
        help="run against servers started for the session: postgres, chroma or both (comma-separated); "
        "default: MINER_TEST_BACKENDS, else SQLite and embedded chroma in each workspace",
    )


def pytest_configure(config: pytest.Config) -> None:
    from tests import backends

    names = backends.requested(config.getoption("--backends", default=None))
    starters = {
        "postgres": ("MINER_DATABASE_URL", backends.start_postgres),
        "chroma": ("MINER_CHROMA_URL", backends.start_chroma),
    }
    for name in names:
        variable, start = starters[name]
        url, stop = start()
        _STOP.append(stop)
        os.environ[variable] = url
    if names:
        from miner.config import get_settings

        get_settings.cache_clear()
        config.stash[_BACKENDS] = names


def pytest_report_header(config: pytest.Config) -> str:
    names = config.stash.get(_BACKENDS, [])
    return "miner backends: " + (", ".join(names) if names else "sqlite + embedded chroma (default)")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _STOP:
        from miner import db

        db.dispose_engines()
    while _STOP:
        _STOP.pop()()


_BACKENDS = pytest.StashKey[list]()

FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
]


def cjk_font() -> str:
    for f in FONT_CANDIDATES:
        if Path(f).exists():
            return f
    pytest.fail("no CJK font found: install fonts-wqy-zenhei (apt), as .ci/run does")


def make_pdf(
    path: Path,
    pages: list[list],
    *,
    header: str = "江州市审计局",
    footer: str = "— {n} —",
    title: str | None = None,
    encrypt: str | None = None,
) -> Path:
    """Write a report PDF. Each page is a list of paragraphs (str) or tables (list of rows).

    Text that does not fit flows onto the next page, under the same running header
    and footer, as in a real report.
    """
    from fpdf import FPDF

    class Report(FPDF):
        def header(self) -> None:
            self.set_font("cjk", size=9)
            self.set_xy(28, 12)
            self.cell(0, 5, header, align="C")
            self.line(28, 18, 184, 18)
            self.set_xy(28, 30)

        def footer(self) -> None:
            self.set_font("cjk", size=9)
            self.set_xy(28, 280)
            self.cell(0, 5, footer.format(n=self.page_no(), total="{nb}"), align="C")

    pdf = Report(format="A4")
    pdf.alias_nb_pages("{nb}")
    pdf.add_font("cjk", fname=cjk_font())
    pdf.set_margins(28, 30, 26)
    pdf.set_auto_page_break(True, margin=25)
    for n, items in enumerate(pages, start=1):
        pdf.add_page()
        if title and n == 1:
            pdf.set_font("cjk", size=20)
            pdf.multi_cell(0, 11, title, align="C", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        pdf.set_font("cjk", size=13)
        for item in items:
            if isinstance(item, str):
                pdf.multi_cell(0, 8, "\u3000\u3000" + item, align="L", new_x="LMARGIN", new_y="NEXT")
            else:
                with pdf.table(col_widths=[30, 100, 26], line_height=7, first_row_as_headings=False) as table:
                    for row in item:
                        r = table.row()
                        for cell in row:
                            r.cell(cell)
                pdf.ln(2)
    if encrypt:
        pdf.set_encryption(owner_password="owner", user_password=encrypt)
    pdf.output(str(path))
    return path


def make_docx(path: Path, paragraphs: list, title: str = "") -> Path:
    import docx

    d = docx.Document()
    if title:
        d.add_paragraph(title)
    for p in paragraphs:
        if isinstance(p, str):
            d.add_paragraph(p)
        else:
            t = d.add_table(rows=len(p), cols=len(p[0]))
            for i, row in enumerate(p):
                for j, cell in enumerate(row):
                    t.cell(i, j).text = cell
    d.save(str(path))
    return path


AUDIT_TITLE = "江州市水务局2023年度预算执行情况审计结果公告"
AUDIT_PAGES = [
    [
        "根据《中华人民共和国审计法》的规定，江州市审计局于2024年3月至5月对江州市水务局2023年度预算执行情况进行了审计。",
        "一、审计发现的主要问题",
        "（一）暂收暂付款长期挂账未清理。截至2023年底，局本级暂付款余额1260.50万元，其中账龄3年以上的684.20万元，"
        "部分款项已无法确认债务人，存在资金损失风险，需要尽快组织力量逐笔核实清理并报批核销。",
        "（二）规避公开招标。所属水利工程管理处将河道清淤项目拆分为5个合同，单个合同金额均低于公开招标限额，"
        "直接委托2家企业实施，合同总金额486.00万元。",
    ],
    [
        "（三）违规发放津贴补贴。2023年局机关以“防汛值班补助”名义向未参加防汛值班的人员发放补贴12.80万元。",
        [
            ["问题类型", "问题描述", "金额（万元）"],
            ["资产管理", "水质检测设备长期闲置未使用", "86.00"],
            ["银行账户", "应撤销的银行账户未及时撤销", "—"],
        ],
        "二、审计建议",
        "（一）加强往来款管理，抓紧清理暂付款项。",
        "江州市审计局",
        "2024年6月12日",
    ],
]


@pytest.fixture
def audit_pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "audit.pdf", AUDIT_PAGES, title=AUDIT_TITLE, footer="第 {n} 页 共 {total} 页")
