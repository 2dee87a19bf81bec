"""Business case: what the product earns per customer with the model chosen on Compare, when it breaks even,
and which input moves the result most; every input says where it came from."""

from __future__ import annotations

import streamlit as st

from analytics.charts.business import pnl_chart, tornado_chart
from analytics.compute.business.facts import Fact
from analytics.compute.business.model import EXAMPLE_COSTS, YOUR_INPUT, BusinessInputs, label
from analytics.errors import AnalyticsError
from analytics.money import format_count, format_number, format_percent, format_usd, format_usd_per_requests
from pages._shared import business, page, workspace

TYPED = "Type a number"


def _number(
    name: str,
    fact: Fact,
    fallback: float,
    *,
    step: float,
    key: str,
    fmt: str = "%.2f",
    help_text: str | None = None,
) -> tuple[float, str]:
    """A number input that starts on the workspace's figure; its source is the figure's unless changed."""
    start = float(fact.value) if fact.value is not None else fallback
    value = st.number_input(
        label(name)[:1].upper() + label(name)[1:],
        min_value=0.0,
        value=round(start, 4),
        step=step,
        format=fmt,
        key=key,
        help=help_text or fact.source,
    )
    same = fact.value is not None and abs(value - round(float(fact.value), 4)) < 1e-9
    return float(value), fact.source if same else YOUR_INPUT


def _customers(facts) -> tuple[float, str, float, str]:
    """(customers to reach, its source, starting customers, its source)."""
    options = []
    if facts.som_customers.value is not None:
        options.append(f"Market SOM ({format_count(facts.som_customers.value)} accounts)")
    if facts.paying_accounts.value:
        options.append(f"Today's paying accounts ({format_count(facts.paying_accounts.value)})")
    options.append(TYPED)
    choice = st.radio("Customers to reach", options, key="bc_customers_from", horizontal=False)
    if choice.startswith("Market"):
        customers, source = float(facts.som_customers.value), facts.som_customers.source
    elif choice.startswith("Today"):
        customers, source = float(facts.paying_accounts.value), facts.paying_accounts.source
    else:
        customers = float(
            st.number_input("Customers", min_value=0.0, value=1000.0, step=100.0, key="bc_customers")
        )
        source = YOUR_INPUT
    start_today = st.checkbox(
        "Start at today's accounts",
        value=False,
        key="bc_start_today",
        help="Off: a new product starting at 0 customers.",
        disabled=not facts.paying_accounts.value,
    )
    if start_today and facts.paying_accounts.value:
        return customers, source, float(facts.paying_accounts.value), facts.paying_accounts.source
    return customers, source, 0.0, "a new product: 0 customers at month 0"


def _serving(gen: int, requests_per_month: float) -> tuple[float, str, str | None]:
    """($ per request, its source, the chosen candidate's name) from a Compare candidate or typed."""
    sets = business.evaluation_sets(gen)
    if sets:
        dataset = st.selectbox("Evaluation set on Compare", sets, key="bc_dataset")
        try:
            options = business.serving_options(gen, dataset, requests_per_month)
        except AnalyticsError as e:
            page.show_error(e)
            options = ()
        if options:
            names = [f"{o.candidate} ({format_usd_per_requests(o.usd_per_request, 1000)})"
                     + (" · recommended" if o.recommended else "") for o in options]
            start = next((i for i, o in enumerate(options) if o.recommended), 0)
            picked = st.selectbox("Model serving the requests", range(len(names)), index=start,
                                  format_func=names.__getitem__, key="bc_candidate")
            cost = options[picked]
            return cost.usd_per_request, cost.source, cost.candidate
        st.info(
            f"No priced candidate on Compare for {dataset} yet: type a serving cost.",
            icon=":material/balance:",
        )
    else:
        st.info(
            "Nothing measured on Compare yet (train a model or add an endpoint there): type a serving cost.",
            icon=":material/balance:",
        )
    per_1k = st.number_input(
        "Serving $ per 1k requests",
        min_value=0.0,
        value=0.50,
        step=0.05,
        format="%.4f",
        key="bc_serving_per_1k",
    )
    return float(per_1k) / 1000.0, YOUR_INPUT, None


def _model_rate(model) -> float:
    """The churn model's expected monthly churn over paying accounts (the business case's customers); over
    every active account when none pays."""
    rate = model.paying_monthly_churn_rate
    return float(rate if rate is not None else model.monthly_churn_rate)


def _churn(gen: int, facts) -> tuple[float, str]:
    options = []
    if facts.monthly_churn.value is not None:
        options.append(f"Metrics: logo churn ({format_percent(facts.monthly_churn.value)} a month)")
    model = business.expected_churn(gen)
    if model is not None:
        options.append(f"Churn model: expected ({format_percent(_model_rate(model))} a month)")
    options.append(TYPED)
    choice = st.radio("Monthly churn", options, key="bc_churn_from")
    if choice.startswith("Metrics"):
        return float(facts.monthly_churn.value), facts.monthly_churn.source
    if choice.startswith("Churn model") and model is not None:
        over = "paying accounts" if model.paying_monthly_churn_rate is not None else "active accounts"
        return _model_rate(model), f"Churn page: expected monthly churn over {over}; {model.provenance}"
    rate = st.number_input(
        "Monthly churn (%)", min_value=0.0, max_value=99.0, value=3.0, step=0.5, key="bc_churn"
    )
    return float(rate) / 100.0, YOUR_INPUT


def _inputs(gen: int, facts) -> tuple[BusinessInputs, dict[str, str], str | None]:
    """The sidebar-free input panel: every input with where it came from."""
    sources: dict[str, str] = {}
    left, middle, right = st.columns(3)
    with left:
        st.markdown("**Customers and price**")
        customers, sources["customers"], start, sources["starting_customers"] = _customers(facts)
        price, sources["price_per_seat_usd"] = _number(
            "price_per_seat_usd", facts.price_per_seat_usd, 49.0, step=1.0, key="bc_price"
        )
        seats, sources["seats_per_account"] = _number(
            "seats_per_account", facts.seats_per_account, 10.0, step=1.0, key="bc_seats", fmt="%.1f"
        )
    with middle:
        st.markdown("**Usage and the model**")
        requests, sources["requests_per_customer"] = _number(
            "requests_per_customer",
            facts.requests_per_customer,
            100.0,
            step=10.0,
            key="bc_requests",
            fmt="%.1f",
        )
        per_request, sources["serving_usd_per_request"], model = _serving(gen, max(customers, 1.0) * requests)
        monthly_churn, sources["monthly_churn"] = _churn(gen, facts)
    with right:
        st.markdown("**Costs (your inputs)**")
        support = st.number_input(
            "Support $ per customer a month", min_value=0.0,
            value=EXAMPLE_COSTS["support_usd_per_customer"], step=5.0, key="bc_support"
        )
        other = st.number_input(
            "Other variable $ per customer a month",
            min_value=0.0,
            value=EXAMPLE_COSTS["other_usd_per_customer"],
            step=5.0,
            key="bc_other",
            help="Payment fees, third-party tools",
        )
        cac = st.number_input(
            "CAC: $ to acquire a customer", min_value=0.0, value=EXAMPLE_COSTS["cac_usd"], step=500.0,
            key="bc_cac"
        )
        fixed = st.number_input(
            "Fixed costs $ a month",
            min_value=0.0,
            value=EXAMPLE_COSTS["fixed_usd_per_month"],
            step=10_000.0,
            key="bc_fixed",
            help="Team and base infrastructure",
        )
        ramp = st.number_input(
            "Months to reach the customers", min_value=1, max_value=120, value=EXAMPLE_COSTS["ramp_months"],
            key="bc_ramp"
        )
    inputs = BusinessInputs(
        customers=customers,
        price_per_seat_usd=price,
        seats_per_account=seats,
        requests_per_customer=requests,
        serving_usd_per_request=per_request,
        support_usd_per_customer=support,
        other_usd_per_customer=other,
        cac_usd=cac,
        monthly_churn=monthly_churn,
        fixed_usd_per_month=fixed,
        starting_customers=start,
        ramp_months=int(ramp),
        months=36,
    )
    return inputs, sources, model


def _kpis(case, model: str | None) -> None:
    unit = case.unit
    c = st.columns(6)
    c[0].metric("Revenue", format_usd(unit.revenue_usd), help="per customer a month: price per seat x seats")
    c[1].metric(
        "Gross margin",
        format_usd(unit.gross_margin_usd),
        format_percent(unit.gross_margin_share),
        delta_color="off",
        help="a month per customer: revenue - serving - support",
    )
    c[2].metric(
        "Contribution",
        format_usd(unit.contribution_margin_usd),
        help="a month per customer: gross margin - other variable costs",
    )
    payback = (
        "never" if unit.cac_payback_months is None else f"{format_number(unit.cac_payback_months, 2)} mo"
    )
    c[3].metric("CAC payback", payback, help="CAC / contribution margin")
    c[4].metric(
        "LTV / CAC",
        "–" if unit.ltv_to_cac is None else f"{format_number(unit.ltv_to_cac)}x",
        help=f"LTV {format_usd(unit.ltv_usd)} ({unit.ltv_basis}) / CAC",
    )
    even = f"{case.inputs.months}+ mo" if case.break_even_month is None else f"{case.break_even_month} mo"
    c[5].metric("Break-even", even,
                help="The month the cumulative profit is back at $0 or above (month 1 = the first)")
    served = f" with {model}" if model else ""
    st.markdown(
        f"Serving costs {format_usd(unit.serving_usd)} a customer a month{served}: "
        f"{format_percent(unit.serving_usd / unit.revenue_usd if unit.revenue_usd else None)} of its "
        f"revenue."
    )


page.start_page(
    "Business case",
    "Unit economics joined to what the workspace measured: customers from the "
    "Market SOM, price and seats from the invoices, requests from the events, the "
    "serving cost of the model chosen on Compare, churn from Metrics.",
)
gen = workspace.generation()
try:
    facts = business.facts(gen)
    inputs, sources, model = _inputs(gen, facts)
    result = business.case(inputs, sources)
except AnalyticsError as e:
    page.show_error(e)
    st.stop()
page.sample_badge()
_kpis(result, model)
plan, experiment = business.context(gen)
left, right = st.columns(2)
left.markdown(f":material/timeline: {plan.text}." if plan else
              ":material/timeline: No roadmap yet: plan the stages and their budget on the Roadmap page.")
right.markdown(f":material/science: {experiment.text}." if experiment else
               ":material/science: No experiment yet: design one on the Experiments page.")
for flag in result.flags:
    st.warning(flag, icon=":material/trending_down:")
st.plotly_chart(pnl_chart(result), width="stretch", theme=None, key="bc_pnl")
st.plotly_chart(tornado_chart(result), width="stretch", theme=None, key="bc_tornado")
with st.expander("Where every input comes from", expanded=True):
    st.dataframe(business.provenance(result), hide_index=True, width="stretch")
with st.expander("Monthly P&L table"):
    st.dataframe(business.pnl_table(result), hide_index=True, width="stretch")
