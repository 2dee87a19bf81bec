"""The decision memo: one self-contained HTML file for stakeholders (works offline, no external scripts).

Recommendation in one sentence, the leaderboard, the interactive charts (plotly.js inlined once), the
assumptions with every price's source and date, and the provenance of every figure.
"""

from __future__ import annotations

import html
import math
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from analytics.charts import business as business_charts
from analytics.charts import compare as charts
from analytics.charts.theme import BLUE, FONT_FAMILY, GRID, ORANGE, TEXT
from analytics.compute.business.facts import default_case
from analytics.compute.business.model import BusinessCase
from analytics.compute.business.model import label as input_label
from analytics.compute.compare.leaderboard import CompareSettings, Leaderboard, leaderboard, plus_minus
from analytics.compute.compare.pricing import prices_used
from analytics.compute.compare.recommend import recommend
from analytics.db import Workspace
from analytics.errors import MemoError
from analytics.ingest.prices import price_table
from analytics.money import (
    MISSING,
    format_count,
    format_ms,
    format_number,
    format_percent,
    format_spread,
    format_usd,
)

STYLE = f"""
body {{ font-family: {FONT_FAMILY}; color: {TEXT}; max-width: 1180px;
       margin: 2rem auto; padding: 0 1.5rem; line-height: 1.45; }}
h1 {{ font-size: 1.9rem; margin-bottom: 0.2rem; }}
h2 {{ margin-top: 2.2rem; border-bottom: 1px solid {GRID}; }}
.meta {{ color: #5b6472; }}
.recommendation {{ font-size: 1.25rem; background: #eef4ff; border-left: 6px solid {BLUE};
       padding: 1rem 1.2rem; margin: 1.2rem 0; }}
.flags {{ background: #fff4e5; border-left: 6px solid {ORANGE}; padding: 0.6rem 1.2rem; }}
.note {{ color: #5b6472; font-size: 0.95rem; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.92rem; margin: 0.6rem 0; }}
th, td {{ border-bottom: 1px solid {GRID}; padding: 0.4rem 0.5rem; text-align: left; vertical-align: top; }}
th {{ background: #f6f8fb; }} td.num {{ text-align: right; white-space: nowrap; }}
tr.frontier td:first-child {{ font-weight: 600; }}
.chart {{ margin: 1rem 0 2rem; }}
"""
"""The memo's stylesheet, in the charts' colours and font (analytics.charts.theme)."""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _percent(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING
    return format_percent(number, fixed=True)


def _latency(row: object) -> str:
    p50, spread = float(row.p50_ms), float(row.p50_spread)  # type: ignore[attr-defined]
    if not math.isfinite(p50):
        return "not measured"
    text = format_ms(p50) + (f" {format_spread(plus_minus(spread))}" if math.isfinite(spread) else "")
    return text + (" *" if row.measure_note else "")  # type: ignore[attr-defined]


def leaderboard_html(board: Leaderboard) -> str:
    """The leaderboard as an HTML table (frontier rows in bold), dollars in the board's unit and a month at
    the memo's volume; '*' marks a latency measured while the machine was busy (listed below the table)."""
    requests, unit = board.unit
    months = board.settings.months
    head = (f"<tr><th>candidate</th><th>accuracy (95% CI)</th><th>macro-F1</th><th>p50 latency</th>"
            f"<th>$ {_e(unit)}</th><th>$ a month</th><th>training $</th><th>{months}-month total $</th>"
            f"<th>frontier</th></tr>")
    rows = []
    for r in board.table.itertuples():
        accuracy = f"{_percent(r.accuracy)} ({_percent(r.accuracy_ci_low)}-{_percent(r.accuracy_ci_high)})"
        money = "".join(f"<td class='num'>{format_usd(v)}</td>"
                        for v in (r.cost_per_1k_usd / 1000.0 * requests, r.monthly_usd, r.training_usd,
                                  r.total_usd))
        rows.append(
            f"<tr class='{'frontier' if r.on_frontier else ''}'><td>{_e(r.candidate)}</td>"
            f"<td class='num'>{accuracy}</td><td class='num'>{format_number(r.macro_f1)}</td>"
            f"<td class='num'>{_e(_latency(r))}</td>{money}"
            f"<td>{'yes' if r.on_frontier else ''}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def remeasure_html(board: Leaderboard) -> str:
    """The runs whose latency was measured unreliably, one line each; '' when every measurement holds."""
    if not board.remeasure:
        return ""
    items = "".join(f"<li>{_e(m.candidate)}: {_e(m.reason)}</li>" for m in board.remeasure)
    return ("<p class='note'>* Measured while the machine was busy or unsteady, so its latency and dollars "
            "may read worse than the hardware is (re-measure from the Compare page):</p>"
            f"<ul class='note'>{items}</ul>")


def prices_html(board: Leaderboard, catalog) -> str:
    """Every catalog price behind the memo's dollars with its date ('undated' stated here, once) and
    source."""
    used = prices_used(catalog, board.price_ids)
    if used.empty:
        return "<p>No catalog price used.</p>"
    rows = "".join(f"<tr><td>{_e(price)}</td><td class='num'>{_e(figure)}</td><td>{_e(as_of)}</td>"
                   f"<td>{_e(source)}</td></tr>"
                   for price, figure, as_of, source in zip(used["price"], used["figure"], used["as of"],
                                                           used["source"], strict=True))
    return f"<table><tr><th>price</th><th>figure</th><th>as of</th><th>source</th></tr>{rows}</table>"


def provenance_html(board: Leaderboard) -> str:
    """Where every number comes from: one row per candidate and figure (run, hardware, date, price
    source)."""
    _, unit = board.unit
    rows = []
    for r in board.table.itertuples():
        for label, basis in (("accuracy", r.accuracy_basis), ("latency", r.latency_basis),
                             (f"$ {unit}", r.cost_basis or r.flag or "not computed"),
                             ("training $", r.training_basis or "not computed")):
            rows.append(f"<tr><td>{_e(r.candidate)}</td><td>{_e(label)}</td><td>{_e(basis)}</td></tr>")
    return f"<table><tr><th>candidate</th><th>figure</th><th>source</th></tr>{''.join(rows)}</table>"


def business_html(case: BusinessCase) -> str:
    """The business-case section: unit economics with the recommended model, break-even, the P&L and
    tornado charts, and where every input came from."""
    unit = case.unit
    payback = ("never" if unit.cac_payback_months is None
               else f"{format_number(unit.cac_payback_months)} months")
    even = (f"not within {case.inputs.months} months" if case.break_even_month is None
            else f"month {case.break_even_month}")
    cells = (("Revenue per customer a month", format_usd(unit.revenue_usd)),
             ("Serving per customer a month", format_usd(unit.serving_usd)),
             ("Gross margin", f"{format_usd(unit.gross_margin_usd)} ({_percent(unit.gross_margin_share)})"),
             ("Contribution margin", format_usd(unit.contribution_margin_usd)), ("CAC payback", payback),
             ("LTV / CAC", "–" if unit.ltv_to_cac is None else f"{format_number(unit.ltv_to_cac)}x"),
             ("Break-even (cumulative)", even))
    table = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in cells)
    sources = "".join(f"<tr><td>{_e(input_label(name))}</td><td>{_e(source)}</td></tr>"
                      for name, source in case.sources.items())
    flags = "".join(f"<li>{_e(f)}</li>" for f in case.flags)
    figures = (business_charts.pnl_chart(case), business_charts.tornado_chart(case))
    charts_html = "".join(
        f"<div class='chart'>{fig.to_html(full_html=False, include_plotlyjs=False, div_id=f'business-{i}')}"
        "</div>" for i, fig in enumerate(figures))
    return (f"<h2>Business case</h2><table>{table}</table>"
            + (f'<div class="flags"><ul>{flags}</ul></div>' if flags else "") + charts_html
            + "<h3>Where every input comes from</h3><table><tr><th>input</th><th>source</th></tr>"
            + f"{sources}</table>")


def memo_html(board: Leaderboard, figures: Mapping[str, go.Figure], *, recommendation: str | None = None,
              generated_at: datetime | None = None, catalog=None,
              business: BusinessCase | None = None) -> str:
    """One self-contained HTML document: plotly.js inlined once, every figure interactive, nothing fetched.

    `catalog` is the price table (analytics.ingest.prices.price_table indexed by price_id) for the
    'Prices used' table; without it that table is left out (the assumptions still cite every price).
    """
    when = (generated_at or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    sentence = recommendation or recommend(board)
    settings = board.settings
    charts_html = "".join(
        f"<div class='chart'>{fig.to_html(full_html=False, include_plotlyjs=False, div_id=f'chart-{i}')}"
        "</div>" for i, fig in enumerate(figures.values()))
    flags = "".join(f"<li>{_e(f)}</li>" for f in board.flags)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Decision memo: {_e(settings.dataset)}</title><style>{STYLE}</style>
<script type="text/javascript">{get_plotlyjs()}</script></head>
<body>
<h1>Build or buy: {_e(settings.dataset)}</h1>
<p class="meta">Decision memo generated by Strategy Lab on {when} · {len(board.table)} candidates on one
evaluation set · volume {format_count(settings.requests_per_month)} requests per month ·
horizon {settings.months} months</p>
<p class="recommendation"><strong>Recommendation.</strong> {_e(sentence)}</p>
{f'<div class="flags"><strong>Open issues</strong><ul>{flags}</ul></div>' if flags else ''}
<h2>Leaderboard</h2>{leaderboard_html(board)}{remeasure_html(board)}
<h2>Charts</h2>{charts_html}
{'' if business is None else business_html(business)}
<h2>Assumptions</h2><ul>{''.join(f'<li>{_e(a)}</li>' for a in board.assumptions)}</ul>
{'' if catalog is None else '<h2>Prices used</h2>' + prices_html(board, catalog)}
<h2>Provenance of every figure</h2>{provenance_html(board)}
<p class="meta">Measured figures were timed on the named machine on the date shown; prices are dated catalog
entries (editable in Strategy Lab, edits recorded); estimates state their formula.</p>
</body></html>
"""


def standard_figures(board: Leaderboard) -> dict[str, go.Figure]:
    """The memo's charts: cost-accuracy frontier, latency, total cost against volume."""
    return {"frontier": charts.pareto_chart(board), "latency": charts.latency_chart(board),
            "total": charts.total_cost_chart(board)}


def build_memo(ws: Workspace, settings: CompareSettings,
               extra_figures: Mapping[str, go.Figure] | None = None) -> str:
    """Leaderboard + standard charts (+ any extra, e.g. the cascade the user looked at) as memo HTML."""
    board = leaderboard(ws, settings)
    return memo_html(board, {**standard_figures(board), **(extra_figures or {})},
                     catalog=price_table(ws).set_index("price_id", drop=False),
                     business=default_case(ws, board))


def build_memo_html(board: Leaderboard, catalog=None, business: BusinessCase | None = None) -> str:
    """memo_html with the standard figures for an already computed leaderboard (and the price table for
    its 'Prices used' section, and the business case served by its recommended candidate)."""
    return memo_html(board, standard_figures(board), catalog=catalog, business=business)


def save_memo(text: str, path: Path | str) -> Path:
    """Write the memo atomically (temporary file + rename); returns the path. Raises MemoError."""
    target = Path(path).expanduser()
    if target.suffix.lower() not in (".html", ".htm"):
        raise MemoError(f"save the memo as an .html file, not {target.name!r}")
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as e:
        raise MemoError(f"cannot write the memo to {target}: {e.strerror}; choose a writable folder") from e
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return target


def memo_filename(settings: CompareSettings, when: datetime | None = None) -> str:
    """'decision-memo-banking77-20261123.html'."""
    stamp = (when or datetime.now(timezone.utc)).strftime("%Y%m%d")
    slug = "".join(ch if ch.isalnum() else "-" for ch in settings.dataset.lower()).strip("-")[:40]
    slug = slug or "dataset"
    return f"decision-memo-{slug}-{stamp}.html"

