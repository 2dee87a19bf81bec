"""AppTest of the Data page: tables listed, failed and successful imports, drop with confirmation, SQL tab."""

from __future__ import annotations

import gzip

import pandas as pd

from tests.pages.apptest import new_app

GOOD_CSV = b"id,region,amount\r\n1,EU,10.5\r\n2,US,20\r\n3,EU,7\r\n"


def button(at, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}; buttons: {[b.label for b in at.button]}"
    return matches[0]


def tables(at) -> pd.DataFrame:
    """The Tables tab's list (the first dataframe with an 'owner' column)."""
    return next(d.value for d in at.dataframe if "owner" in d.value.columns)


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def upload(at, name: str, data: bytes):
    at.file_uploader[0].set_value((name, data, "text/csv"))
    at.run()
    assert not at.exception
    return at


def test_page_renders_with_tables(app_env):
    at = new_app("pages/data.py")
    assert not at.exception
    assert at.title[0].value == "Data"
    assert [t.label for t in at.tabs] == ["Import", "Tables", "SQL"]
    listed = tables(at).set_index("table")
    assert listed.loc["events", "owner"] == "sample" and listed.loc["events", "rows"] > 20_000
    assert listed.loc["imported_tables", "rows"] == 0
    assert any("only tables imported here can be dropped" in c.value for c in at.caption)
    assert not [b for b in at.button if b.label == "Drop table"]  # sample tables cannot be dropped


def test_failed_import_lists_errors_and_writes_nothing(app_env):
    at = new_app("pages/data.py")
    before = tables(at)["table"].tolist()
    upload(at, "ragged.csv", b"a,b,c\n1,2,3\n4,5\n")
    assert errors(at)[0].startswith("ragged.csv: no delimiter gives every line the same number of fields")
    assert "ragged.csv, line 3: expected 3 fields (like the header), got 2: '4,5'" in errors(at)[1]
    assert button(at, "Import").disabled
    upload(at, "packed.csv", gzip.compress(GOOD_CSV))
    assert any("gzip-compressed" in e for e in errors(at))
    assert not [b for b in at.button if b.label == "Import"]
    after = tables(at)
    assert after["table"].tolist() == before
    assert after.set_index("table").loc["imported_tables", "rows"] == 0


def test_hostile_table_name_is_shown_before_writing(app_env):
    at = upload(new_app("pages/data.py"), "sales.csv", GOOD_CSV)
    assert at.text_input[0].value == "sales"
    at.text_input[0].input("x; drop table events --").run()
    assert any("may only hold letters" in e for e in errors(at))
    assert button(at, "Import").disabled
    at.text_input[0].input("events").run()
    assert any("Strategy Lab owns" in e for e in errors(at))
    assert "events" in tables(at)["table"].tolist()


def test_successful_import_creates_the_table(app_env):
    at = upload(new_app("pages/data.py"), "Sales 2025.csv", GOOD_CSV)
    assert not errors(at)
    assert any("**Rows** 3" in m.value and "**Delimiter** ','" in m.value for m in at.markdown)
    preview = next(d.value for d in at.dataframe if list(d.value.columns) == ["id", "region", "amount"])
    assert preview["amount"].tolist() == [10.5, 20.0, 7.0]
    assert at.text_input[0].value == "sales_2025"
    button(at, "Import").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [
        "Created table 'sales_2025' from Sales 2025.csv: 3 rows, 3 columns."]
    listed = tables(at).set_index("table")
    assert listed.loc["sales_2025", "rows"] == 3 and listed.loc["sales_2025", "owner"] == "imported"
    assert listed.loc["imported_tables", "rows"] == 1
    assert not at.file_uploader[0].value  # a fresh uploader for the next file

    at.text_area(key="data_sql_text").input("select region, sum(amount) as total from sales_2025 "
                                            "group by region order by region").run()
    at.button(key="data_sql_run").click().run()
    result = at.dataframe[-1].value
    assert result.to_dict("records") == [{"region": "EU", "total": 17.5}, {"region": "US", "total": 20.0}]


def test_pasted_csv_imports(app_env):
    at = new_app("pages/data.py")
    at.text_area(key="data_paste_0").input("name;score\nAnn;3\nBo;4\n").run()
    assert any("**Delimiter** ';'" in m.value for m in at.markdown)
    assert at.text_input[0].value == "pasted"
    button(at, "Import").click().run()
    assert tables(at).set_index("table").loc["pasted", "rows"] == 2


def test_drop_needs_confirmation(app_env):
    at = upload(new_app("pages/data.py"), "tmp.csv", GOOD_CSV)
    button(at, "Import").click().run()
    at.selectbox(key="data_inspect").set_value("tmp").run()
    profile = next(d.value for d in at.dataframe if "distinct" in d.value.columns)
    assert (profile["column"].tolist() == ["id", "region", "amount"]
            and profile["distinct"].tolist() == [3, 2, 3])
    assert button(at, "Drop table").disabled
    at.checkbox(key="data_confirm_drop_tmp").check().run()
    button(at, "Drop table").click().run()
    assert not at.exception
    assert "Dropped table 'tmp'." in [s.value for s in at.success]
    assert "tmp" not in tables(at)["table"].tolist()


def test_sql_tab_refuses_drop_and_runs_examples(app_env):
    at = new_app("pages/data.py")
    at.text_area(key="data_sql_text").input("drop table events").run()
    at.button(key="data_sql_run").click().run()
    assert any("read-only: DROP statements are refused" in e for e in errors(at))
    assert "events" in tables(at)["table"].tolist()
    at.selectbox(key="data_sql_example").set_value("Competitors by price (sample data)").run()
    assert at.text_area(key="data_sql_text").value.startswith("select name, price_per_seat_usd")
    at.button(key="data_sql_run").click().run()
    assert not errors(at)
    frame = at.dataframe[-1].value
    assert frame.columns.tolist() == ["name", "price_per_seat_usd", "capability_score", "funding_usd_m"]
    assert len(frame) == tables(at).set_index("table").loc["competitors", "rows"]
    assert frame["price_per_seat_usd"].is_monotonic_increasing
    assert [b.label for b in at.get("download_button")] == ["Download CSV"]


def test_sql_tab_shows_row_cap_note(app_env):
    at = new_app("pages/data.py")
    at.text_area(key="data_sql_text").input("select * from events").run()
    at.button(key="data_sql_run").click().run()
    assert len(at.dataframe[-1].value) == 1000
    assert any("showing the first 1,000 rows" in c.value for c in at.caption)


def test_sql_tab_shows_odd_types_as_text(app_env):
    at = new_app("pages/data.py")
    at.text_area(key="data_sql_text").input(
        "select 170141183460469231731687303715884105727::hugeint as big, interval 3 day as gap, "
        "[1, 2] as xs, {'a': 1} as s, 'ab'::blob as raw, 12.5::decimal(38, 2) as wide, 7 as n").run()
    at.button(key="data_sql_run").click().run()
    assert not at.exception and not errors(at)
    row = at.dataframe[-1].value.iloc[0].to_dict()
    assert row["big"] == "170141183460469231731687303715884105727" and row["gap"] == "3 days"
    assert row["xs"] == "[1, 2]" and row["wide"] == "12.50" and row["n"] == 7
    assert any("shown as text: big, gap, xs, s, raw, wide" in c.value for c in at.caption)


def test_sql_tab_refuses_a_data_changing_cte(app_env):
    at = new_app("pages/data.py")
    before = tables(at).set_index("table").loc["events", "rows"]
    at.text_area(key="data_sql_text").input("with gone as (delete from events returning *) "
                                            "select count(*) from gone").run()
    at.button(key="data_sql_run").click().run()
    assert not at.exception
    assert any("only reads" in e and "DELETE inside a WITH clause" in e for e in errors(at))
    assert tables(at).set_index("table").loc["events", "rows"] == before
    # the page recovers: the next query runs and the error is gone
    at.text_area(key="data_sql_text").input("select count(*) as n from events").run()
    at.button(key="data_sql_run").click().run()
    assert not errors(at) and at.dataframe[-1].value["n"].tolist() == [before]
