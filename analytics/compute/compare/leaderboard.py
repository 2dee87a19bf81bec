"""The leaderboard: every candidate's accuracy (95% CI), latency and dollars at the user's volume, each number
with its provenance.

Candidates: trained runs (self-hosted, priced from the in-process benchmark's throughput x the machine's
hourly price); the same runs served by a real server under load (kind 'served': the throughput a load test
measured at the chosen concurrency, analytics.ingest.serving), next to the in-process row; endpoint runs
(method 'endpoint', kind 'api', measured: accuracy on the evaluation set, client latency, tokens per request
from the responses, priced as an API); and hosted APIs entered by hand or from an imported predictions
file."""

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
from analytics.ingest import serving
from analytics.ingest.prices import (
    GENAI_PRICES,
    OVERRIDE,
    ApiPrice,
    api_price,
    catalog_api_price,
    price_table,
)
from analytics.money import (
    format_count,
    format_duration,
    format_ms,
    format_number,
    format_percent,
    format_spread,
    format_usd,
    format_usd_per_requests,
    usd_per_requests_unit,
)

MONTHS = 12
HOURS_PER_MONTH = 24.0 * costs.DAYS_PER_MONTH
DEFAULT_REQUESTS_PER_MONTH = 1_000_000
"""The volume the Compare page starts at: about 33,000 classified texts a day, a small product in
production. At 100,000 a month a CPU-hosted classifier and an API both cost pocket change and the comparison
reads $0.02 against $4; at a million the gap is dollars against tens of dollars a month."""
P50_SPREAD_LIMIT = 0.15
"""A p50 whose repeats lie further than ±this from their median is not a figure to decide on (the goal: the
same model measured again reads within ±15%)."""
THROUGHPUT_SPREAD_LIMIT = 0.10
"""The same for throughput (goal: ±10%)."""


def plus_minus(spread: float) -> float:
    """The ± of a benchmark spread: inference.json's p50_spread / throughput_spread are the interquartile
    range / median of the repeats (benchmarks before that: (max - min) / median), so the middle half of the
    repeats lies within about ± half of it around the median."""
    return spread / 2.0


@dataclass(frozen=True)
class Remeasure:
    """A run whose latency/throughput measurement is not reliable, and why (the page offers a re-measure)."""

    key: str
    """Leaderboard key ('run:<run_id>')."""
    run_id: str
    """The run folder's name under the runs directory."""
    candidate: str
    """The candidate's display name."""
    reason: str
    """What makes the measurement unreliable, in words ('machine busy while measured (load 10.5 on 2
    cores)')."""
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
    served_concurrency: int | None = None
    """Concurrency level of the load tests (serving.json) to price served candidates at; None: no served
    rows (only the in-process figures)."""

    def __post_init__(self) -> None:
        costs.check_positive("requests per month", self.requests_per_month, upper=1e12)
        level = self.served_concurrency
        if level is not None and (isinstance(level, bool) or not isinstance(level, int) or level < 1):
            raise CostInputError(f"the served concurrency must be a whole number of at least 1 (a level the "
                                 f"load test measured, e.g. 16), got {self.served_concurrency!r}")
        costs.check_positive("utilisation", self.utilisation, upper=1.0)
        if self.months < 1:
            raise CostInputError(f"months must be at least 1, got {self.months}")
        if self.accuracy_target is not None and not 0 < self.accuracy_target <= 1:
            raise CostInputError(f"the accuracy target must be between 0 and 100%, got "
                                 f"{format_percent(self.accuracy_target, fixed=True)}")


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
    remeasure: tuple[Remeasure, ...] = ()
    """Runs whose latency and throughput were measured unreliably (busy machine, wide spread between
    repeats); their figures stay in the table with a note, not among the flags."""
    price_ids: tuple[int, ...] = ()
    """Catalog rows the table's dollars come from (pricing.prices_used lists them with their dates)."""

    @property
    def unit(self) -> tuple[int, str]:
        """(requests, label) the unit costs read in: per 1k requests, or per 1M when per 1k would be below a
        cent for the cheapest candidate (analytics.money.usd_per_requests_unit)."""
        return usd_per_requests_unit(self.table["cost_per_1k_usd"].astype(float) / 1000.0)

    @property
    def priced(self) -> pd.DataFrame:
        """Rows with a finite $/1k requests (the only ones the cost charts draw)."""
        return self.table[np.isfinite(self.table["cost_per_1k_usd"].astype(float))]


LEADERBOARD_COLUMNS = (
    "key", "candidate", "kind", "method", "model", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
    "macro_f1", "n_eval", "p50_ms", "p95_ms", "throughput_per_s", "hardware", "price_label",
    "cost_per_1k_usd", "training_usd", "monthly_usd", "total_usd", "on_frontier",
    "train_examples_per_class", "n_classes", "model_params", "tokens_per_request", "accuracy_basis",
    "latency_basis", "cost_basis", "training_basis", "flag", "run_id", "p50_spread", "throughput_spread",
    "measure_note", "price_source",
)
"""price_source: which kept source priced the row ('catalog: <source>, as of <date>', 'genai-prices: ...',
'override: ...'; '' when unpriced)."""
LOCAL_PRICE_SOURCE = "local endpoint"
"""How the price source of an endpoint on the evaluating machine starts (models.planning.api_prices: no
per-token price): such a run stays unpriced here, its machine is priced by its served rows."""
ENDPOINT_METHOD = "endpoint"
"""The method of an endpoint run (models.serving.endpoint: an OpenAI-compatible endpoint evaluated on the
set)."""


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
    levels = (serving.serving_levels(ws, list(runs["run_id"])) if settings.served_concurrency is not None
              else pd.DataFrame(columns=list(serving.LEVEL_COLUMNS)))
    rows: list[dict[str, object]] = []
    api_prices: list[tuple[str, ApiPrice]] = []
    for r in runs.to_dict("records"):
        if r["method"] == ENDPOINT_METHOD:
            rows.append(_endpoint_row(r, catalog, settings, api_prices))
            continue
        rows.append(_run_row(r, catalog, hw_prices, settings))
        level = levels[(levels["run_id"] == r["run_id"])
                       & (levels["concurrency"] == settings.served_concurrency)]
        if len(level):
            rows.append(_served_row(rows[-1], r, level.iloc[0].to_dict(), catalog, hw_prices, settings))
    _unique_names(rows)
    tokens = _measured_api_tokens(runs[runs["method"] != ENDPOINT_METHOD])
    apis = api_candidates(ws, settings.dataset)
    rows += [_api_row(a, tokens, settings) for a in apis.to_dict("records")]
    table = pd.DataFrame(rows, columns=list(LEADERBOARD_COLUMNS))
    table = _mark_frontier(table)
    flags = tuple(f"{r.candidate}: {r.flag}" for r in table.itertuples() if r.flag)
    flags += _eval_set_flags(runs)
    remeasure = tuple(Remeasure(r.key, str(r.run_id), r.candidate, r.measure_note)
                      for r in table.itertuples() if r.measure_note)
    used = sorted({int(p) for p in hw_prices.values() if p is not None} | set(apis["price_id"].astype(int))
                  | {int(p.price_id) for _, p in api_prices if p.price_id is not None})
    assumptions = _assumptions(settings, catalog, used, tokens) + tuple(
        f"Price of {name}: {format_usd(p.input_per_m_usd, digits=4)} in / "
        f"{format_usd(p.output_per_m_usd, digits=4)} out per 1M tokens ({p.label})"
        for name, p in api_prices if p.price_id is None)
    return Leaderboard(table=table, flags=flags, assumptions=assumptions,
                       settings=settings, hardware_prices=hw_prices, remeasure=remeasure,
                       price_ids=tuple(used))


METHOD_NAMES = {"classic": "classic", "linear_probe": "linear probe", "full": "fine-tune", "lora": "LoRA",
                "zero_shot": "zero-shot"}
"""How each training method reads on screen."""


def model_name(method: object, model: object) -> str:
    """'TF-IDF' for a classic run, else the model's last path part ('all-MiniLM-L6-v2')."""
    return "TF-IDF" if method == "classic" else str(model).split("/")[-1]


def _candidate_name(run: Mapping[str, object]) -> str:
    model = model_name(run["method"], run["model"])
    method = METHOD_NAMES.get(str(run["method"]), str(run["method"]))
    per_class = run.get("train_examples_per_class")
    size = f", {int(per_class)}/class" if per_class is not None and not pd.isna(per_class) else ""
    return f"{method} · {model}{size}"


def short_name(name: str, limit: int = 34) -> str:
    """A candidate's name for a chart label or a narrow column: 'linear probe · all-MiniLM-L6-v2, 16/class'
    -> 'probe · MiniLM-L6, 16/class', cut to `limit` characters with an ellipsis when still longer."""
    base = name.rsplit(" [", 1)[0]
    for long, short in (("TF-IDF + logistic regression", "TF-IDF"), ("linear probe", "probe"),
                        ("run of ", ""), ("all-MiniLM-L6-v2", "MiniLM-L6"),
                        ("SmolLM2-135M-Instruct", "SmolLM2-135M")):
        base = base.replace(long, short)
    return base if len(base) <= limit else base[: limit - 1] + "…"


def _run_stamp(run_id: str) -> str:
    """'run of 12-01 11:26:49' from a run id '20261201-112649-classic-tfidf'; else 'run <run_id>'."""
    parts = run_id.split("-")
    if len(parts) >= 2 and len(parts[0]) == 8 and len(parts[1]) == 6 and (parts[0] + parts[1]).isdigit():
        day, time = parts[0], parts[1]
        return f"run of {day[4:6]}-{day[6:]} {time[:2]}:{time[2:4]}:{time[4:]}"
    return f"run {run_id}"


def _unique_names(rows: list[dict[str, object]]) -> None:
    """Runs that would read the same ('linear probe · all-MiniLM-L6-v2, 16/class' twice) get their run's
    start time appended; a single run keeps the short name (its run id is in the provenance)."""
    counts: dict[object, int] = {}
    for row in rows:
        counts[row["candidate"]] = counts.get(row["candidate"], 0) + 1
    for row in rows:
        if counts[row["candidate"]] > 1:
            row["candidate"] = f"{row['candidate']} ({_run_stamp(str(row['run_id']))})"


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
    subset = f" (a {format_count(n)}-text subset of {format_count(total)})" if larger else ""
    row["run_id"] = str(run["run_id"])
    row["accuracy_basis"] = (f"measured on {format_count(n)} test texts{subset} of {run['dataset']}, run "
                             f"{run['run_id']}, {as_of_day(run['finished_at'])}")
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
                   "cost_per_1k_usd", "training_usd", "monthly_usd", "total_usd", "p50_spread",
                   "throughput_spread")
    row.update(dict.fromkeys(nan_columns, math.nan), key=key, candidate=name, kind=kind, on_frontier=False,
               flag="", measure_note="", price_source="")
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


def _first(run: Mapping[str, object], *names: str) -> object:
    """The first of `names` present and not missing in `run` (column names of the robust-measurement
    migration, with or without an 'inference_' prefix), else None."""
    for name in names:
        value = run.get(name)
        if value is not None and not (isinstance(value, float) and math.isnan(value)) and value is not pd.NA:
            return value
    return None


def _fill_latency(row: dict[str, object], run: Mapping[str, object], flags: list[str]) -> None:
    if pd.isna(run["throughput_per_s"]):
        flags.append("no inference benchmark yet, so no measured throughput or latency (inference.json is "
                     "written a few seconds after training ends; a run from an older version needs to be "
                     "trained again)")
        row["latency_basis"] = "not measured"
        return
    row.update(p50_ms=_float(run["p50_ms"]), p95_ms=_float(run["p95_ms"]),
               throughput_per_s=float(run["throughput_per_s"]),
               p50_spread=_float(_first(run, "p50_spread", "inference_p50_spread")),
               throughput_spread=_float(_first(run, "throughput_spread", "inference_throughput_spread")))
    repeats = _first(run, "repeats", "inference_repeats")
    spread = (f" (repeats within {format_spread(plus_minus(row['p50_spread']))} p50, "
              f"{format_spread(plus_minus(row['throughput_spread']))} throughput; {format_count(repeats)} "
              f"repeats)") if repeats is not None else ""
    row["latency_basis"] = (f"measured on {row['hardware']}, {as_of_day(run['inference_measured_at'])}: "
                            f"single request p50 {format_ms(row['p50_ms'])} / p95 "
                            f"{format_ms(row['p95_ms'])}; "
                            f"batched {format_number(row['throughput_per_s'])} requests/s{spread}")
    note = measurement_note(run, row["p50_spread"], row["throughput_spread"])
    if note:
        row["latency_basis"] += f"; {note}"
        row["measure_note"] = note


def measurement_note(run: Mapping[str, object], p50_spread: float = math.nan,
                     throughput_spread: float = math.nan) -> str:
    """Why a run's latency and throughput are not figures to decide on, or '' when they are.

    With the robust measurement (a `busy` mark and spreads between repeats): busy, or repeats further than
    ±P50_SPREAD_LIMIT (p50) or ±THROUGHPUT_SPREAD_LIMIT (throughput) from their median. For older
    benchmarks without those: the 1-minute load average above the core count.
    """
    busy = _first(run, "busy", "inference_busy")
    load, cpus = _float(run.get("inference_load_average")), _float(run.get("inference_cpu_count"))
    load_text = (f" (load {format_number(load)} on {format_count(cpus)} cores)"
                 if math.isfinite(load) and math.isfinite(cpus) else "")
    reasons = []
    if busy is not None or math.isfinite(p50_spread) or math.isfinite(throughput_spread):
        if busy is not None and bool(busy):
            reasons.append(f"machine busy while measured{load_text}")
        if math.isfinite(p50_spread) and plus_minus(p50_spread) > P50_SPREAD_LIMIT:
            reasons.append(f"p50 varied {format_spread(plus_minus(p50_spread))} between repeats")
        if math.isfinite(throughput_spread) and plus_minus(throughput_spread) > THROUGHPUT_SPREAD_LIMIT:
            reasons.append(f"throughput varied {format_spread(plus_minus(throughput_spread))} between "
                           f"repeats")
    elif math.isfinite(load) and math.isfinite(cpus) and load > cpus:
        reasons.append(f"machine busy while measured{load_text}")
    return "; ".join(reasons)


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
        row["price_source"] = _catalog_price_source(price)
        if not math.isnan(row["throughput_per_s"]):
            per_1k = costs.cost_per_1k_requests_usd(row["throughput_per_s"], float(price["hourly_usd"]),
                                                    settings.utilisation)
            row["cost_per_1k_usd"] = per_1k
            row["cost_basis"] = (f"{price_basis(price)} / ({format_number(row['throughput_per_s'])} "
                                 f"requests/s measured x {format_percent(settings.utilisation)} "
                                 f"utilisation) = "
                                 f"{format_usd_per_requests(per_1k / 1000.0)}")
    if train_price_id is not None and train_price_id in catalog.index and not pd.isna(run["train_seconds"]):
        train_price = catalog.loc[train_price_id]
        row["training_usd"] = costs.training_cost_usd(float(run["train_seconds"]),
                                                      float(train_price["hourly_usd"]))
        row["training_basis"] = (f"{format_duration(float(run['train_seconds']))} measured on {train_hw} x "
                                 f"{price_basis(train_price)} = {format_usd(row['training_usd'])}")
    elif pd.isna(run["train_seconds"]):
        row["training_basis"] = "training time not recorded"
    _fill_totals(row, settings)


def endpoint_host(base_url: object) -> str:
    """'api.openai.com' or '127.0.0.1:8000' from an endpoint's base URL ('endpoint' when unreadable)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(str(base_url or ""))
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "endpoint"
    if not host:
        return "endpoint"
    return f"{host}:{port}" if port and host in ("127.0.0.1", "localhost", "::1") else host


def run_api_price(run: Mapping[str, object], catalog: pd.DataFrame) -> ApiPrice | None:
    """The price an endpoint run is priced at: a price given with the run that is not genai-prices' list
    price (the user's override) first; else the catalog's row for the model (the user-edited catalog); else
    the list price the run was estimated with (genai-prices); else genai-prices looked up here; else None."""
    model, base_url = str(run["model"]), run.get("endpoint_base_url")
    base_url = str(base_url) if isinstance(base_url, str) else None
    given = None
    tin, tout = _float(run.get("run_price_input_per_m_usd")), _float(run.get("run_price_output_per_m_usd"))
    if math.isfinite(tin) and tin >= 0:
        source = str(run.get("run_price_source") or "given with the run")
        as_of = run.get("run_price_as_of")
        day = None
        if isinstance(as_of, str) and as_of.strip():
            try:
                day = pd.Timestamp(as_of).date()
            except (ValueError, TypeError):
                day = None
        if source.lower().startswith(LOCAL_PRICE_SOURCE):
            return None  # an endpoint on the client's machine: its cost is the machine's, not per token
        listed = "genai-prices" in source.lower()
        given = ApiPrice(tin, tout if math.isfinite(tout) else 0.0, source, day,
                         GENAI_PRICES if listed else OVERRIDE, None, model)
        if not listed:
            return given
    return (catalog_api_price(catalog, model, base_url) or given
            or api_price(catalog.iloc[:0], model, base_url))


def _endpoint_row(run: dict[str, object], catalog: pd.DataFrame, settings: CompareSettings,
                  api_prices: list[tuple[str, ApiPrice]]) -> dict[str, object]:
    """A leaderboard row for an endpoint run: measured accuracy (CI from eval.json), client latency, tokens
    per request from the responses' usage, priced as an API (`run_api_price`)."""
    host = endpoint_host(run.get("endpoint_base_url"))
    shots = run.get("endpoint_shots")
    shot_text = f", {shots}-shot" if isinstance(shots, str) and shots.isdigit() and int(shots) > 0 else ""
    name = f"{run['model']} @ {host}{shot_text}"
    row = _empty_row(f"run:{run['run_id']}", name, "api", run)
    n = int(run["n_test"]) if not pd.isna(run["n_test"]) else 0
    row.update(method=ENDPOINT_METHOD, accuracy=float(run["accuracy"]), n_eval=n,
               macro_f1=_float(run["macro_f1"]), accuracy_ci_low=_float(run["accuracy_ci_low"]),
               accuracy_ci_high=_float(run["accuracy_ci_high"]),
               training_usd=0.0, hardware=f"endpoint {host}", run_id=str(run["run_id"]),
               training_basis="none: a hosted endpoint needs no training")
    if math.isnan(row["accuracy_ci_low"]):
        row["accuracy_ci_low"], row["accuracy_ci_high"] = wilson_interval(row["accuracy"] * n, n)
    measured = as_of_day(run.get("endpoint_measured_at") or run["finished_at"])
    sent = run.get("endpoint_requests_sent")
    requests = f"{format_count(sent)} requests" if sent is not None and not pd.isna(sent) else "requests"
    unparseable = run.get("endpoint_unparseable")
    bad = (f"; {format_count(unparseable)} unparseable answers counted wrong"
           if unparseable is not None and not pd.isna(unparseable) and int(unparseable) > 0 else "")
    total = run.get("n_test_total")
    subset = (f" (a {format_count(n)}-text subset of {format_count(total)})"
              if total is not None and not pd.isna(total) and int(total) > n else "")
    flags: list[str] = []
    price = run_api_price(run, catalog)
    price_text = f"price: {price.label}" if price is not None else "price: none"
    row["accuracy_basis"] = (f"measured: endpoint {host}, {measured}, {requests}; {format_count(n)} test "
                             f"texts{subset} of {run['dataset']}{bad}; run {run['run_id']}; {price_text}")
    p50 = _float(run.get("p50_ms"))
    if math.isfinite(p50):
        row.update(p50_ms=p50, p95_ms=_float(run.get("p95_ms")))
        row["latency_basis"] = (f"measured by the client over HTTP at endpoint {host}, {measured}: p50 "
                                f"{format_ms(p50)} / p95 {format_ms(row['p95_ms'])} per request (cache hits "
                                f"excluded; includes the network)")
    else:
        row["latency_basis"] = "not measured (every answer came from the cache)"
    tin, tout = _float(run.get("endpoint_prompt_tokens")), _float(run.get("endpoint_completion_tokens"))
    local = str(run.get("run_price_source") or "").lower().startswith(LOCAL_PRICE_SOURCE)
    if price is None and local:
        flags.append("an endpoint on this machine has no per-token price: its cost is the machine's "
                     "(load-test the served run and pick a served concurrency), or give a price override "
                     "when adding it")
    elif price is None:
        flags.append(f"no price for model '{run['model']}': add an API row named '{run['model']}' to the "
                     f"price catalog (Prices tab), or give a price override when adding the endpoint")
    elif not math.isfinite(tin):
        flags.append("no token usage in the endpoint's responses, so no cost per request; evaluate it again "
                     "with an endpoint that reports usage")
    else:
        tout = tout if math.isfinite(tout) else 0.0
        per_1k = costs.api_cost_per_1k_requests_usd(tin, tout, price.input_per_m_usd, price.output_per_m_usd)
        row["cost_per_1k_usd"] = per_1k
        row["price_label"] = f"{price.model or run['model']} · {price.provider or host}"
        row["price_source"] = price.label
        row["cost_basis"] = (f"({format_number(tin)} prompt x {format_usd(price.input_per_m_usd, digits=4)} "
                             f"+ {format_number(tout)} completion x "
                             f"{format_usd(price.output_per_m_usd, digits=4)}) per 1M tokens = "
                             f"{format_usd_per_requests(per_1k / 1000.0)}; tokens measured "
                             f"from the responses' usage; {price_text}")
        api_prices.append((str(run["model"]), price))
    row["flag"] = "; ".join(flags)
    _fill_totals(row, settings)
    return row


def _served_row(run_row: Mapping[str, object], run: Mapping[str, object], level: Mapping[str, object],
                catalog: pd.DataFrame, hw_prices: dict[str, int | None],
                settings: CompareSettings) -> dict[str, object]:
    """The run served by a real server under load: the load test's requests/s at the chosen concurrency x
    the hourly price of the machine it was measured on (its own price pick, else the run's)."""
    concurrency = int(level["concurrency"])
    server = str(level.get("server") or "server")
    measured = as_of_day(level["measured_at"])
    label = f"served, concurrency {concurrency}, {server}, {measured}"
    row = dict(run_row)
    row.update(key=f"served:{run['run_id']}:{concurrency}", kind="served",
               candidate=f"served c{concurrency} · {run_row['candidate']}", on_frontier=False, flag="",
               measure_note="", p50_spread=math.nan, throughput_spread=math.nan, cost_per_1k_usd=math.nan,
               monthly_usd=math.nan, total_usd=math.nan, cost_basis=None, price_label=None, price_source="")
    hardware = str(level.get("hardware") or run_row["hardware"])
    row["hardware"] = hardware
    rps = _float(level.get("requests_per_s"))
    errors = level.get("errors")
    error_text = (f", {format_count(errors)} errors of {format_count(level.get('requests'))} requests"
                  if errors is not None and not pd.isna(errors) else "")
    row.update(p50_ms=_float(level.get("p50_ms")), p95_ms=_float(level.get("p95_ms")), throughput_per_s=rps)
    row["latency_basis"] = (f"{label} on {hardware}: p50 {format_ms(row['p50_ms'])} / p95 "
                            f"{format_ms(row['p95_ms'])} per request under load, "
                            f"{format_number(rps) if math.isfinite(rps) else 'no'} requests/s{error_text} "
                            f"(the in-process figure: the same run's row without 'served')")
    flags = []
    price_id = hw_prices.get(hardware)
    if price_id is None:
        from analytics.compute.compare.pricing import match_price

        price_id = match_price(hardware, catalog) or hw_prices.get(str(run_row["hardware"]))
    if price_id is None or price_id not in catalog.index:
        flags.append(f"no price for hardware '{hardware}': pick a price row for it under 'Hardware prices'")
    elif not math.isfinite(rps) or rps <= 0:
        flags.append(f"the load test at concurrency {concurrency} served no request; see its error rate")
    else:
        price = catalog.loc[price_id]
        per_1k = costs.cost_per_1k_requests_usd(rps, float(price["hourly_usd"]), settings.utilisation)
        row.update(cost_per_1k_usd=per_1k, price_label=str(price["label"]),
                   price_source=_catalog_price_source(price))
        row["cost_basis"] = (f"{price_basis(price)} / ({format_number(rps)} requests/s measured {label} x "
                             f"{format_percent(settings.utilisation)} utilisation) = "
                             f"{format_usd_per_requests(per_1k / 1000.0)}")
    row["flag"] = "; ".join(flags)
    _fill_totals(row, settings)
    return row


def _catalog_price_source(price: Mapping[str, object]) -> str:
    """'catalog: <source>, as of <date>' for a catalog row (an undated one cites its source only)."""
    day = as_of_day(price.get("as_of"))
    return f"catalog: {price['source']}" + (f", as of {day}" if day != "undated" else "")


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
        row["price_source"] = _catalog_price_source({"source": api["price_source"], "as_of": api["as_of"]})
        price_in = format_usd(float(api["input_per_m_usd"]), digits=4)
        price_out = format_usd(float(api["output_per_m_usd"]), digits=4)
        dated = as_of_day(api["as_of"])
        row["cost_basis"] = (f"({format_number(tin)} input x {price_in} + {format_number(tout)} output x "
                             f"{price_out}) per 1M tokens = {format_usd_per_requests(per_1k / 1000.0)}; "
                             f"tokens {how}; price {api['price_source']}"
                             + (f", as of {dated}" if dated != "undated" else ""))
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
        counts = ", ".join(map(format_count, sizes))
        return (f"runs were scored on different numbers of test texts ({counts}); "
                f"accuracies on a subset have wider intervals",)
    return ()


def _assumptions(settings: CompareSettings, catalog: pd.DataFrame, price_ids: Sequence[int],
                 tokens: ApiTokens) -> tuple[str, ...]:
    lines = [
        f"Volume: {format_count(settings.requests_per_month)} requests per month; horizon "
        f"{settings.months} months "
        f"(training paid once, included in the total).",
        f"Self-hosted utilisation: {format_percent(settings.utilisation)} of paid machine time serves "
        f"requests at the "
        f"measured batch throughput (autoscaled or shared machine). An always-on machine costs its hourly "
        f"price x {HOURS_PER_MONTH:,.0f} h per month whatever the volume.",
    ]
    if tokens.input_tokens is not None:
        lines.append(f"API requests: {format_number(tokens.input_tokens)} input and "
                     f"{format_number(tokens.output_tokens or 0)} "
                     f"output tokens on average (classification prompt listing every label + the text; "
                     f"counted with {tokens.tokenizer}).")
    lines += [f"Price: {price_basis(catalog.loc[p])}" for p in price_ids if p in catalog.index]
    return tuple(lines)
