"""Unit economics, a monthly P&L projection and its sensitivity, from inputs that each say where they
came from.

Per customer and month:
    revenue              = price per seat x seats per account
    serving              = requests per customer x serving $ per request (the model chosen on Compare)
    gross margin         = revenue - serving - support
    contribution margin  = gross margin - other variable costs
    CAC payback (months) = CAC / contribution margin                 (never, when the margin is 0 or less)
    LTV                  = contribution margin / monthly churn       (over the horizon, without churn)
    LTV / CAC
Projection, month m = 1..months: customers move from `starting_customers` to `customers` in a straight line
over `ramp_months`; each month loses `monthly_churn` of its opening customers and wins the new ones needed to
reach the line (each new one costs CAC). Profit = customers x contribution margin - CAC spend - fixed costs.
The tornado moves each input 20% down and up (churn capped below 100%) and ranks them by how far they move the
horizon's cumulative profit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd

from analytics.errors import BusinessCaseError

SWING = 0.2
"""The tornado's move of each input: 20% down and up."""
YOUR_INPUT = "your input"
EXAMPLE_COSTS = {"support_usd_per_customer": 40.0, "other_usd_per_customer": 15.0, "cac_usd": 6000.0,
                 "fixed_usd_per_month": 250_000.0, "ramp_months": 12}
"""Costs the workspace cannot know, as the page starts them (and the memo uses them, labelled as examples)."""


@dataclass(frozen=True)
class BusinessInputs:
    """What the business case is computed from (monthly figures, US dollars)."""

    customers: float
    """Customers to reach (the Market page's SOM accounts, or typed); 0 is allowed and earns nothing."""
    price_per_seat_usd: float
    """Price of one seat a month."""
    seats_per_account: float
    """Seats each customer pays for."""
    requests_per_customer: float
    """Model requests each customer sends a month."""
    serving_usd_per_request: float
    """What one request costs to serve (the Compare candidate's measured $ per request)."""
    support_usd_per_customer: float = 0.0
    """Support cost per customer a month (part of the cost of revenue)."""
    other_usd_per_customer: float = 0.0
    """Other variable cost per customer a month (payment fees, third-party tools)."""
    cac_usd: float = 0.0
    """Cost to acquire one customer (sales and marketing / new customers)."""
    monthly_churn: float = 0.02
    """Share of customers lost each month, 0 to below 1."""
    fixed_usd_per_month: float = 0.0
    """Fixed costs a month (team, base infrastructure)."""
    starting_customers: float = 0.0
    """Customers at month 0 (today's paying accounts, or 0 for a new product)."""
    ramp_months: int = 12
    """Months to go from starting_customers to customers in a straight line (1 or more)."""
    months: int = 36
    """Horizon of the projection, 1 to 120 months."""

    def __post_init__(self) -> None:
        for name in NON_NEGATIVE:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise BusinessCaseError(f"{_LABELS[name]} must be a number of 0 or more, got {value!r}")
        if not 0.0 <= self.monthly_churn < 1.0:
            raise BusinessCaseError(
                f"monthly churn is a share from 0 to below 1 (0.03 = 3% a month), got {self.monthly_churn!r}"
            )
        if not 1 <= int(self.ramp_months) <= 120:
            raise BusinessCaseError(f"ramp months must be from 1 to 120, got {self.ramp_months!r}")
        if not 1 <= int(self.months) <= 120:
            raise BusinessCaseError(f"the horizon must be from 1 to 120 months, got {self.months!r}")


_LABELS = {
    "customers": "customers",
    "price_per_seat_usd": "price per seat",
    "seats_per_account": "seats per account",
    "requests_per_customer": "requests per customer a month",
    "serving_usd_per_request": "serving $ per request",
    "support_usd_per_customer": "support $ per customer",
    "other_usd_per_customer": "other $ per customer",
    "cac_usd": "CAC",
    "monthly_churn": "monthly churn",
    "fixed_usd_per_month": "fixed costs a month",
    "starting_customers": "starting customers",
    "ramp_months": "ramp months",
    "months": "horizon",
}
"""How each input reads on screen."""
TORNADO_INPUTS = (
    "customers",
    "price_per_seat_usd",
    "seats_per_account",
    "requests_per_customer",
    "serving_usd_per_request",
    "support_usd_per_customer",
    "other_usd_per_customer",
    "cac_usd",
    "monthly_churn",
    "fixed_usd_per_month",
)
NON_NEGATIVE = (*(n for n in TORNADO_INPUTS if n != "monthly_churn"), "starting_customers")
"""Inputs that must be finite numbers of 0 or more (churn is a share below 1; ramp and horizon are months)."""


def label(name: str) -> str:
    """How input `name` reads on screen."""
    return _LABELS.get(name, name)


@dataclass(frozen=True)
class UnitEconomics:
    """Per customer and month (US dollars), and the ratios built on them."""

    revenue_usd: float
    """Price per seat x seats."""
    serving_usd: float
    """Requests x serving $ per request."""
    support_usd: float
    """Support cost."""
    other_usd: float
    """Other variable cost."""
    gross_margin_usd: float
    """Revenue - serving - support."""
    gross_margin_share: float | None
    """Gross margin / revenue; None without revenue."""
    contribution_margin_usd: float
    """Gross margin - other variable cost."""
    cac_payback_months: float | None
    """CAC / contribution margin; None when the margin is 0 or less (never paid back)."""
    ltv_usd: float
    """Contribution margin / churn (without churn: over the horizon); negative when each customer loses
    money."""
    ltv_to_cac: float | None
    """LTV / CAC; None without a CAC."""
    ltv_basis: str
    """How LTV was computed (churn or the horizon)."""


@dataclass(frozen=True)
class BusinessCase:
    """`business_case()`'s result."""

    inputs: BusinessInputs
    """The inputs as used."""
    sources: dict[str, str]
    """Input name -> where its value came from (a table, a run, a price row, or 'your input')."""
    unit: UnitEconomics
    """Per-customer economics."""
    projection: pd.DataFrame
    """One row per month: month, customers_start, new_customers, churned, customers, revenue_usd,
    serving_usd, support_usd, other_usd, acquisition_usd, fixed_usd, profit_usd, cumulative_usd."""
    profitable_month: int | None
    """First month whose profit is 0 or more; None within the horizon."""
    break_even_month: int | None
    """First month whose cumulative profit is 0 or more after the spending before it; None within the
    horizon."""
    tornado: pd.DataFrame
    """input, label, low_usd, high_usd, swing_usd: the horizon's cumulative profit with the input 20% down
    and up, largest swing first."""
    flags: tuple[str, ...] = field(default_factory=tuple)
    """Plain warnings: a loss per customer, no customers, churn that outruns growth."""


def unit_economics(inputs: BusinessInputs) -> UnitEconomics:
    """Per-customer economics of `inputs` (see the module docstring); never divides by zero."""
    revenue = inputs.price_per_seat_usd * inputs.seats_per_account
    serving = inputs.requests_per_customer * inputs.serving_usd_per_request
    gross = revenue - serving - inputs.support_usd_per_customer
    contribution = gross - inputs.other_usd_per_customer
    payback = inputs.cac_usd / contribution if contribution > 0 else None
    if inputs.monthly_churn > 0:
        ltv, basis = contribution / inputs.monthly_churn, "contribution margin / monthly churn"
    else:
        ltv, basis = (
            contribution * inputs.months,
            f"no churn: contribution margin over {inputs.months} months",
        )
    ratio = ltv / inputs.cac_usd if inputs.cac_usd > 0 else None
    return UnitEconomics(
        revenue,
        serving,
        inputs.support_usd_per_customer,
        inputs.other_usd_per_customer,
        gross,
        gross / revenue if revenue > 0 else None,
        contribution,
        payback,
        ltv,
        ratio,
        basis,
    )


def projection(inputs: BusinessInputs) -> pd.DataFrame:
    """The monthly P&L of `inputs` over its horizon (columns: BusinessCase.projection)."""
    unit = unit_economics(inputs)
    rows = []
    customers = float(inputs.starting_customers)
    for month in range(1, int(inputs.months) + 1):
        step = min(month / int(inputs.ramp_months), 1.0)
        target = inputs.starting_customers + (inputs.customers - inputs.starting_customers) * step
        churned = customers * inputs.monthly_churn
        new = max(target - (customers - churned), 0.0)
        end = customers - churned + new
        acquisition = new * inputs.cac_usd
        variable = {
            "revenue_usd": end * unit.revenue_usd,
            "serving_usd": end * unit.serving_usd,
            "support_usd": end * unit.support_usd,
            "other_usd": end * unit.other_usd,
        }
        profit = end * unit.contribution_margin_usd - acquisition - inputs.fixed_usd_per_month
        rows.append(
            {
                "month": month,
                "customers_start": customers,
                "new_customers": new,
                "churned": churned,
                "customers": end,
                **variable,
                "acquisition_usd": acquisition,
                "fixed_usd": inputs.fixed_usd_per_month,
                "profit_usd": profit,
            }
        )
        customers = end
    frame = pd.DataFrame(rows)
    frame["cumulative_usd"] = frame["profit_usd"].cumsum()
    return frame


def break_even(frame: pd.DataFrame) -> tuple[int | None, int | None]:
    """(first month with profit >= 0, first month with cumulative profit >= 0 after a loss before it; a plan
    that never loses money breaks even in month 1)."""
    profitable = frame.loc[frame["profit_usd"] >= 0, "month"]
    cumulative = frame.loc[frame["cumulative_usd"] >= 0, "month"]
    first_profit = int(profitable.iloc[0]) if len(profitable) else None
    if not len(cumulative):
        return first_profit, None
    below = frame.loc[frame["cumulative_usd"] < 0, "month"]
    after = cumulative[cumulative > (below.max() if len(below) else 0)]
    return first_profit, int(after.iloc[0]) if len(after) else None


def tornado(inputs: BusinessInputs, swing: float = SWING) -> pd.DataFrame:
    """The horizon's cumulative profit with each input `swing` down and up, largest effect first."""
    base = float(projection(inputs)["cumulative_usd"].iloc[-1])
    rows = []
    for name in TORNADO_INPUTS:
        value = float(getattr(inputs, name))
        results = []
        for factor in (1.0 - swing, 1.0 + swing):
            moved = value * factor
            if name == "monthly_churn":
                moved = min(moved, 0.999)
            results.append(float(projection(replace(inputs, **{name: moved}))["cumulative_usd"].iloc[-1]))
        rows.append(
            {
                "input": name,
                "label": label(name),
                "low_usd": results[0],
                "high_usd": results[1],
                "swing_usd": abs(results[1] - results[0]),
                "base_usd": base,
            }
        )
    frame = pd.DataFrame(rows).sort_values("swing_usd", ascending=False, kind="stable")
    return frame.reset_index(drop=True)


def business_case(inputs: BusinessInputs, sources: dict[str, str] | None = None) -> BusinessCase:
    """Unit economics, the projection, its break-even months and the tornado of `inputs`; `sources` maps
    input names to where their values came from (missing ones read 'your input')."""
    given = dict(sources or {})
    every = {f.name: given.get(f.name, YOUR_INPUT) for f in fields(BusinessInputs)}
    unit = unit_economics(inputs)
    frame = projection(inputs)
    profitable, even = break_even(frame)
    return BusinessCase(
        inputs, every, unit, frame, profitable, even, tornado(inputs), _flags(inputs, unit, frame)
    )


def _flags(inputs: BusinessInputs, unit: UnitEconomics, frame: pd.DataFrame) -> tuple[str, ...]:
    from analytics.money import format_usd

    flags = []
    if inputs.customers == 0 and inputs.starting_customers == 0:
        flags.append(
            "No customers: the plan earns nothing and only pays its fixed costs. Set the customers "
            "(Market SOM or a number)."
        )
    if unit.contribution_margin_usd < 0:
        flags.append(
            f"Loss on every customer: each one costs {format_usd(-unit.contribution_margin_usd)} a "
            f"month more than it pays (price below cost). Raise the price or seats, or pick a cheaper "
            f"model on Compare."
        )
    elif unit.contribution_margin_usd == 0 and unit.revenue_usd > 0:
        flags.append("Each customer exactly covers its cost: CAC is never paid back.")
    if float(np.nanmax(frame["cumulative_usd"])) < 0:
        flags.append(f"No break-even within {inputs.months} months.")
    return tuple(flags)
