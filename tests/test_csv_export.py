"""The office's CSV files open in a spreadsheet as written: Chinese intact, no formula run."""

from __future__ import annotations

import csv
import io

from kiosk.tables import csv_bytes


def test_cells_a_spreadsheet_would_run_stay_text_and_chinese_survives_excel() -> None:
    data = csv_bytes(
        ["书名", "Code"],
        [
            ['=HYPERLINK("http://x","click")', "+1"],
            ["@SUM(A1)", "-2"],
            ["红楼梦", None],
            ['a, b "quoted"', 3],
        ],
    )
    assert data.startswith("\ufeff".encode())  # Excel on a Chinese PC reads UTF-8 by its mark
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        ["书名", "Code"],
        ['\'=HYPERLINK("http://x","click")', "'+1"],
        ["'@SUM(A1)", "'-2"],
        ["红楼梦", ""],
        ['a, b "quoted"', "3"],
    ]
