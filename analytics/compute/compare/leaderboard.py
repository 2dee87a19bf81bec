"""The leaderboard: every candidate's accuracy (95% CI), latency and dollars at the user's volume, each number
with its provenance."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.compute import costs
from analytics.compute.compare.candidates import api_candidates
from analytics.compute.compare.pricing import as_of_day, price_basis, resolve_hardware_prices
from analytics.compute.stats import wilson_interval
from analytics.db import Workspace
from analytics.errors import CostInputError
from analytics.ingest.prices import price_table
from analytics.money import format_usd

MONTHS = 12
HOURS_PER_MONTH = 24.0 * costs.DAYS_PER_MONTH




@dataclass(frozen=True)
class CompareSettings:
    """What the user decides on the Compare page; every leaderboard number depends only on these and the
    data."""

    dataset: str
    """Evaluation set: the runs' dataset name (API candidates are entered against it)."""
    requests_per_month: float
    """Expected production volume."""
    utilisation: float = 0.5
    """Share of paid machine time spent serving at the measured batch throughput (0-1]."""
    hardware_prices: tuple[tuple[str, int], ...] = ()
    """(hardware name as measured, price_id) choices; hardware not listed is auto-matched or flagged."""
    months: int = MONTHS
    """Horizon for the total cost (training once + months x monthly running cost)."""
    accuracy_target: float | None = None
    """Minimum accuracy (0-1) the recommendation must meet; None recommends the best value on the frontier."""

    def __post_init__(self) -> None:
        costs.check_positive("requests per month", self.requests_per_month, upper=1e12)
        costs.check_positive("utilisation", self.utilisation, upper=1.0)
        if self.months < 1:
            raise CostInputError(f"months must be at least 1, got {self.months}")
        if self.accuracy_target is not None and not 0 < self.accuracy_target <= 1:
            raise CostInputError(f"the accuracy target must be between 0 and 100%, got "
                                 f"{self.accuracy_target:.1%}")


@dataclass(frozen=True)
class Leaderboard:
    """`leaderboard()`'s result."""

    table: pd.DataFrame
    """One row per candidate (LEADERBOARD_COLUMNS), frontier first then by cost."""
    flags: tuple[str, ...]
    """Problems that keep a number out of the charts, each with its fix."""
    assumptions: tuple[str, ...]
    """Volume, utilisation, horizon and every price used with its source and date."""
    settings: CompareSettings
    """The settings the table was computed with."""
    hardware_prices: dict[str, int | None] = field(default_factory=dict)
    """Hardware name -> price_id actually used (None: no price)."""

    @property
    def priced(self) -> pd.DataFrame:
        """Rows with a finite $/1k requests (the only ones the cost charts draw)."""
        return self.table[np.isfinite(self.table["cost_per_1k_usd"].astype(float))]


LEADERBOARD_COLUMNS = (
    "key", "candidate", "kind", "method", "model", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
    "macro_f1", "n_eval", "p50_ms", "p95_ms", "throughput_per_s", "hardware", "price_label",
    "cost_per_1k_usd", "training_usd", "monthly_usd", "total_usd", "on_frontier",
    "train_examples_per_class", "n_classes", "model_params", "tokens_per_request", "accuracy_basis",
    "latency_basis", "cost_basis", "training_basis", "flag",
)


def leaderboard(ws: Workspace, settings: CompareSettings) -> Leaderboard:
    """Every candidate on `settings.dataset` with accuracy (95% CI), macro-F1, p50 latency, $/1k requests,
    training $, monthly and total cost at the user's volume, and the provenance of each number.

    Self-hosted $/1k = hourly price of the hardware the run was measured on / (measured throughput x
    utilisation) x 1000; API $/1k = mean tokens per request x catalog prices. Rows whose cost cannot be
    computed keep NaN and a flag. Raises CostInputError for settings that make no sense (zero volume).
    """
    catalog = price_table(ws).set_index("price_id", drop=False)
    hw_prices = resolve_hardware_prices(ws, settings.dataset, settings.hardware_prices)
    runs = ws.query("compare_runs", dataset=settings.dataset)
    rows = [_run_row(r, catalog, hw_prices, settings) for r in runs.to_dict("records")]
    tokens = _measured_api_tokens(runs)
    apis = api_candidates(ws, settings.dataset)
    rows += [_api_row(a, tokens, settings) for a in apis.to_dict("records")]
    table = pd.DataFrame(rows, columns=list(LEADERBOARD_COLUMNS))
    table = _mark_frontier(table)
    flags = tuple(f"{r.candidate}: {r.flag}" for r in table.itertuples() if r.flag)
    flags += _eval_set_flags(runs)
    used = sorted({int(p) for p in hw_prices.values() if p is not None} | set(apis["price_id"].astype(int)))
    return Leaderboard(table=table, flags=flags, assumptions=_assumptions(settings, catalog, used, tokens),
                       settings=settings, hardware_prices=hw_prices)


def _candidate_name(run: Mapping[str, object]) -> str:
    model = "TF-IDF + logistic regression" if run["method"] == "classic" else str(run["model"]).split("/")[-1]
    method = {"classic": "classic", "linear_probe": "linear probe", "full": "fine-tune", "lora": "LoRA",
              "zero_shot": "zero-shot"}.get(str(run["method"]), str(run["method"]))
    per_class = run.get("train_examples_per_class")
    size = f", {int(per_class)}/class" if per_class is not None and not pd.isna(per_class) else ""
    return f"{method} · {model}{size} [{str(run['run_id'])[-6:]}]"


def _run_row(run: dict[str, object], catalog: pd.DataFrame, hw_prices: dict[str, int | None],
             settings: CompareSettings) -> dict[str, object]:
    """A leaderboard row for one run (self-hosted on the hardware it was measured on)."""
    row = _empty_row(f"run:{run['run_id']}", _candidate_name(run), "self-hosted", run)
    n = int(run["n_test"]) if not pd.isna(run["n_test"]) else 0
    row.update(accuracy=float(run["accuracy"]), n_eval=n, macro_f1=_float(run["macro_f1"]),
               accuracy_ci_low=_float(run["accuracy_ci_low"]),
               accuracy_ci_high=_float(run["accuracy_ci_high"]))
    if math.isnan(row["accuracy_ci_low"]):
        row["accuracy_ci_low"], row["accuracy_ci_high"] = wilson_interval(row["accuracy"] * n, n)
    total = run.get("n_test_total")
    larger = total and not pd.isna(total) and int(total) > n
    subset = f" (a {n}-text subset of {int(total)})" if larger else ""
    row["accuracy_basis"] = (f"measured on {n} test texts{subset} of {run['dataset']}, run {run['run_id']}, "
                             f"{as_of_day(run['finished_at'])}")
    hardware = run["inference_hardware"] if isinstance(run["inference_hardware"], str) else run["hardware"]
    row["hardware"] = hardware
    flags: list[str] = []
    _fill_latency(row, run, flags)
    _fill_self_hosted_cost(row, run, catalog, hw_prices, settings, flags)
    row["flag"] = "; ".join(flags)
    return row


def _empty_row(key: str, name: str, kind: str, run: Mapping[str, object] | None) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(LEADERBOARD_COLUMNS, None)
    nan_columns = ("accuracy_ci_low", "accuracy_ci_high", "macro_f1", "p50_ms", "p95_ms", "throughput_per_s",
                   "cost_per_1k_usd", "training_usd", "monthly_usd", "total_usd")
    row.update(dict.fromkeys(nan_columns, math.nan), key=key, candidate=name, kind=kind, on_frontier=False,
               flag="")
    if run is not None:
        row.update(method=run["method"], model=run["model"], train_examples_per_class=_per_class(run),
                   n_classes=_float(run.get("num_labels")), model_params=_float(run.get("model_params")),
                   tokens_per_request=_float(run.get("tokens_per_request")))
    return row


def _per_class(run: Mapping[str, object]) -> float | None:
    value = run.get("train_examples_per_class")
    return None if value is None or pd.isna(value) else float(value)


def _float(value: object) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def _fill_latency(row: dict[str, object], run: Mapping[str, object], flags: list[str]) -> None:
    if pd.isna(run["throughput_per_s"]):
        flags.append("no inference benchmark yet, so no measured throughput or latency (inference.json is "
                     "written a few seconds after training ends; a run from an older version needs to be "
                     "trained again)")
        row["latency_basis"] = "not measured"
        return
    row.update(p50_ms=_float(run["p50_ms"]), p95_ms=_float(run["p95_ms"]),
               throughput_per_s=float(run["throughput_per_s"]))
    row["latency_basis"] = (f"measured on {row['hardware']}, {as_of_day(run['inference_measured_at'])}: "
                            f"single request p50 {row['p50_ms']:.1f} ms / p95 {row['p95_ms']:.1f} ms; "
                            f"batched {row['throughput_per_s']:,.1f} requests/s")
    load, cpus = _float(run.get("inference_load_average")), _float(run.get("inference_cpu_count"))
    if math.isfinite(load) and math.isfinite(cpus) and load > cpus:
        busy = f"machine busy while measured (load {load:.1f} on {cpus:.0f} cores)"
        row["latency_basis"] += f"; {busy}"
        flags.append(f"{busy}: its throughput and latency read worse than the hardware is; re-measure on an "
                     f"idle machine before deciding on cost")


def _fill_self_hosted_cost(row: dict[str, object], run: Mapping[str, object], catalog: pd.DataFrame,
                           hw_prices: dict[str, int | None], settings: CompareSettings,
                           flags: list[str]) -> None:
    hardware = str(row["hardware"])
    price_id = hw_prices.get(hardware)
    train_hw = str(run["hardware"]) if isinstance(run["hardware"], str) else hardware
    train_price_id = hw_prices.get(train_hw)
    if price_id is None or price_id not in catalog.index:
        flags.append(f"no price for hardware '{hardware}': pick a price row for it under 'Hardware prices'")
    else:
        price = catalog.loc[price_id]
        row["price_label"] = str(price["label"])
        if not math.isnan(row["throughput_per_s"]):
            per_1k = costs.cost_per_1k_requests_usd(row["throughput_per_s"], float(price["hourly_usd"]),
                                                    settings.utilisation)
            row["cost_per_1k_usd"] = per_1k
            row["cost_basis"] = (f"{price_basis(price)} / ({row['throughput_per_s']:,.1f} requests/s "
                                 f"measured x {settings.utilisation:.0%} utilisation) x 1000 = "
                                 f"{format_usd(per_1k)} per 1k")
    if train_price_id is not None and train_price_id in catalog.index and not pd.isna(run["train_seconds"]):
        train_price = catalog.loc[train_price_id]
        row["training_usd"] = costs.training_cost_usd(float(run["train_seconds"]),
                                                      float(train_price["hourly_usd"]))
        row["training_basis"] = (f"{float(run['train_seconds']):,.1f} s measured on {train_hw} x "
                                 f"{price_basis(train_price)} = {format_usd(row['training_usd'])}")
    elif pd.isna(run["train_seconds"]):
        row["training_basis"] = "training time not recorded"
    _fill_totals(row, settings)


def _fill_totals(row: dict[str, object], settings: CompareSettings) -> None:
    per_1k, training = row["cost_per_1k_usd"], row["training_usd"]
    if math.isnan(per_1k):
        return
    row["monthly_usd"] = costs.monthly_cost_usd(per_1k, settings.requests_per_month)
    row["total_usd"] = costs.total_cost_usd(0.0 if math.isnan(training) else training, per_1k,
                                            settings.requests_per_month, settings.months)


@dataclass(frozen=True)
class ApiTokens:
    """Mean tokens per request of the evaluation texts as an API classification prompt."""

    input_tokens: float | None
    """Prompt tokens (instructions + label list + text), counted per test text and averaged."""
    output_tokens: float | None
    """Answer tokens (a label name)."""
    tokenizer: str | None
    """The tokenizer that counted them."""


def _measured_api_tokens(runs: pd.DataFrame) -> ApiTokens:
    """Token counts recorded by the runs' inference benchmarks (the newest run's; all count the same
    texts)."""
    counted = runs.dropna(subset=["api_input_tokens"])
    if counted.empty:
        return ApiTokens(None, None, None)
    last = counted.iloc[-1]
    return ApiTokens(float(last["api_input_tokens"]), _float(last["api_output_tokens"]),
                     str(last["api_tokenizer"]))


def _api_row(api: dict[str, object], tokens: ApiTokens, settings: CompareSettings) -> dict[str, object]:
    """A leaderboard row for one hosted-API candidate."""
    row = _empty_row(f"api:{api['candidate_id']}", f"{api['name']} (API)", "api", None)
    n = int(api["n_eval"])
    low, high = wilson_interval(float(api["accuracy"]) * n, n)
    row.update(method="api", model=api["price_name"], accuracy=float(api["accuracy"]), n_eval=n,
               macro_f1=_float(api["macro_f1"]), accuracy_ci_low=low, accuracy_ci_high=high, training_usd=0.0,
               hardware="hosted API", latency_basis="not measured (hosted API)",
               training_basis="none: a hosted API needs no training", price_label=f"{api['price_name']} · "
               f"{api['provider']}")
    row["accuracy_basis"] = f"{api['accuracy_source']} (n = {n}; CI: Wilson interval on n)"
    flags: list[str] = []
    tin, tout, how = _api_token_counts(api, tokens)
    if tin is None:
        flags.append("no token count: enter input tokens per request, or run any model on this dataset so "
                     "its test texts are counted")
    else:
        per_1k = costs.api_cost_per_1k_requests_usd(tin, tout, float(api["input_per_m_usd"]),
                                                     float(api["output_per_m_usd"]))
        row["cost_per_1k_usd"] = per_1k
        price_in = format_usd(float(api["input_per_m_usd"]), digits=4)
        price_out = format_usd(float(api["output_per_m_usd"]), digits=4)
        row["cost_basis"] = (f"({tin:,.1f} input x {price_in} + {tout:,.1f} output x "
                             f"{price_out}) per 1M tokens x 1000 = "
                             f"{format_usd(per_1k)} per 1k; tokens {how}; price {api['price_source']}, as of "
                             f"{as_of_day(api['as_of'])}")
    row["flag"] = "; ".join(flags)
    _fill_totals(row, settings)
    return row


def _api_token_counts(api: Mapping[str, object], tokens: ApiTokens) -> tuple[float | None, float, str]:
    """(input, output, how they were obtained): the candidate's own figures win over the measured ones."""
    own_in, own_out = _float(api["input_tokens_per_request"]), _float(api["output_tokens_per_request"])
    if not math.isnan(own_in):
        out = own_out if not math.isnan(own_out) else (tokens.output_tokens or 0.0)
        return own_in, out, "entered by the user"
    if tokens.input_tokens is None:
        return None, 0.0, ""
    out = own_out if not math.isnan(own_out) else (tokens.output_tokens or 0.0)
    return tokens.input_tokens, out, (f"counted on the test texts with the {tokens.tokenizer} tokenizer (API "
                                      f"tokenizers differ by about 10-20%, an estimate)")


def _mark_frontier(table: pd.DataFrame) -> pd.DataFrame:
    """on_frontier for priced rows (pareto_mask on $/1k and accuracy); frontier first, then by cost."""
    if table.empty:
        return table
    cost = table["cost_per_1k_usd"].astype(float)
    priced = np.isfinite(cost.to_numpy())
    mask = np.zeros(len(table), dtype=bool)
    if priced.any():
        mask[priced] = costs.pareto_mask(cost[priced], table.loc[priced, "accuracy"].astype(float))
    table = table.assign(on_frontier=mask)
    order = table.assign(_unpriced=~priced).sort_values(
        ["_unpriced", "on_frontier", "cost_per_1k_usd", "accuracy"], ascending=[True, False, True, False])
    return order.drop(columns="_unpriced").reset_index(drop=True)


def _eval_set_flags(runs: pd.DataFrame) -> tuple[str, ...]:
    sizes = sorted({int(n) for n in runs["n_test"].dropna()})
    if len(sizes) > 1:
        return (f"runs were scored on different numbers of test texts ({', '.join(map(str, sizes))}); "
                f"accuracies on a subset have wider intervals",)
    return ()


def _assumptions(settings: CompareSettings, catalog: pd.DataFrame, price_ids: Sequence[int],
                 tokens: ApiTokens) -> tuple[str, ...]:
    lines = [
        f"Volume: {settings.requests_per_month:,.0f} requests per month; horizon {settings.months} months "
        f"(training paid once, included in the total).",
        f"Self-hosted utilisation: {settings.utilisation:.0%} of paid machine time serves requests at the "
        f"measured batch throughput (autoscaled or shared machine). An always-on machine costs its hourly "
        f"price x {HOURS_PER_MONTH:,.0f} h per month whatever the volume.",
    ]
    if tokens.input_tokens is not None:
        lines.append(f"API requests: {tokens.input_tokens:,.1f} input and {tokens.output_tokens or 0:,.1f} "
                     f"output tokens on average (classification prompt listing every label + the text; "
                     f"counted with {tokens.tokenizer}).")
    lines += [f"Price: {price_basis(catalog.loc[p])}" for p in price_ids if p in catalog.index]
    return tuple(lines)
