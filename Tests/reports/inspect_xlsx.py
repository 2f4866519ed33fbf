"""Reads an xlsx with openpyxl and prints what WorkbookTests asserts, as JSON:
{"sheets": [names in order], "sheet": {name: {"freeze", "filter", "max_row", "max_column",
"charts": [{"tag", "grouping", "series": [names]}], "heights": {"ROW": points},
"cells": {"A1": {"v", "t", "fill", "font", "wrap"}}}}}.
Usage: python inspect_xlsx.py FILE.xlsx"""
import json
import sys

import openpyxl


def color(c):
    if c is None or c.type != "rgb":
        return None
    return c.rgb


def series_name(s):
    tx = s.tx
    if tx is None:
        return None
    if tx.v is not None:
        return tx.v
    if tx.strRef is not None:
        return tx.strRef.f
    return None


book = openpyxl.load_workbook(sys.argv[1])
out = {"sheets": book.sheetnames, "sheet": {}}
for ws in book.worksheets:
    cells = {}
    for row in ws.iter_rows():
        for c in row:
            if c.value is None:
                continue
            fill = color(c.fill.fgColor) if c.fill is not None and c.fill.fill_type == "solid" else None
            cells[c.coordinate] = {"v": c.value, "t": c.data_type, "fill": fill, "font": color(c.font.color) if c.font.color else None,
                                 "wrap": bool(c.alignment.wrap_text)}
    charts = []
    for ch in ws._charts:
        charts.append({"tag": ch.tagname, "grouping": getattr(ch, "grouping", None),
                       "series": [series_name(s) for s in ch.series]})
    out["sheet"][ws.title] = {
        "freeze": ws.freeze_panes,
        "filter": ws.auto_filter.ref,
        "max_row": ws.max_row,
        "max_column": ws.max_column,
        "charts": charts,
        "heights": {str(r): d.ht for r, d in ws.row_dimensions.items() if d.ht is not None},
        "cells": cells,
    }
json.dump(out, sys.stdout, ensure_ascii=False, default=str)
