"""What the workspace knows that a business case needs, each figure with where it was read.

- customers: the Market page's SOM (accounts behind it, bottom-up with the assumptions given) or typed;
- price per seat and seats per account: the newest complete billing month's invoices over `plans`;
- requests per customer per month: that month's sessions per paying account (one model request per session
  unless the user says otherwise);
- monthly churn: the Metrics page's logo churn, mean of the last three complete months (or the churn model's
  expected churn, when the page passes it);
- serving $ per request: a Compare candidate's measured $ per 1k requests (`serving_options`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date

import pandas as pd

from analytics.compute.business.model import EXAMPLE_COSTS, BusinessCase, BusinessInputs, business_case
from analytics.compute.compare.leaderboard import CompareSettings, Leaderboard, leaderboard
from analytics.compute.compare.recommend import recommended
from analytics.compute.market.sizing import MarketAssumptions, bottom_up
from analytics.compute.metrics.report import revenue
from analytics.compute.metrics.schema import MetricFilters
from analytics.db import Workspace
from analytics.money import format_count, format_usd

log = logging.getLogger(__name__)

CHURN_MONTHS = 3
"""Complete months the Metrics logo churn is averaged over."""


@dataclass(frozen=True)
class Fact:
    """One figure read from the workspace, with where it came from."""

    value: float | None
    """The figure (None: the workspace cannot say; the page asks for a number)."""
    source: str
    """Where it was read: table, month, run or price row."""


@dataclass(frozen=True)
class WorkspaceFacts:
    """The business-case inputs the workspace can supply."""

    month: date | None
    """The billing month the revenue figures come from (newest complete month with invoices)."""
    paying_accounts: Fact
    """Accounts with an invoice in `month`."""
    price_per_seat_usd: Fact
    """Seat-weighted price per seat of the plan mix that month."""
    seats_per_account: Fact
    """Mean seats per paying account (invoice amount / plan price per seat)."""
    requests_per_customer: Fact
    """Sessions per paying account that month (one model request per session)."""
    monthly_churn: Fact
    """Logo churn: mean of the last CHURN_MONTHS complete months (Metrics page, revenue tab)."""
    som_customers: Fact
    """Accounts behind the bottom-up SOM with default Market assumptions (Market page)."""


def billing_month(ws: Workspace) -> date | None:
    """The newest month with invoices whose last day the events reach (a month still running would
    undercount), or None without invoices."""
    months = ws.query("business_months")
    last = ws.scalar("select max(event_time)::date from events")
    for month in months["month"]:
        first = pd.Timestamp(month).date()
        end = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
        if last is not None and end <= last:
            return first
    return None


def workspace_facts(ws: Workspace, assumptions: MarketAssumptions | None = None) -> WorkspaceFacts:
    """Every figure the workspace can supply to the business case, each with its source."""
    month = billing_month(ws)
    if month is None:
        missing = Fact(None, "no complete billing month in events: type a number")
        return WorkspaceFacts(
            None, missing, missing, missing, missing, _churn(ws, None), _som(ws, assumptions)
        )
    row = ws.query("business_facts", month=month).iloc[0]
    label = month.strftime("%B %Y")
    paying = int(row["paying_accounts"] or 0)
    where = f"events: the invoices of {format_count(paying)} paying accounts in {label}, over plans"
    return WorkspaceFacts(
        month=month,
        paying_accounts=Fact(float(paying), f"events: accounts invoiced in {label}"),
        price_per_seat_usd=Fact(_finite(row["price_per_seat_usd"]), f"{where} (seat-weighted plan mix)"),
        seats_per_account=Fact(_finite(row["seats_per_account"]), f"{where} (invoice / price per seat)"),
        requests_per_customer=Fact(
            _finite(row["sessions_per_account"]),
            f"events: sessions per paying account in {label}, one request each",
        ),
        monthly_churn=_churn(ws, month),
        som_customers=_som(ws, assumptions),
    )


def _churn(ws: Workspace, month: date | None) -> Fact:
    if month is None:
        return Fact(None, "no complete billing month: type a churn rate")
    start = (pd.Timestamp(month) - pd.DateOffset(months=CHURN_MONTHS)).date()
    end = (pd.Timestamp(month) + pd.offsets.MonthEnd(0)).date()
    frame = revenue(ws, MetricFilters(start=start, end=end))
    rates = [float(v) for v in frame["logo_churn"].tail(CHURN_MONTHS) if _finite(v) is not None]
    if not rates:
        return Fact(None, "Metrics: no logo churn measured in the last months: type a churn rate")
    first = (pd.Timestamp(month) - pd.DateOffset(months=len(rates) - 1)).strftime("%b")
    return Fact(sum(rates) / len(rates), f"Metrics: logo churn, mean of {first}-{month.strftime('%b %Y')}")


def _som(ws: Workspace, assumptions: MarketAssumptions | None) -> Fact:
    segments = ws.sql("select * from market_segments")
    if segments.empty:
        return Fact(None, "no market segments in the workspace: type a customer count")
    chosen = assumptions or MarketAssumptions()
    result = bottom_up(segments, chosen)
    which = "your Market assumptions" if assumptions is not None else "default Market assumptions"
    return Fact(
        float(result.customers), f"Market: bottom-up SOM ({format_usd(result.som_usd)} a year) with {which}"
    )


@dataclass(frozen=True)
class ServingCost:
    """The $ per request of one priced Compare candidate, with its provenance."""

    usd_per_request: float
    """Measured $ per request at the volume asked for."""
    candidate: str
    """The candidate's name as Compare shows it."""
    key: str
    """Its leaderboard key (run:<id>, api:<id>...)."""
    source: str
    """How Compare priced it (cost basis and price source)."""
    recommended: bool = False
    """Whether it is Compare's recommendation at this volume."""


def serving_options(ws: Workspace, dataset: str, requests_per_month: float) -> tuple[ServingCost, ...]:
    """Every priced Compare candidate of `dataset` at this volume, in the leaderboard's order (frontier
    first); empty when nothing on the set is priced."""
    board = leaderboard(ws, CompareSettings(dataset=dataset, requests_per_month=max(requests_per_month, 1.0)))
    return board_options(board)


def board_options(board: Leaderboard) -> tuple[ServingCost, ...]:
    """The priced rows of an already computed leaderboard as serving costs, the recommended one marked."""
    best = recommended(board)
    chosen = best["key"] if best is not None else None
    dataset = board.settings.dataset
    options = []
    for row in board.priced.to_dict("records"):
        price = row.get("price_source")
        source = f"Compare, {dataset}: {row['candidate']} ({row.get('cost_basis') or ''}"
        source += f"; priced by {price})" if isinstance(price, str) and price else ")"
        options.append(ServingCost(float(row["cost_per_1k_usd"]) / 1000.0, str(row["candidate"]),
                                   str(row["key"]), source, row["key"] == chosen))
    return tuple(options)


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def default_case(ws: Workspace, board: Leaderboard) -> BusinessCase | None:
    """The business case the Business case page starts with, served by the recommended candidate of `board`
    (Compare's leaderboard): customers = the Market SOM, price, seats, requests and churn from the
    workspace, the costs it cannot know at EXAMPLE_COSTS (labelled as examples). None when the workspace
    cannot supply the price, seats, requests or churn, or the board has nothing priced."""
    facts = workspace_facts(ws)
    best = next((option for option in board_options(board) if option.recommended), None)
    needed = (facts.som_customers, facts.price_per_seat_usd, facts.seats_per_account,
              facts.requests_per_customer, facts.monthly_churn)
    if best is None or any(f.value is None for f in needed):
        return None
    example = "example value (change it on the Business case page)"
    inputs = BusinessInputs(customers=float(facts.som_customers.value),
                            price_per_seat_usd=float(facts.price_per_seat_usd.value),
                            seats_per_account=float(facts.seats_per_account.value),
                            requests_per_customer=float(facts.requests_per_customer.value),
                            serving_usd_per_request=best.usd_per_request,
                            monthly_churn=float(facts.monthly_churn.value), **EXAMPLE_COSTS)
    sources = {"customers": facts.som_customers.source, "price_per_seat_usd": facts.price_per_seat_usd.source,
               "seats_per_account": facts.seats_per_account.source,
               "requests_per_customer": facts.requests_per_customer.source,
               "serving_usd_per_request": best.source, "monthly_churn": facts.monthly_churn.source,
               "starting_customers": "a new product: 0 customers at month 0",
               **dict.fromkeys(EXAMPLE_COSTS, example)}
    return business_case(inputs, sources)
