"""Materialization metadata shown in the UI: small frames as markdown tables."""

import polars as pl


def markdown_table(frame: pl.DataFrame) -> str:
    """A small frame as a markdown table, for materialization metadata previews."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * frame.width
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows])
