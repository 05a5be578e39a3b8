"""The `import` collector: CSV, JSONL and XLSX exports with good and bad rows, each file loaded once."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from storage.models import CollectionRun, ImportedFile, Mention

COLUMNS = {"id": "工单号", "text": "投诉内容", "author": "客户", "date": "来电时间", "rating": "满意度"}

HOTLINE_CSV = "\n".join([
    "工单号,来电时间,客户,投诉内容,满意度",
    "H-1001,2026-11-20 09:12,张先生,空调装好第二天就漏水，师傅说下周才能来,1",
    "H-1002,2026-11-20 10:40,李女士,,3",
    'H-1003,2026-11-21 14:05,王先生,"退款申请提交一周了，还是""处理中""",2',
    'H-1004,2026-11-21 15:30,赵女士,"送货晚了三天,还要我自己下楼搬",1,extra',
    "H-1005,not a date,钱先生,配件缺货一个月了,2",
]) + "\n"


def import_source(folder, **extra) -> dict:
    return {"name": "hotline", "kind": "import", "path": str(folder), "columns": COLUMNS, **extra}


def problems(db) -> list[str]:
    with db.session() as s:
        run = s.scalars(select(CollectionRun).order_by(CollectionRun.id.desc())).first()
        return [p["message"] for p in run.problems]


def test_csv_with_bad_rows_loads_the_rest_and_names_the_lines(db, tmp_path, clock, make_config, collect, count):
    (tmp_path / "hotline-2026-11.csv").write_text(HOTLINE_CSV, encoding="utf-8")
    config = make_config([import_source(tmp_path)])
    report = collect(db, config, "hotline", clock.now())
    assert (report.status, report.new, report.failed) == ("partial", 3, 2)
    found = problems(db)
    assert any(m.startswith("hotline-2026-11.csv line 3: no text") for m in found)
    assert any(m.startswith("hotline-2026-11.csv line 5:") and "more cells" in m for m in found)
    assert any(m.startswith("hotline-2026-11.csv line 6: date 'not a date'") for m in found)   # a warning
    with db.session() as s:
        m = s.scalar(select(Mention).where(Mention.external_id == "H-1003"))
        assert m.text == '退款申请提交一周了，还是"处理中"' and m.author == "王先生" and m.rating == 2.0
        assert m.published_at.isoformat() == "2026-11-21T06:05:00+00:00"
        f = s.scalar(select(ImportedFile))
        assert (f.filename, f.rows_ok, f.rows_failed) == ("hotline-2026-11.csv", 3, 2)


def test_each_file_is_loaded_once_even_under_a_new_name(db, tmp_path, clock, make_config, collect, count):
    (tmp_path / "a.csv").write_text(HOTLINE_CSV, encoding="utf-8")
    config = make_config([import_source(tmp_path)])
    collect(db, config, "hotline", clock.now())
    (tmp_path / "copy-of-a.csv").write_text(HOTLINE_CSV, encoding="utf-8")
    again = collect(db, config, "hotline", clock.advance(timedelta(hours=1)))
    assert (again.status, again.new, again.duplicates) == ("not_modified", 0, 0)
    assert count(db, Mention) == 3 and count(db, ImportedFile) == 1


def test_a_cumulative_export_adds_only_its_new_rows(db, tmp_path, clock, make_config, collect, count):
    (tmp_path / "week1.csv").write_text(HOTLINE_CSV, encoding="utf-8")
    config = make_config([import_source(tmp_path)])
    collect(db, config, "hotline", clock.now())
    (tmp_path / "week2.csv").write_text(HOTLINE_CSV + "H-1006,2026-11-22 08:00,孙先生,安装师傅迟到两小时,1\n",
                                        encoding="utf-8")
    report = collect(db, config, "hotline", clock.advance(timedelta(hours=1)))
    assert (report.new, report.duplicates) == (1, 3)
    assert count(db, Mention) == 4 and count(db, ImportedFile) == 2


def test_gbk_csv_from_excel(db, tmp_path, clock, make_config, collect):
    (tmp_path / "export.csv").write_bytes("工单号,投诉内容\nG-1,发票开错了三次还没改好\n".encode("gbk"))
    report = collect(db, make_config([import_source(tmp_path, columns={"id": "工单号", "text": "投诉内容"})]),
                     "hotline", clock.now())
    assert report.new == 1
    with db.session() as s:
        assert s.scalar(select(Mention.text)) == "发票开错了三次还没改好"


def test_jsonl_mailbox_export_with_broken_lines(db, tmp_path, clock, make_config, collect):
    lines = ['{"msg_id": "M1", "from": "a@example.com", "body": "收到的商品是二手的，包装都拆过", "ts": 1795000000}',
             '{"msg_id": "M2", "body": "客服承诺三天回电，一周了没人联系"',
             '["not", "an", "object"]',
             "",
             '{"msg_id": "M3", "from": "c@example.com", "body": "快递员把包裹扔在门口被偷了"}']
    (tmp_path / "mailbox.jsonl").write_text("\n".join(lines), encoding="utf-8")
    columns = {"id": "msg_id", "author": "from", "text": "body", "date": "ts"}
    report = collect(db, make_config([import_source(tmp_path, columns=columns)]), "hotline", clock.now())
    assert (report.new, report.failed) == (2, 2)
    found = problems(db)
    assert any(m.startswith("mailbox.jsonl line 2: not valid JSON") for m in found)
    assert any(m.startswith("mailbox.jsonl line 3: expected a JSON object") for m in found)


def test_xlsx_survey_export(db, tmp_path, clock, make_config, collect, count):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "问卷"
    sheet.append(["编号", "提交时间", "评分", "意见"])
    sheet.append([20001, datetime(2026, 11, 20, 9, 30), 1, "等了四十分钟才上菜，服务员还态度很差"])
    sheet.append([20002, datetime(2026, 11, 20, 9, 45), 5, None])
    sheet.append([None, None, None, None])
    sheet.append([20003, "2026-11-21 12:00", "4.5", "整体不错，但是停车太难"])
    book.save(tmp_path / "survey.xlsx")
    (tmp_path / "~$survey.xlsx").write_bytes(b"Excel lock file, not a workbook")
    columns = {"id": "编号", "date": "提交时间", "rating": "评分", "text": "意见"}
    report = collect(db, make_config([import_source(tmp_path, columns=columns)]), "hotline", clock.now())
    assert (report.new, report.failed) == (2, 1)
    assert any(m.startswith("survey.xlsx line 3: no text") for m in problems(db))
    with db.session() as s:
        m = s.scalar(select(Mention).where(Mention.external_id == "20001"))
        assert m.rating == 1.0 and m.published_at.isoformat() == "2026-11-20T01:30:00+00:00"


@pytest.mark.parametrize("name,content,words", [
    ("bad.xlsx", b"PK\x03\x04 this is not really a zip", "not a readable XLSX"),
    ("wrong-columns.csv", "编号,内容\n1,x\n".encode(), "'投诉内容' (for text)"),
    ("binary.csv", bytes(range(128, 256)) * 4, "not utf-8-sig or gb18030"),
])
def test_unreadable_files_are_reported_and_retried_next_run(db, tmp_path, clock, make_config, collect, count,
                                                            name, content, words):
    (tmp_path / name).write_bytes(content)
    (tmp_path / "good.csv").write_text(HOTLINE_CSV, encoding="utf-8")
    config = make_config([import_source(tmp_path)])
    report = collect(db, config, "hotline", clock.now())
    assert report.new == 3 and any(words in m and "retried next run" in m for m in problems(db))
    assert count(db, ImportedFile) == 1   # only good.csv is recorded
    again = collect(db, config, "hotline", clock.advance(timedelta(hours=1)))
    assert again.status == "partial" and any(words in m for m in problems(db))


def test_missing_folder_is_a_config_error_at_run_time(db, tmp_path, clock, make_config, collect):
    report = collect(db, make_config([import_source(tmp_path / "nope")]), "hotline", clock.now())
    assert report.status == "failed" and "does not exist" in report.error
