"""Three fictional reports about one unit across three years, written for these tests.

江州市文化旅游局 is audited in 2021, reports its rectification in 2022 and is inspected
in 2023, when two of the audited problems are found again.
"""

from __future__ import annotations

from pathlib import Path

AUDIT_2021 = """江州市文化旅游局2020年度预算执行情况审计结果
江州市审计局
2021年5月至7月，市审计局对江州市文化旅游局2020年度预算执行情况进行了审计。
一、审计发现的主要问题
（一）暂付款长期挂账未清理，借给原旅游开发公司的筹建款820万元挂账已超过6年。
（二）市体育馆2018年竣工后未投入使用，场馆和设备长期闲置。
（三）所属市艺术剧院自定“排练补助”办法，向行政人员违规发放补助18.5万元。
二、审计建议
加强往来款管理，盘活闲置资产，规范津贴补贴发放。
江州市审计局
2021年8月10日
"""

RECTIFY_2022 = """江州市文化旅游局关于2020年度预算执行审计发现问题整改情况的公告
根据审计整改结果公告的有关规定，现将整改情况公告如下。
一、整改工作总体情况
局党组成立整改工作领导小组，对审计指出的3个问题逐项落实责任。
二、具体问题的整改情况
（一）关于暂付款长期挂账的问题。我局已收回原旅游开发公司筹建款等770万元。仍有暂付款50万元，因借款单位已停业，尚未收回。
（二）关于违规发放补助的问题。市艺术剧院已废止“排练补助”办法，违规发放的18.5万元已全部清退。
三、下一步工作
我局将继续加大往来款清理力度，巩固整改成果。
江州市文化旅游局
2022年3月20日
"""

INSPECTION_2023 = """市委第二巡察组关于巡察江州市文化旅游局党组的反馈意见
江州市委巡察工作领导小组办公室
2023年4月至6月，市委第二巡察组对市文化旅游局党组进行了常规巡察。
一、巡察发现的主要问题
（一）往来款清理不力，2021年审计指出的暂付款截至2023年6月仍有50万元未收回。
（二）违规发放补贴问题反弹，所属市艺术剧院又以“演出津贴”名义向行政人员发放补贴9.6万元。
（三）所属单位党支部“三会一课”记录雷同，组织生活不规范。
（四）局机关公务用车管理不严，有公车私用现象。
二、巡察整改意见
一要严格财经纪律；二要加强基层党组织建设。
市委第二巡察组
2023年7月5日
"""

SIDECAR = {
    "a2021.txt": {"issuer_kind": "audit", "issuer": "江州市审计局", "year": 2021},
    "r2022.txt": {"issuer_kind": "audit", "issuer": "江州市文化旅游局", "year": 2022},
    "i2023.txt": {"issuer_kind": "inspection", "issuer": "江州市委第二巡察组", "year": 2023},
}


def write_reports(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in (("a2021.txt", AUDIT_2021), ("r2022.txt", RECTIFY_2022), ("i2023.txt", INSPECTION_2023)):
        p = folder / name
        p.write_text(text, encoding="utf-8")
        out.append(p)
    return out


def build_workspace(root: Path):
    """Ingest the three reports into a fresh workspace and cluster them."""
    from miner import problems
    from miner.pipeline import Workspace, ingest

    ws = Workspace(root / "ws")
    ingest(ws, write_reports(root / "in"), sidecar=SIDECAR)
    problems.update(ws)
    return ws
