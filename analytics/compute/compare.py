"""Compare candidates on one evaluation set: measured accuracy against measured or priced dollars.

A candidate is a succeeded run (classic, linear probe, fine-tune, LoRA, zero-shot LLM) or a hosted API whose
accuracy the user entered with a source (or computed from an imported predictions file). Every number in the
leaderboard carries its provenance: measured on a named machine on a date, a dated catalog price, or an
estimate with its formula. Nothing misleading is drawn silently: a run whose hardware has no price, an API
without token counts, or a zero volume is flagged (or refused) with what to do about it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from analytics.compute import costs
from analytics.compute.costs import CostInputError
from analytics.db import Workspace, register_app_tables
from analytics.ingest.prices import price_table

register_app_tables("api_candidates", "api_predictions")

Z_95 = 1.959963984540054
MONTHS = 12
HOURS_PER_MONTH = 24.0 * costs.DAYS_PER_MONTH
PREDICTION_FILE_COLUMNS = ("text_id", "pred_label")
MIN_BREAK_EVEN_REQUESTS = 1.0
"""Break-even volumes below one request a month are not decisions anyone faces; they are left out."""


@dataclass(frozen=True)
class CompareSettings:
    """What the user decides on the Compare page; every leaderboard number depends only on these and the data."""

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
            raise CostInputError(f"the accuracy target must be between 0 and 100%, got {self.accuracy_target:.1%}")


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
    "key", "candidate", "kind", "method", "model", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1",
    "n_eval", "p50_ms", "p95_ms", "throughput_per_s", "hardware", "price_label", "cost_per_1k_usd",
    "training_usd", "monthly_usd", "total_usd", "on_frontier", "train_examples_per_class", "n_classes",
    "model_params", "tokens_per_request", "accuracy_basis", "latency_basis", "cost_basis", "training_basis", "flag",
)


# ------------------------------------------------------------------------------------------ small helpers


def wilson_interval(accuracy: float, n: int) -> tuple[float, float]:
    """95% Wilson score interval for a proportion measured on n examples."""
    if n <= 0:
        return (math.nan, math.nan)
    z2 = Z_95 * Z_95
    centre = (accuracy + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * math.sqrt(accuracy * (1 - accuracy) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _day(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "undated"
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    except (ValueError, TypeError):
        return "undated"


def _money(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if value >= 1 or value == 0:
        return f"${value:,.2f}"
    return f"${value:.3g}"


def price_basis(row: Mapping[str, object]) -> str:
    """'AWS c7g.large: $0.0725/h (source, as of 2026-11-09)' for a price catalog row."""
    if row.get("kind") == "api":
        figure = f"${row['input_per_m_usd']:g} in / ${row['output_per_m_usd']:g} out per 1M tokens"
    else:
        figure = f"${row['hourly_usd']:g}/h"
    return f"{row['name']} · {row['provider']}: {figure} ({row['source']}, as of {_day(row.get('as_of'))})"


def data_signature(ws: Workspace) -> tuple[int, ...]:
    """(runs, runs with an inference record, API candidates, price edits): changes whenever anything the
    Compare page shows could have changed, whoever wrote it (another session, a job sync)."""
    runs, measured = ws.rows("select count(*), count(inference_measured_at) from runs")[0]
    apis = ws.scalar("select count(*) from api_candidates")
    edits = ws.scalar("select count(*) from price_edits")
    return (int(runs), int(measured), int(apis), int(edits))


def evaluation_sets(ws: Workspace) -> pd.DataFrame:
    """Datasets with at least one succeeded run or API candidate: dataset, runs, api_candidates, latest."""
    return ws.query("compare_evaluation_sets")


# ------------------------------------------------------------------------------------------ hardware prices


def hardware_names(ws: Workspace, dataset: str) -> list[str]:
    """Hardware the dataset's runs trained or were measured on, sorted."""
    runs = ws.query("compare_runs", dataset=dataset)
    names = set(runs["hardware"].dropna()) | set(runs["inference_hardware"].dropna())
    return sorted(str(n) for n in names)


def match_price(hardware: str, catalog: pd.DataFrame) -> int | None:
    """A default price row for a measured hardware name, or None when nothing in the catalog fits.

    'CPU x2' matches a cpu row named '2 vCPU'; a GPU name matches the first gpu row (catalog order:
    hyperscaler on-demand first) whose model (H100, A100, L4, T4...) appears in it.
    """
    text = hardware.lower()
    if text.startswith("cpu"):
        cores = "".join(ch for ch in text.split("x")[-1] if ch.isdigit())
        rows = catalog[(catalog["kind"] == "cpu") & catalog["name"].str.contains(f"{cores} vCPU", regex=False)]
        return int(rows.iloc[0]["price_id"]) if cores and len(rows) else None
    words = set(re.split(r"[\s\-_/]+", text))
    for _, row in catalog[catalog["kind"] == "gpu"].iterrows():
        if str(row["name"]).split()[0].lower() in words:
            return int(row["price_id"])
    return None


def resolve_hardware_prices(ws: Workspace, dataset: str,
                            chosen: Sequence[tuple[str, int]] = ()) -> dict[str, int | None]:
    """Hardware name -> price_id: the user's choice, else `match_price`, else None (flagged)."""
    catalog = price_table(ws)
    picked = dict(chosen)
    return {hw: picked.get(hw, match_price(hw, catalog)) for hw in hardware_names(ws, dataset)}


# ------------------------------------------------------------------------------------------ API candidates


def add_api_candidate(ws: Workspace, *, name: str, dataset: str, price_id: int, accuracy: float, n_eval: int,
                      accuracy_source: str, macro_f1: float | None = None,
                      input_tokens_per_request: float | None = None,
                      output_tokens_per_request: float | None = None) -> int:
    """Record a hosted API as a candidate on `dataset`; returns its candidate_id.

    Raises CostInputError when the source is empty, the accuracy is outside 0-1 (give 0.87, not 87),
    n_eval < 1, the price row is not an API price, the token counts are not positive, or the name is taken.
    """
    name, source = str(name or "").strip(), str(accuracy_source or "").strip()
    if not name:
        raise CostInputError("give the API candidate a name, e.g. 'gpt-4o-mini, zero-shot prompt'")
    if not source:
        raise CostInputError("say where the accuracy comes from (a paper, a leaderboard URL, your own eval file); "
                             "an accuracy without a source is not added")
    accuracy = _fraction("accuracy", accuracy)
    macro_f1 = None if macro_f1 is None else _fraction("macro-F1", macro_f1)
    if not isinstance(n_eval, (int, np.integer)) or isinstance(n_eval, bool) or n_eval < 1:
        raise CostInputError(f"n_eval (examples the accuracy was measured on) must be a whole number >= 1, "
                             f"got {n_eval!r}")
    _check_api_price(ws, price_id)
    tokens_in = None if input_tokens_per_request is None else costs.check_positive(
        "input tokens per request", input_tokens_per_request, upper=2e6)
    tokens_out = None if output_tokens_per_request is None else costs.check_positive(
        "output tokens per request", output_tokens_per_request, allow_zero=True, upper=2e6)
    return _insert_candidate(ws, [name, dataset, int(price_id), accuracy, macro_f1, int(n_eval), source,
                                  tokens_in, tokens_out, None])


def _fraction(label: str, value: object) -> float:
    number = costs.check_positive(label, value, allow_zero=True)
    if number > 1:
        raise CostInputError(f"{label} must be a fraction between 0 and 1 (0.87 for 87%), got {number:g}")
    return number


def _check_api_price(ws: Workspace, price_id: int) -> None:
    kind = ws.scalar("select kind from prices where price_id = ?", [int(price_id)])
    if kind is None:
        raise CostInputError(f"no price row {price_id}; pick an API row from the price catalog")
    if kind != "api":
        raise CostInputError(f"price row {price_id} is a {kind} price; an API candidate needs an API price row")


def _insert_candidate(ws: Workspace, values: list[object]) -> int:
    with ws.transaction() as cur:
        taken = cur.execute("select count(*) from api_candidates where dataset = ? and name = ?",
                            [values[1], values[0]]).fetchone()[0]
        if taken:
            raise CostInputError(f"an API candidate named {values[0]!r} already exists on {values[1]}; "
                                 f"choose another name or delete the old one")
        new_id = cur.execute("select coalesce(max(candidate_id), 0) + 1 from api_candidates").fetchone()[0]
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        cur.execute("insert into api_candidates (candidate_id, name, dataset, price_id, accuracy, macro_f1, n_eval, "
                    "accuracy_source, input_tokens_per_request, output_tokens_per_request, matched_run_id, "
                    "entered_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [new_id, *values, now])
    return int(new_id)


def import_api_predictions(ws: Workspace, *, name: str, price_id: int, run_id: str, predictions: pd.DataFrame,
                           file_name: str) -> int:
    """Add an API candidate whose accuracy is computed from its predictions on a run's test texts.

    `predictions` needs text_id and pred_label columns; rows are matched to `run_id`'s stored test predictions
    by text_id (unmatched ids are refused, so a file for another split cannot slip in). The source recorded
    is the file name. Returns the candidate_id. Raises CostInputError with the fix.
    """
    missing = [c for c in PREDICTION_FILE_COLUMNS if c not in predictions.columns]
    if missing:
        raise CostInputError(f"the predictions file needs columns {', '.join(PREDICTION_FILE_COLUMNS)}; "
                             f"missing {', '.join(missing)} (it has {', '.join(map(str, predictions.columns))})")
    truth = ws.sql("select r.dataset, p.text_id, p.true_label from run_predictions p join runs r using (run_id) "
                   "where run_id = ?", [run_id])
    if truth.empty:
        raise CostInputError(f"run {run_id!r} has no stored test predictions to match against; pick another run")
    frame = pd.DataFrame({"text_id": predictions["text_id"].astype(str).str.strip(),
                          "pred_label": predictions["pred_label"].astype(str).str.strip()})
    if frame["text_id"].duplicated().any():
        raise CostInputError("the predictions file repeats some text_id values; keep one prediction per text")
    merged = frame.merge(truth[["text_id", "true_label"]], on="text_id", how="left")
    unmatched = merged["true_label"].isna()
    if unmatched.any():
        examples = ", ".join(merged.loc[unmatched, "text_id"].head(3))
        raise CostInputError(f"{int(unmatched.sum())} text_id values are not in run {run_id}'s test set "
                             f"(e.g. {examples}); export predictions for the same test texts")
    merged["correct"] = merged["true_label"].astype(str) == merged["pred_label"]
    _check_api_price(ws, price_id)
    candidate_id = _insert_candidate(ws, [str(name).strip() or file_name, str(truth["dataset"].iloc[0]),
                                          int(price_id), float(merged["correct"].mean()), None, len(merged),
                                          f"imported predictions: {file_name}", None, None, run_id])
    rows = merged.assign(candidate_id=candidate_id)[["candidate_id", "text_id", "true_label", "pred_label",
                                                     "correct"]]
    with ws.transaction() as cur:
        ws.insert_frame(cur, "api_predictions", rows)
    return candidate_id


def delete_api_candidate(ws: Workspace, candidate_id: int) -> None:
    """Remove an API candidate and its imported predictions."""
    with ws.transaction() as cur:
        cur.execute("delete from api_predictions where candidate_id = ?", [int(candidate_id)])
        cur.execute("delete from api_candidates where candidate_id = ?", [int(candidate_id)])


def api_candidates(ws: Workspace, dataset: str) -> pd.DataFrame:
    """API candidates on `dataset` with their price rows."""
    return ws.query("compare_api", dataset=dataset)


# ------------------------------------------------------------------------------------------ the leaderboard


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
               accuracy_ci_low=_float(run["accuracy_ci_low"]), accuracy_ci_high=_float(run["accuracy_ci_high"]))
    if math.isnan(row["accuracy_ci_low"]):
        row["accuracy_ci_low"], row["accuracy_ci_high"] = wilson_interval(row["accuracy"], n)
    total = run.get("n_test_total")
    subset = f" (a {n}-text subset of {int(total)})" if total and not pd.isna(total) and int(total) > n else ""
    row["accuracy_basis"] = (f"measured on {n} test texts{subset} of {run['dataset']}, run {run['run_id']}, "
                             f"{_day(run['finished_at'])}")
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
    row.update(dict.fromkeys(nan_columns, math.nan), key=key, candidate=name, kind=kind, on_frontier=False, flag="")
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
        flags.append("no inference benchmark yet, so no measured throughput or latency (inference.json is written "
                     "a few seconds after training ends; a run from an older version needs to be trained again)")
        row["latency_basis"] = "not measured"
        return
    row.update(p50_ms=_float(run["p50_ms"]), p95_ms=_float(run["p95_ms"]),
               throughput_per_s=float(run["throughput_per_s"]))
    row["latency_basis"] = (f"measured on {row['hardware']}, {_day(run['inference_measured_at'])}: single request "
                            f"p50 {row['p50_ms']:.1f} ms / p95 {row['p95_ms']:.1f} ms; batched "
                            f"{row['throughput_per_s']:,.1f} requests/s")
    load, cpus = _float(run.get("inference_load_average")), _float(run.get("inference_cpu_count"))
    if math.isfinite(load) and math.isfinite(cpus) and load > cpus:
        busy = f"machine busy while measured (load {load:.1f} on {cpus:.0f} cores)"
        row["latency_basis"] += f"; {busy}"
        flags.append(f"{busy}: its throughput and latency read worse than the hardware is; re-measure on an idle "
                     f"machine before deciding on cost")


def _fill_self_hosted_cost(row: dict[str, object], run: Mapping[str, object], catalog: pd.DataFrame,
                           hw_prices: dict[str, int | None], settings: CompareSettings, flags: list[str]) -> None:
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
            row["cost_basis"] = (f"{price_basis(price)} / ({row['throughput_per_s']:,.1f} requests/s measured x "
                                 f"{settings.utilisation:.0%} utilisation) x 1000 = {_money(per_1k)} per 1k")
    if train_price_id is not None and train_price_id in catalog.index and not pd.isna(run["train_seconds"]):
        train_price = catalog.loc[train_price_id]
        row["training_usd"] = costs.training_cost_usd(float(run["train_seconds"]), float(train_price["hourly_usd"]))
        row["training_basis"] = (f"{float(run['train_seconds']):,.1f} s measured on {train_hw} x "
                                 f"{price_basis(train_price)} = {_money(row['training_usd'])}")
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
    """Token counts recorded by the runs' inference benchmarks (the newest run's; all count the same texts)."""
    counted = runs.dropna(subset=["api_input_tokens"])
    if counted.empty:
        return ApiTokens(None, None, None)
    last = counted.iloc[-1]
    return ApiTokens(float(last["api_input_tokens"]), _float(last["api_output_tokens"]), str(last["api_tokenizer"]))


def _api_row(api: dict[str, object], tokens: ApiTokens, settings: CompareSettings) -> dict[str, object]:
    """A leaderboard row for one hosted-API candidate."""
    row = _empty_row(f"api:{api['candidate_id']}", f"{api['name']} (API)", "api", None)
    n = int(api["n_eval"])
    low, high = wilson_interval(float(api["accuracy"]), n)
    row.update(method="api", model=api["price_name"], accuracy=float(api["accuracy"]), n_eval=n,
               macro_f1=_float(api["macro_f1"]), accuracy_ci_low=low, accuracy_ci_high=high, training_usd=0.0,
               hardware="hosted API", latency_basis="not measured (hosted API)",
               training_basis="none: a hosted API needs no training", price_label=f"{api['price_name']} · "
               f"{api['provider']}")
    row["accuracy_basis"] = f"{api['accuracy_source']} (n = {n}; CI: Wilson interval on n)"
    flags: list[str] = []
    tin, tout, how = _api_token_counts(api, tokens)
    if tin is None:
        flags.append("no token count: enter input tokens per request, or run any model on this dataset so its "
                     "test texts are counted")
    else:
        per_1k = costs.api_cost_per_1k_requests_usd(tin, tout, float(api["input_per_m_usd"]),
                                                     float(api["output_per_m_usd"]))
        row["cost_per_1k_usd"] = per_1k
        row["cost_basis"] = (f"({tin:,.1f} input x ${float(api['input_per_m_usd']):g} + {tout:,.1f} output x "
                             f"${float(api['output_per_m_usd']):g}) per 1M tokens x 1000 = {_money(per_1k)} per 1k; "
                             f"tokens {how}; price {api['price_source']}, as of {_day(api['as_of'])}")
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
    order = table.assign(_unpriced=~priced).sort_values(["_unpriced", "on_frontier", "cost_per_1k_usd", "accuracy"],
                                                        ascending=[True, False, True, False])
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
        f"Self-hosted utilisation: {settings.utilisation:.0%} of paid machine time serves requests at the measured "
        f"batch throughput (autoscaled or shared machine). An always-on machine costs its hourly price x "
        f"{HOURS_PER_MONTH:,.0f} h per month whatever the volume.",
    ]
    if tokens.input_tokens is not None:
        lines.append(f"API requests: {tokens.input_tokens:,.1f} input and {tokens.output_tokens or 0:,.1f} output "
                     f"tokens on average (classification prompt listing every label + the text; counted with "
                     f"{tokens.tokenizer}).")
    lines += [f"Price: {price_basis(catalog.loc[p])}" for p in price_ids if p in catalog.index]
    return tuple(lines)


# ------------------------------------------------------------------------------------------ decisions


def break_even_points(board: Leaderboard) -> pd.DataFrame:
    """Monthly volumes (at least one request) at which two frontier candidates cost the same over the horizon.

    Columns: a, b, requests_per_month, total_usd (the shared total there). Pairs that never cross are left out.
    """
    frontier = board.priced[board.priced["on_frontier"]]
    months = board.settings.months
    out = []
    records = frontier.to_dict("records")
    for i, a in enumerate(records):
        for b in records[i + 1:]:
            fixed_a, fixed_b = _fixed(a), _fixed(b)
            volume = costs.break_even_requests_per_month(fixed_a, a["cost_per_1k_usd"], fixed_b, b["cost_per_1k_usd"],
                                                         months)
            if volume is not None and volume >= MIN_BREAK_EVEN_REQUESTS:
                total = fixed_a + months * a["cost_per_1k_usd"] * volume / 1000.0
                out.append({"a": a["candidate"], "b": b["candidate"], "requests_per_month": volume,
                            "total_usd": total})
    return pd.DataFrame(out, columns=["a", "b", "requests_per_month", "total_usd"])


def _fixed(row: Mapping[str, object]) -> float:
    training = float(row["training_usd"])
    return 0.0 if math.isnan(training) else training


def total_cost_curves(board: Leaderboard, volumes: Sequence[float] | None = None) -> pd.DataFrame:
    """Total cost over the horizon for each priced candidate at each monthly volume (long format):
    candidate, requests_per_month, total_usd, on_frontier."""
    grid = np.asarray(volumes if volumes is not None else np.logspace(0, 9, 73), dtype=float)
    months = board.settings.months
    parts = [pd.DataFrame({"candidate": r["candidate"], "requests_per_month": grid,
                           "total_usd": _fixed(r) + months * r["cost_per_1k_usd"] * grid / 1000.0,
                           "on_frontier": bool(r["on_frontier"])}) for r in board.priced.to_dict("records")]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["candidate", "requests_per_month", "total_usd", "on_frontier"])


def recommend(board: Leaderboard) -> str:
    """One sentence: the cheapest candidate (total over the horizon) that meets the accuracy target, or the best
    value on the frontier when no target is set; says so plainly when nothing qualifies."""
    priced = board.priced
    volume = f"{board.settings.requests_per_month:,.0f} requests per month"
    if priced.empty:
        return (f"No recommendation yet: no candidate has both a measured accuracy and a cost at {volume}; "
                f"resolve the flags below (missing prices or benchmarks) or run the quick demo.")
    target = board.settings.accuracy_target
    eligible = priced if target is None else priced[priced["accuracy"] >= target]
    if eligible.empty:
        best = priced.sort_values(["accuracy", "total_usd"], ascending=[False, True]).iloc[0]
        return (f"No candidate reaches the {target:.1%} accuracy target; the most accurate is {best['candidate']} "
                f"at {_pct(best)}, costing {_money(best['total_usd'])} over {board.settings.months} months at "
                f"{volume}: collect more labels or try a larger model before deciding.")
    months = board.settings.months
    if target is None:
        choice = _best_value(priced)
        why = ("the highest of any priced candidate," if choice["accuracy"] >= priced["accuracy"].max()
               else "statistically level with the most accurate candidate (95% intervals overlap),")
        sentence = f"At {volume}, choose {choice['candidate']}: accuracy {_pct(choice)}, {why} for the lowest "
    else:
        choice = eligible.sort_values(["total_usd", "accuracy"], ascending=[True, False]).iloc[0]
        sentence = (f"At {volume}, choose {choice['candidate']}: accuracy {_pct(choice)} meets the {target:.1%} "
                    f"target at the lowest ")
    sentence += (f"{months}-month cost, {_money(choice['total_usd'])} ({_money(choice['cost_per_1k_usd'])} per 1k "
                 f"requests)")
    better = priced[priced["accuracy_ci_low"] > choice["accuracy_ci_high"]]
    if not better.empty:
        alt = better.sort_values("total_usd").iloc[0]
        sentence += (f"; {alt['candidate']} is significantly more accurate ({_pct(alt)}) for "
                     f"{_money(alt['total_usd'] - choice['total_usd'])} more")
    return sentence + "."


def _best_value(priced: pd.DataFrame) -> pd.Series:
    """Without a target: the most accurate frontier candidate whose accuracy is not significantly below the
    best's (CIs overlap), cheapest among those."""
    frontier = priced[priced["on_frontier"]]
    top = frontier.sort_values("accuracy", ascending=False).iloc[0]
    close = frontier[frontier["accuracy_ci_high"].fillna(frontier["accuracy"]) >= top["accuracy_ci_low"]]
    return close.sort_values(["total_usd", "accuracy"], ascending=[True, False]).iloc[0]


def _pct(row: Mapping[str, object]) -> str:
    low, high = float(row["accuracy_ci_low"]), float(row["accuracy_ci_high"])
    ci = f" (95% CI {low:.1%}-{high:.1%})" if math.isfinite(low) and math.isfinite(high) else ""
    return f"{float(row['accuracy']):.1%}{ci}"


# ------------------------------------------------------------------------------------------ cascades


@dataclass(frozen=True)
class Cascade:
    """`cascade()`'s result."""

    curve: pd.DataFrame
    """threshold, deferred_share, accuracy, cost_per_1k_usd, best (on the cascade's own frontier)."""
    small: str
    """Leaderboard name of the model that answers first."""
    big: str
    """Leaderboard name of the model that answers when the small one is unsure."""
    n_examples: int
    """Test texts both candidates scored (the curve is computed on these)."""
    small_alone: tuple[float, float]
    """(accuracy, $/1k) of the small model alone on those texts."""
    big_alone: tuple[float, float]
    """(accuracy, $/1k) of the big model alone on those texts."""


def cascade(ws: Workspace, board: Leaderboard, small_key: str, big_key: str) -> Cascade:
    """Simulate 'small answers when its confidence >= threshold, else big answers' from stored predictions.

    `small_key` must be a run (it needs confidences); `big_key` a run or an API candidate with imported
    predictions. Costs come from the leaderboard (small always runs; big only on deferred texts).
    Raises CostInputError when a candidate has no cost, no predictions, or the two share no test texts.
    """
    rows = board.table.set_index("key")
    for key in (small_key, big_key):
        if key not in rows.index:
            raise CostInputError(f"{key} is not a candidate on {board.settings.dataset}")
        if not math.isfinite(float(rows.loc[key, "cost_per_1k_usd"])):
            raise CostInputError(f"{rows.loc[key, 'candidate']} has no cost per request yet: {rows.loc[key, 'flag']}")
    if not small_key.startswith("run:"):
        raise CostInputError("the first model of a cascade must be one of your runs (it needs a confidence score)")
    big_run = big_key.removeprefix("run:") if big_key.startswith("run:") else None
    big_api = int(big_key.removeprefix("api:")) if big_key.startswith("api:") else None
    pairs = ws.query("compare_cascade_pairs", small_run_id=small_key.removeprefix("run:"), big_run_id=big_run,
                     big_candidate_id=big_api)
    if pairs.empty:
        raise CostInputError("the two candidates share no scored test texts (an API needs imported predictions on "
                             "the same test set); pick another pair")
    small_cost, big_cost = float(rows.loc[small_key, "cost_per_1k_usd"]), float(rows.loc[big_key, "cost_per_1k_usd"])
    curve = costs.cascade_curve(pairs["small_confidence"], pairs["small_correct"], pairs["big_correct"],
                                small_cost, big_cost)
    curve["best"] = costs.pareto_mask(curve["cost_per_1k_usd"], curve["accuracy"])
    return Cascade(curve=curve, small=str(rows.loc[small_key, "candidate"]), big=str(rows.loc[big_key, "candidate"]),
                   n_examples=len(pairs),
                   small_alone=(float(pairs["small_correct"].mean()), small_cost),
                   big_alone=(float(pairs["big_correct"].mean()), big_cost))


def cascade_operating_points(result: Cascade, max_points: int = 5) -> pd.DataFrame:
    """A few best thresholds to show: the cheapest that matches the big model's accuracy (if any), the most
    accurate, and evenly spaced frontier points in between."""
    best = result.curve[result.curve["best"]].sort_values("cost_per_1k_usd")
    if len(best) <= max_points:
        return best.reset_index(drop=True)
    picks = set(np.linspace(0, len(best) - 1, max_points).round().astype(int))
    matches = np.flatnonzero(best["accuracy"].to_numpy() >= result.big_alone[0])
    if len(matches):
        picks.add(int(matches[0]))
    return best.iloc[sorted(picks)].reset_index(drop=True)


# ------------------------------------------------------------------------------------------ learning curves


def learning_curve(board: Leaderboard, cost_per_label_usd: float) -> pd.DataFrame:
    """Accuracy against labelled examples per class, per method and model, from runs trained on stratified
    subsets (train_examples_per_class set), with the labelling cost of each point.

    Columns: series, examples_per_class, labels, labelling_usd, accuracy, accuracy_ci_low, accuracy_ci_high,
    candidate. Labels = examples per class x classes (an upper bound: small classes may have fewer).
    """
    price = costs.check_positive("cost per label ($)", cost_per_label_usd, allow_zero=True, upper=1000)
    runs = board.table[(board.table["kind"] == "self-hosted") & board.table["train_examples_per_class"].notna()]
    columns = ["series", "examples_per_class", "labels", "labelling_usd", "accuracy", "accuracy_ci_low",
               "accuracy_ci_high", "candidate"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    frame = runs.assign(
        series=runs["method"].astype(str) + " · " + runs["model"].astype(str).str.split("/").str[-1],
        examples_per_class=runs["train_examples_per_class"].astype(float),
    )
    frame["labels"] = frame["examples_per_class"] * frame["n_classes"].astype(float)
    frame["labelling_usd"] = frame["labels"] * price
    return frame[columns].sort_values(["series", "examples_per_class"]).reset_index(drop=True)


# ------------------------------------------------------------------------------------------ other hardware


def projections(ws: Workspace, board: Leaderboard, mfu: float = 0.3) -> pd.DataFrame:
    """Estimated throughput and $/1k of each transformer run on every GPU row of the price catalog.

    Uses costs.projected_throughput_per_s (the slower of the compute bound at `mfu` of peak and the
    memory-bandwidth bound, bf16 weights, batch 32) with the run's parameter count and mean tokens per text.
    Every row is an estimate and says so. Columns: candidate, gpu, requests_per_s, cost_per_1k_usd, measured_cost_per_1k_usd, basis.
    """
    costs.check_positive("assumed share of peak FLOP/s (MFU)", mfu, upper=1.0)
    runs = board.table[board.table["model_params"].notna() & board.table["tokens_per_request"].notna()]
    gpus = price_table(ws, "gpu").dropna(subset=["peak_tflops", "hourly_usd"])
    out = []
    for run in runs.to_dict("records"):
        for gpu in gpus.to_dict("records"):
            bandwidth = gpu["bandwidth_gbps"] * 1e9 if not pd.isna(gpu["bandwidth_gbps"]) else None
            figure = costs.projected_throughput_per_s(run["model_params"], run["tokens_per_request"],
                                                      gpu["peak_tflops"] * 1e12, mfu, bandwidth)
            per_1k = costs.cost_per_1k_requests_usd(figure.value, gpu["hourly_usd"], board.settings.utilisation)
            out.append({"candidate": run["candidate"], "gpu": gpu["label"], "requests_per_s": figure.value,
                        "cost_per_1k_usd": per_1k, "measured_cost_per_1k_usd": run["cost_per_1k_usd"],
                        "basis": f"estimate, {figure.basis}; {price_basis(gpu)}"})
    return pd.DataFrame(out, columns=["candidate", "gpu", "requests_per_s", "cost_per_1k_usd",
                                      "measured_cost_per_1k_usd", "basis"])


# ------------------------------------------------------------------------------------------ scaling planner


SCALING_FORMULAS = (
    "Training compute C = 6 x N x D FLOPs (N parameters, D tokens; Kaplan et al., 2020, 'Scaling Laws for Neural "
    "Language Models'). LoRA and QLoRA still run the full forward and backward pass, so C is the same.",
    "Memory per GPU = N x bytes per parameter / GPUs: full mixed-precision AdamW ~18 B (weights, gradients, "
    "optimizer state), LoRA ~2 B (frozen bf16 weights), QLoRA ~0.55 B (4-bit weights); activations are extra, "
    "so only 80% of a GPU's memory is counted as usable.",
    "GPUs = ceil(state memory / (0.8 x GPU memory)); wall time = C / (GPUs x peak FLOP/s x utilisation (MFU)); "
    "cost = wall hours x GPUs x $ per GPU-hour.",
    "Compute-optimal data: about 20 tokens per parameter (Hoffmann et al., 2022, 'Training Compute-Optimal "
    "Large Language Models', the Chinchilla paper).",
)


def scaling_plans(ws: Workspace, params: float, tokens: float, method: str, utilisation: float = 0.4) -> pd.DataFrame:
    """costs.plan_training for every GPU row of the catalog that has peak FLOP/s, memory and a price.

    Columns: gpu, price_id, flops, memory_per_gpu_gb, gpus, wall_hours, cost_usd, chinchilla_tokens, price_basis.
    Raises CostInputError for impossible inputs (zero parameters, unknown method...).
    """
    gpus = price_table(ws, "gpu").dropna(subset=["peak_tflops", "memory_gb", "hourly_usd"])
    rows = []
    for gpu in gpus.to_dict("records"):
        plan = costs.plan_training(params, tokens, method, gpu["memory_gb"], gpu["peak_tflops"] * 1e12,
                                   gpu["hourly_usd"], utilisation)
        rows.append({"gpu": gpu["label"], "price_id": gpu["price_id"], "flops": plan.flops,
                     "memory_per_gpu_gb": plan.memory_per_gpu_gb, "gpus": plan.gpus, "wall_hours": plan.wall_hours,
                     "cost_usd": plan.cost_usd, "chinchilla_tokens": plan.chinchilla_tokens,
                     "price_basis": price_basis(gpu)})
    return pd.DataFrame(rows).sort_values("cost_usd").reset_index(drop=True) if rows else pd.DataFrame(
        columns=["gpu", "price_id", "flops", "memory_per_gpu_gb", "gpus", "wall_hours", "cost_usd",
                 "chinchilla_tokens", "price_basis"])
