"""Cached calls of the Business case page (analytics.compute.business, imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from pages._shared.workspace import workspace

if TYPE_CHECKING:
    import pandas as pd

    from analytics.compute.business.context import ExperimentSummary, PlanSummary
    from analytics.compute.business.facts import ServingCost, WorkspaceFacts
    from analytics.compute.business.model import BusinessCase, BusinessInputs
    from analytics.compute.churn.results import ExpectedChurn


@st.cache_data(show_spinner=False)
def facts(gen: int) -> WorkspaceFacts:
    """What the workspace supplies (billing month, price and seats, sessions, churn, SOM), with sources."""
    from analytics.compute.business.facts import workspace_facts

    return workspace_facts(workspace())


@st.cache_data(show_spinner=False)
def evaluation_sets(gen: int) -> list[str]:
    """Compare's evaluation sets (datasets with a measured candidate)."""
    from analytics.compute.compare.candidates import evaluation_sets as sets

    frame = sets(workspace())
    return [str(d) for d in frame["dataset"]] if len(frame) else []


@st.cache_data(show_spinner=False)
def serving_options(gen: int, dataset: str, requests_per_month: float) -> tuple[ServingCost, ...]:
    """Priced Compare candidates of `dataset` at this volume, each with its $ per request and provenance."""
    from analytics.compute.business.facts import serving_options as options

    return options(workspace(), dataset, requests_per_month)


@st.cache_data(show_spinner=False)
def expected_churn(gen: int) -> ExpectedChurn | None:
    """The churn model's expected monthly churn (the best model of the newest churn run), or None."""
    from analytics.compute.churn.results import expected_churn as expected

    return expected(workspace())


@st.cache_data(show_spinner=False)
def context(gen: int) -> tuple[PlanSummary | None, ExperimentSummary | None]:
    """What the roadmap costs and what the newest experiment says (Roadmap and Experiments pages)."""
    from analytics.compute.business.context import experiment_summary, plan_summary

    ws = workspace()
    return plan_summary(ws), experiment_summary(ws)


def case(inputs: BusinessInputs, sources: dict[str, str]) -> BusinessCase:
    """Unit economics, projection, break-even and tornado (pure and fast: not cached)."""
    from analytics.compute.business.model import business_case

    return business_case(inputs, sources)


def provenance(result: BusinessCase) -> pd.DataFrame:
    """Input, value as read on screen, and where it came from."""
    import pandas as pd

    from analytics.compute.business.model import label
    from analytics.money import format_count, format_number, format_percent, format_usd

    inputs = result.inputs
    shown = {
        "customers": format_count(inputs.customers),
        "starting_customers": format_count(inputs.starting_customers),
        "price_per_seat_usd": format_usd(inputs.price_per_seat_usd),
        "seats_per_account": format_number(inputs.seats_per_account),
        "requests_per_customer": format_number(inputs.requests_per_customer),
        "serving_usd_per_request": format_usd(inputs.serving_usd_per_request * 1000) + " per 1k requests",
        "monthly_churn": format_percent(inputs.monthly_churn),
        "support_usd_per_customer": format_usd(inputs.support_usd_per_customer),
        "other_usd_per_customer": format_usd(inputs.other_usd_per_customer),
        "cac_usd": format_usd(inputs.cac_usd),
        "fixed_usd_per_month": format_usd(inputs.fixed_usd_per_month),
        "ramp_months": f"{inputs.ramp_months} months",
        "months": f"{inputs.months} months",
    }
    return pd.DataFrame(
        {
            "input": [label(n)[:1].upper() + label(n)[1:] for n in shown],
            "value": list(shown.values()),
            "source": [result.sources.get(n, "your input") for n in shown],
        }
    )


def pnl_table(result: BusinessCase) -> pd.DataFrame:
    """The projection as text: customers and each dollar column per month."""
    import pandas as pd

    from analytics.money import format_count, format_usd

    frame = result.projection
    out = pd.DataFrame(
        {
            "month": frame["month"],
            "customers": [format_count(v) for v in frame["customers"]],
            "new": [format_count(v) for v in frame["new_customers"]],
        }
    )
    for column, name in (
        ("revenue_usd", "revenue"),
        ("serving_usd", "serving"),
        ("support_usd", "support"),
        ("other_usd", "other"),
        ("acquisition_usd", "acquisition"),
        ("fixed_usd", "fixed"),
        ("profit_usd", "profit"),
        ("cumulative_usd", "cumulative"),
    ):
        out[name] = [format_usd(v) for v in frame[column]]
    return out
