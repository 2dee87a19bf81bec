"""Chart builders for the Roadmap page: a Gantt of the stages (today's line, the critical path,
milestones) and a risk matrix (likelihood x impact), in the app's one theme (analytics.charts.theme)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from analytics.charts.theme import BLUE, GREEN, ORANGE, RED, TEMPLATE, TEXT
from analytics.compute.roadmap.plan import Plan
from analytics.money import format_count, format_usd

CRITICAL, OTHER, MILESTONE, TODAY = ORANGE, BLUE, TEXT, RED
"""Gantt colours: stages on the critical path, the other stages, milestone markers, today's line."""
SCORE_SCALE = ((0.0, "#e3f4e9"), (0.35, "#fff1c7"), (0.65, "#ffd3a8"), (1.0, "#f6b3ad"))
"""Background of the risk matrix by score (1 pale green ... 25 pale red): the risks on top stay readable."""
DONE_OPACITY = 0.45
"""Stages that ended before today are drawn paler (hover says 'done')."""
_DAY_MS = 86_400_000


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, title=title, height=360)
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 18})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def gantt_chart(stages: pd.DataFrame, plan: Plan, today: date) -> go.Figure:
    """One bar per stage from its start to the end of its last day (stages: schedule.stage_table), orange
    when on the critical path; milestones as diamonds on their stage's row; a dashed line on `today`."""
    title = "Stages over time"
    if stages.empty:
        return _empty(title, "No stages yet: add one below")
    fig = go.Figure()
    for critical, name, colour in ((True, "critical path", CRITICAL), (False, "other stages", OTHER)):
        part = stages[stages["critical"] == critical]
        if part.empty:
            continue
        hover = [f"<b>{r.stage}</b><br>{r.start_date} to {r.end_date} ({format_count(r.days)} days)<br>"
                 f"owner: {r.owner or 'not set'}<br>budget: {format_usd(r.budget_usd)}<br>{r.status}"
                 for r in part.itertuples()]
        fig.add_trace(go.Bar(
            y=part["stage"], base=[_ts(d) for d in part["start_date"]],
            x=[int(d) * _DAY_MS for d in part["days"]], orientation="h", name=name,
            marker={"color": colour,
                    "opacity": [DONE_OPACITY if s == "done" else 0.95 for s in part["status"]]},
            hovertext=hover, hoverinfo="text"))
    _add_milestones(fig, plan)
    _add_today(fig, today)
    order = list(stages.sort_values(["position", "stage_id"])["stage"])
    fig.update_layout(template=TEMPLATE, title=title, height=max(380, 170 + 52 * len(stages)),
                      barmode="overlay", margin={"l": 20, "r": 20, "t": 80, "b": 20},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.08, "x": 0})
    fig.update_yaxes(categoryorder="array", categoryarray=order, autorange="reversed", title_text=None)
    fig.update_xaxes(type="date", title_text=None, tickformat="%b %Y")
    return fig


def _ts(day: date) -> str:
    return datetime.combine(day, datetime.min.time()).isoformat()


def _add_milestones(fig: go.Figure, plan: Plan) -> None:
    dated = [m for m in plan.milestones if m.due_date is not None and m.stage_id in plan.names]
    if not dated:
        return
    fig.add_trace(go.Scatter(
        x=[_ts(m.due_date + timedelta(hours=12)) for m in dated], y=[plan.names[m.stage_id] for m in dated],
        mode="markers", name="milestone",
        marker={"symbol": "diamond", "size": 16, "color": MILESTONE, "line": {"color": "white", "width": 2}},
        hovertext=[f"<b>{m.name}</b><br>due {m.due_date} ({plan.names[m.stage_id]})" for m in dated],
        hoverinfo="text"))


def _add_today(fig: go.Figure, today: date) -> None:
    x = _ts(today)
    fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, xref="x", yref="paper",
                  line={"color": TODAY, "width": 3, "dash": "dash"})
    fig.add_annotation(x=x, y=1.0, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                       text=f"today {today}", font={"color": TODAY})


def risk_matrix_chart(risks: pd.DataFrame) -> go.Figure:
    """The 5 x 5 likelihood x impact grid, each cell shaded by its score, each risk a numbered dot in its cell
    coloured by score (risks: roadmap_risks rows with a 'stage' name column)."""
    title = "Risk matrix"
    if risks.empty:
        return _empty(title, "No risks yet: add one below")
    fig = go.Figure(go.Heatmap(
        x=list(range(1, 6)), y=list(range(1, 6)), z=[[lk * im for im in range(1, 6)] for lk in range(1, 6)],
        colorscale=[list(p) for p in SCORE_SCALE], zmin=1, zmax=25, showscale=False, hoverinfo="skip",
        xgap=3, ygap=3))
    placed = _spread(risks)
    fig.add_trace(go.Scatter(
        x=placed["x"], y=placed["y"], mode="markers+text", text=[str(i) for i in placed["risk_id"]],
        textfont={"color": "white", "size": 14}, name="risk", showlegend=False,
        marker={"size": 30, "color": [_score_colour(s) for s in placed["score"]],
                "line": {"color": "white", "width": 2}},
        hovertext=[f"<b>{r.risk_id}. {r.title}</b><br>stage: {r.stage}<br>likelihood {r.likelihood} x impact "
                   f"{r.impact} = score {r.score}<br>mitigation: {r.mitigation or 'none yet'}"
                   for r in placed.itertuples()], hoverinfo="text"))
    fig.update_layout(template=TEMPLATE, title=title, height=520, margin={"l": 20, "r": 20, "t": 70, "b": 20})
    fig.update_xaxes(title_text="impact (1 minor, 5 severe)",
                     tickvals=list(range(1, 6)), range=[0.5, 5.5], showgrid=False, zeroline=False)
    fig.update_yaxes(title_text="likelihood (1 rare, 5 almost certain)", tickvals=list(range(1, 6)),
                     range=[0.5, 5.5], showgrid=False, zeroline=False)
    return fig


def _spread(risks: pd.DataFrame) -> pd.DataFrame:
    """Risks in the same cell side by side (up to 3 a row), so no dot hides another."""
    rows = []
    for (lk, im), group in risks.groupby(["likelihood", "impact"], sort=False):
        n = len(group)
        for k, r in enumerate(group.itertuples()):
            col, row = k % 3, k // 3
            per_row = min(3, n - row * 3)
            rows.append({**r._asdict(), "x": im + (col - (per_row - 1) / 2) * 0.28,
                         "y": lk + (row - (n - 1) // 3 / 2) * 0.28})
    return pd.DataFrame(rows)


def _score_colour(score: int) -> str:
    """Dots: green up to 6, orange up to 12, red above (the usual low / medium / high bands)."""
    return GREEN if score <= 6 else ORANGE if score <= 12 else RED

