"""The reply leaderboard: a generation evaluation set (a dataset fine-tuned with sft / sft_lora) compared like
a classification set, quality against dollars per 1,000 replies, each number with its provenance.

Candidates:
- every succeeded generation run on the set (the fine-tuned model), and the untrained base model it was
  compared with on the same prompts (when the run generated base replies; one row per base model, from the
  newest run that measured it);
- every endpoint run on the set (`python -m models evaluate-endpoint`, or "Add an endpoint"): a hosted or
  served model whose replies to the set's test requests were judged like a fine-tuned model's, priced per
  token from the usage its responses reported (kind "api", measured: it can be on the frontier);
- every hosted API row of the price catalog, priced from the set's real token counts. An API's quality is
  unknown until its replies are judged on the set, so it is shown priced with quality "not measured", never
  with an invented score, and it is not on the frontier.

Self-hosted $ per 1k replies = hardware $/hour x (mean prompt tokens / prefill tokens/s + mean reply tokens /
decode tokens/s) / 3600 x 1000 / utilisation, from the run's measured tokens/s and its real reply lengths
(utilisation as on the classifier board: the share of paid machine time spent generating; 100% is the bare
formula). API $ per 1k replies = (mean prompt tokens x input price + mean reference-reply tokens x output
price) / 1M x 1000, tokens counted on the test requests with the chat template by the run's tokenizer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.compute import costs
from analytics.compute.compare.leaderboard import (
    ENDPOINT_METHOD,
    LOCAL_PRICE_SOURCE,
    endpoint_host,
    model_name,
    run_api_price,
)
from analytics.compute.compare.pricing import as_of_day, match_price, price_basis
from analytics.db import Workspace
from analytics.errors import CostInputError
from analytics.ingest.prices import price_table
from analytics.money import (
    format_count,
    format_duration,
    format_number,
    format_percent,
    format_usd,
    usd_per_requests_unit,
)

QUALITY_METRICS = {"rouge_l": "ROUGE-L", "intent_match": "intent match"}
"""Quality measures a reply leaderboard can rank by (eval.json keys -> how they read)."""
DEFAULT_REPLIES_PER_MONTH = 100_000
"""The volume the reply board starts at: about 3,300 drafted support replies a day."""
MONTHS = 12
NOT_MEASURED = "not measured"

REPLY_COLUMNS = (
    "key", "candidate", "kind", "run_id", "method", "model", "quality", "quality_ci_low", "quality_ci_high",
    "n_eval", "hardware", "price_label", "prompt_tokens", "reply_tokens", "prefill_tokens_per_s",
    "decode_tokens_per_s", "seconds_per_reply", "cost_per_1k_usd", "training_usd", "monthly_usd", "total_usd",
    "on_frontier", "quality_basis", "cost_basis", "training_basis", "flag",
)
KINDS = ("fine-tuned", "base model", "api")
METHOD_NAMES = {"sft": "SFT", "sft_lora": "LoRA SFT"}
"""How each generation method reads on screen."""


@dataclass(frozen=True)
class ReplySettings:
    """What the user decides for a reply leaderboard."""

    dataset: str
    """Evaluation set: the generation runs' dataset name."""
    replies_per_month: float
    """Expected production volume of generated replies."""
    quality: str = "rouge_l"
    """Quality measure to rank by: 'rouge_l' or 'intent_match' (QUALITY_METRICS)."""
    utilisation: float = 0.5
    """Share of paid machine time spent generating at the measured tokens/s (0-1]."""
    hardware_prices: tuple[tuple[str, int], ...] = ()
    """(hardware name as measured, price_id) choices; hardware not listed is auto-matched or flagged."""
    months: int = MONTHS
    """Horizon of the total cost (training once + months x monthly running cost)."""
    api_price_ids: tuple[int, ...] | None = None
    """API price rows shown as candidates; None: every API row of the catalog."""

    def __post_init__(self) -> None:
        costs.check_positive("replies per month", self.replies_per_month, upper=1e12)
        costs.check_positive("utilisation", self.utilisation, upper=1.0)
        if self.quality not in QUALITY_METRICS:
            raise CostInputError(f"quality must be one of {', '.join(QUALITY_METRICS)}, got {self.quality!r}")
        if self.months < 1:
            raise CostInputError(f"months must be at least 1, got {self.months}")


@dataclass(frozen=True)
class ReplyTokens:
    """Mean tokens of the set's test requests, from the newest run that counted them."""

    prompt_tokens: float | None
    """Prompt tokens per request with the chat template (system prompt + request + generation prompt)."""
    reference_tokens: float | None
    """Tokens of the reference replies (an API's reply length)."""
    tokenizer: str | None
    """The tokenizer that counted them."""
    run_id: str | None
    """The run that counted them."""


@dataclass(frozen=True)
class ReplyLeaderboard:
    """`reply_leaderboard()`'s result."""

    table: pd.DataFrame
    """REPLY_COLUMNS, one row per candidate: measured ones (frontier first, then by cost), then APIs by cost,
    unpriced last."""
    flags: tuple[str, ...]
    """Problems that keep a number out of the charts, each with its fix."""
    assumptions: tuple[str, ...]
    """Volume, utilisation, horizon, token counts and every price used with its source and date."""
    settings: ReplySettings
    """The settings the table was computed with."""
    tokens: ReplyTokens
    """Token counts the API rows are priced with."""
    hardware_prices: dict[str, int | None] = field(default_factory=dict)
    """Hardware name -> price_id actually used (None: no price)."""
    price_ids: tuple[int, ...] = ()
    """Catalog rows the table's dollars come from."""

    @property
    def quality_name(self) -> str:
        """'ROUGE-L' or 'intent match'."""
        return QUALITY_METRICS[self.settings.quality]

    @property
    def unit(self) -> tuple[int, str]:
        """(replies, label) unit costs read in: per 1k replies, or per 1M when per 1k is below a cent."""
        requests, label = usd_per_requests_unit(self.table["cost_per_1k_usd"].astype(float) / 1000.0)
        return requests, label.replace("requests", "replies")

    @property
    def priced(self) -> pd.DataFrame:
        """Rows with a finite $ per 1k replies."""
        return self.table[np.isfinite(self.table["cost_per_1k_usd"].astype(float))]

    @property
    def measured(self) -> pd.DataFrame:
        """Priced rows with a measured quality (the only ones on the frontier chart's y axis)."""
        priced = self.priced
        return priced[np.isfinite(priced["quality"].astype(float))]


def generation_sets(ws: Workspace) -> pd.DataFrame:
    """Datasets with at least one succeeded generation run: dataset, runs, latest."""
    return ws.query("compare_generation_sets")


def generation_hardware_names(ws: Workspace, dataset: str) -> list[str]:
    """Hardware the set's generation runs trained and generated on, sorted."""
    runs = ws.query("compare_generation_runs", dataset=dataset)
    runs = runs[runs["method"] != ENDPOINT_METHOD]  # priced per token, not by the client's machine
    return sorted(str(h) for h in set(runs["hardware"].dropna()))


def resolve_generation_hardware_prices(ws: Workspace, dataset: str,
                                       chosen: Sequence[tuple[str, int]] = ()) -> dict[str, int | None]:
    """Hardware name -> price_id: the user's choice, else pricing.match_price, else None (flagged)."""
    catalog = price_table(ws)
    picked = dict(chosen)
    return {hw: picked.get(hw, match_price(hw, catalog)) for hw in generation_hardware_names(ws, dataset)}


def self_hosted_cost_per_1k_replies(hourly_usd: float, prompt_tokens: float, prefill_tokens_per_s: float,
                                    reply_tokens: float, decode_tokens_per_s: float,
                                    utilisation: float = 1.0) -> float:
    """$ per 1,000 replies on a machine billed `hourly_usd`: hourly x (prompt tokens / prefill tokens/s +
    reply tokens / decode tokens/s) / 3600 x 1000 / utilisation."""
    price = costs.check_positive("hardware price ($/hour)", hourly_usd, upper=1000)
    prompt = costs.check_positive("mean prompt tokens", prompt_tokens, allow_zero=True, upper=2e6)
    reply = costs.check_positive("mean reply tokens", reply_tokens, allow_zero=True, upper=2e6)
    prefill = costs.check_positive("prefill tokens/s", prefill_tokens_per_s)
    decode = costs.check_positive("decode tokens/s", decode_tokens_per_s)
    util = costs.check_positive("utilisation", utilisation, upper=1.0)
    seconds = prompt / prefill + reply / decode
    return price * seconds / costs.SECONDS_PER_HOUR * 1000.0 / util


def reply_leaderboard(ws: Workspace, settings: ReplySettings) -> ReplyLeaderboard:
    """Every candidate on the generation set `settings.dataset`: quality (the chosen measure with its 95%
    interval), $ per 1k replies, training $, monthly and total cost at the user's volume, and the provenance
    of each number. Raises CostInputError for settings that make no sense."""
    catalog = price_table(ws).set_index("price_id", drop=False)
    hw_prices = resolve_generation_hardware_prices(ws, settings.dataset, settings.hardware_prices)
    runs = ws.query("compare_generation_runs", dataset=settings.dataset)
    endpoints = [r for r in runs.to_dict("records") if r["method"] == ENDPOINT_METHOD]
    records = [r for r in runs.to_dict("records") if r["method"] != ENDPOINT_METHOD]
    rows = [_fine_tuned_row(r, catalog, hw_prices, settings) for r in records]
    rows += [_base_row(r, catalog, hw_prices, settings) for r in _newest_base_runs(records)]
    endpoint_rows = [_endpoint_row(r, catalog, settings) for r in endpoints]
    rows += [row for row, _ in endpoint_rows]
    _unique_names(rows)
    tokens = _reply_tokens(records)
    apis = catalog[catalog["kind"] == "api"]
    if settings.api_price_ids is not None:
        apis = apis[apis["price_id"].isin([int(p) for p in settings.api_price_ids])]
    rows += [_api_row(a, tokens, settings) for a in apis.to_dict("records")]
    table = _order(pd.DataFrame(rows, columns=list(REPLY_COLUMNS)))
    flags = tuple(f"{r.candidate}: {r.flag}" for r in table.itertuples() if r.flag)
    if not records:
        flags += (f"no succeeded generation run on {settings.dataset}: fine-tune with sft or sft_lora first",)
    used = sorted({int(p) for p in hw_prices.values() if p is not None} | set(apis["price_id"].astype(int)))
    endpoint_prices = tuple(dict.fromkeys(label for _, label in endpoint_rows if label))
    return ReplyLeaderboard(table=table, flags=flags,
                            assumptions=_assumptions(settings, catalog, used, tokens) + endpoint_prices,
                            settings=settings,
                            tokens=tokens, hardware_prices=hw_prices, price_ids=tuple(used))


# ------------------------------------------------------------------------------------------ rows


def _empty_row(key: str, name: str, kind: str) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(REPLY_COLUMNS, None)
    nan_columns = ("quality", "quality_ci_low", "quality_ci_high", "prompt_tokens", "reply_tokens",
                   "prefill_tokens_per_s", "decode_tokens_per_s", "seconds_per_reply", "cost_per_1k_usd",
                   "training_usd", "monthly_usd", "total_usd")
    row.update(dict.fromkeys(nan_columns, math.nan), key=key, candidate=name, kind=kind, on_frontier=False,
               flag="", cost_basis="", training_basis="")
    return row


def _fine_tuned_row(run: dict[str, object], catalog: pd.DataFrame, hw_prices: dict[str, int | None],
                    settings: ReplySettings) -> dict[str, object]:
    method = METHOD_NAMES.get(str(run["method"]), str(run["method"]))
    row = _empty_row(f"run:{run['run_id']}", f"{method} · {model_name(run['method'], run['model'])}",
                     "fine-tuned")
    row.update(run_id=str(run["run_id"]), method=run["method"], model=run["model"])
    _fill_quality(row, run, settings, prefix="")
    flags: list[str] = []
    _fill_speed(row, run, prompt_key="mean_prompt_tokens", reply_key="mean_reply_tokens",
                prefill_key="prefill_tokens_per_s", decode_key="decode_tokens_per_s", flags=flags)
    price = _fill_hosting(row, run, catalog, hw_prices, settings, flags)
    if price is not None and _known(run.get("train_seconds")):
        row["training_usd"] = costs.training_cost_usd(float(run["train_seconds"]), float(price["hourly_usd"]))
        row["training_basis"] = (f"{format_duration(float(run['train_seconds']))} measured on "
                                 f"{row['hardware']} x {price_basis(price)} = "
                                 f"{format_usd(row['training_usd'])}")
    elif not _known(run.get("train_seconds")):
        row["training_basis"] = "training time not recorded"
    row["flag"] = "; ".join(flags)
    _fill_totals(row, settings)
    return row


def _base_row(run: dict[str, object], catalog: pd.DataFrame, hw_prices: dict[str, int | None],
              settings: ReplySettings) -> dict[str, object]:
    row = _empty_row(f"base:{run['run_id']}", f"base · {model_name(run['method'], run['model'])} (untrained)",
                     "base model")
    row.update(run_id=str(run["run_id"]), method="base", model=run["model"], training_usd=0.0,
               training_basis="none: the base model is used as it is")
    _fill_quality(row, run, settings, prefix="base_")
    flags: list[str] = []
    _fill_speed(row, run, prompt_key="mean_prompt_tokens", reply_key="base_mean_reply_tokens",
                prefill_key="prefill_tokens_per_s", decode_key="base_decode_tokens_per_s", flags=flags)
    _fill_hosting(row, run, catalog, hw_prices, settings, flags,
                  note="prefill speed of the fine-tuned model (same architecture, same prompts)")
    row["flag"] = "; ".join(flags)
    _fill_totals(row, settings)
    return row


def _endpoint_row(run: dict[str, object], catalog: pd.DataFrame,
                  settings: ReplySettings) -> tuple[dict[str, object], str | None]:
    """(row, the price's assumption line) for an endpoint run judged on replies: quality as measured on the
    set, $ per 1k replies from the mean prompt and completion tokens its responses reported, priced like a
    classification endpoint run (leaderboard.run_api_price: the user's override, the catalog, the list
    price)."""
    host = endpoint_host(run.get("endpoint_base_url"))
    row = _empty_row(f"run:{run['run_id']}", f"{run['model']} @ {host}", "api")
    row.update(run_id=str(run["run_id"]), method=ENDPOINT_METHOD, model=run["model"],
               hardware=f"endpoint {host}", training_usd=0.0,
               training_basis="none: a hosted endpoint needs no training")
    _fill_quality(row, run, settings, prefix="", who=f"the replies of endpoint {host}")
    measured = as_of_day(run.get("endpoint_measured_at") or run["finished_at"])
    sent = run.get("endpoint_requests_sent")
    if _known(sent):
        row["quality_basis"] = f"{row['quality_basis']}; {format_count(sent)} requests sent on {measured}"
    tin, tout = _float(run.get("endpoint_prompt_tokens")), _float(run.get("endpoint_completion_tokens"))
    price = run_api_price(run, catalog)
    local = str(run.get("run_price_source") or "").lower().startswith(LOCAL_PRICE_SOURCE)
    if price is None:
        row["flag"] = ("an endpoint on this machine has no per-token price: give a price override when "
                       "adding it" if local else
                       f"no price for model '{run['model']}': add an API row named '{run['model']}' to the "
                       f"price catalog (Prices tab), or give a price override when adding the endpoint")
        return row, None
    if not math.isfinite(tin):
        row["flag"] = ("no token usage in the endpoint's responses, so no cost per reply; evaluate it again "
                       "with an endpoint that reports usage")
        return row, None
    tout = tout if math.isfinite(tout) else 0.0
    per_1k = costs.api_cost_per_1k_requests_usd(tin, tout, price.input_per_m_usd, price.output_per_m_usd)
    row.update(prompt_tokens=tin, reply_tokens=tout, cost_per_1k_usd=per_1k,
               price_label=f"{price.model or run['model']} · {price.provider or host}")
    latency = _float(run.get("endpoint_p50_ms"))
    if math.isfinite(latency):
        row["seconds_per_reply"] = latency / 1000.0
    unit_in = format_usd(price.input_per_m_usd, digits=4)
    unit_out = format_usd(price.output_per_m_usd, digits=4)
    row["cost_basis"] = (f"({format_number(tin)} prompt tokens x {unit_in} + {format_number(tout)} reply "
                         f"tokens x {unit_out}) per 1M tokens = {format_usd_per_replies(per_1k)}; tokens as "
                         f"the endpoint's responses reported them (run {run['run_id']}, {measured}); "
                         f"price: {price.label}")
    _fill_totals(row, settings)
    return row, f"Endpoint {run['model']} @ {host} priced at {price.label}."


def _fill_quality(row: dict[str, object], run: Mapping[str, object], settings: ReplySettings,
                  prefix: str, who: str | None = None) -> None:
    key = f"{prefix}{settings.quality}"
    n = run.get("n_test_scored")
    row["n_eval"] = int(n) if _known(n) else None
    name = QUALITY_METRICS[settings.quality]
    if not _known(run.get(key)):
        reason = ("the data has no intent column, so replies were not labelled" if settings.quality ==
                  "intent_match" else "no score recorded")
        row["quality_basis"] = f"{NOT_MEASURED}: {reason}"
        return
    row["quality"] = float(run[key])
    row["quality_ci_low"] = _float(run.get(f"{key}_ci_low"))
    row["quality_ci_high"] = _float(run.get(f"{key}_ci_high"))
    total = run.get("n_test_total")
    subset = (f" (a seeded, intent-stratified subset of {format_count(total)})"
              if _known(total) and _known(n) and int(total) > int(n) else "")
    if who is None:
        who = "the untrained base model's replies to the same prompts" if prefix else "fine-tuned replies"
    row["quality_basis"] = (f"{name} of {who}, measured on {format_count(row['n_eval'])} held-out test "
                            f"requests{subset} of {run['dataset']}, run {run['run_id']}, "
                            f"{as_of_day(run['finished_at'])}; 95% CI by bootstrap")


def _fill_speed(row: dict[str, object], run: Mapping[str, object], *, prompt_key: str, reply_key: str,
                prefill_key: str, decode_key: str, flags: list[str]) -> None:
    row.update(prompt_tokens=_float(run.get(prompt_key)), reply_tokens=_float(run.get(reply_key)),
               prefill_tokens_per_s=_float(run.get(prefill_key)),
               decode_tokens_per_s=_float(run.get(decode_key)))
    missing = [what for what, value in (("prompt tokens", row["prompt_tokens"]),
                                        ("reply tokens", row["reply_tokens"]),
                                        ("prefill tokens/s", row["prefill_tokens_per_s"]),
                                        ("decode tokens/s", row["decode_tokens_per_s"]))
               if not (math.isfinite(value) and (value > 0 or what.endswith("tokens")))]
    if missing:
        flags.append(f"no measured {', '.join(missing)} in its eval.json, so no cost per reply (train it "
                     f"again with this version)")
        return
    row["seconds_per_reply"] = (row["prompt_tokens"] / row["prefill_tokens_per_s"]
                                + row["reply_tokens"] / row["decode_tokens_per_s"])


def _fill_hosting(row: dict[str, object], run: Mapping[str, object], catalog: pd.DataFrame,
                  hw_prices: dict[str, int | None], settings: ReplySettings, flags: list[str],
                  note: str = "") -> pd.Series | None:
    """Price the row on the hardware the run generated on; returns the price row (None when unpriced)."""
    hardware = str(run["hardware"]) if isinstance(run.get("hardware"), str) else "unrecorded hardware"
    row["hardware"] = hardware
    price_id = hw_prices.get(hardware)
    if price_id is None or price_id not in catalog.index:
        flags.append(f"no price for hardware '{hardware}': pick a price row for it under 'Hardware prices'")
        return None
    price = catalog.loc[price_id]
    row["price_label"] = str(price["label"])
    if not math.isfinite(row["seconds_per_reply"]):
        return price
    per_1k = self_hosted_cost_per_1k_replies(float(price["hourly_usd"]), row["prompt_tokens"],
                                             row["prefill_tokens_per_s"], row["reply_tokens"],
                                             row["decode_tokens_per_s"], settings.utilisation)
    row["cost_per_1k_usd"] = per_1k
    extra = f"; {note}" if note else ""
    row["cost_basis"] = (
        f"{price_basis(price)} x ({format_number(row['prompt_tokens'])} prompt tokens / "
        f"{format_number(row['prefill_tokens_per_s'])} prefill tokens/s + "
        f"{format_number(row['reply_tokens'])} reply tokens / "
        f"{format_number(row['decode_tokens_per_s'])} decode tokens/s = "
        f"{format_duration(row['seconds_per_reply'])} a reply) / {format_percent(settings.utilisation)} "
        f"utilisation = {format_usd_per_replies(per_1k)}; tokens/s measured on {hardware} "
        f"({run.get('generation_device') or 'device unrecorded'}), run {run['run_id']}, "
        f"{as_of_day(run['finished_at'])}, real reply lengths of its test replies{extra}")
    return price


def _api_row(api: dict[str, object], tokens: ReplyTokens, settings: ReplySettings) -> dict[str, object]:
    row = _empty_row(f"api:{api['price_id']}", f"{api['name']} (API)", "api")
    row.update(method="api", model=api["name"], hardware="hosted API", training_usd=0.0,
               price_label=f"{api['name']} · {api['provider']}",
               training_basis="none: a hosted API needs no training",
               quality_basis=f"{NOT_MEASURED}: no replies of this API were judged on {settings.dataset} yet")
    if tokens.prompt_tokens is None or tokens.reference_tokens is None:
        row["flag"] = ("no token counts: fine-tune a model on this set, its run counts the test requests' "
                       "tokens")
        return row
    per_1k = costs.api_cost_per_1k_requests_usd(tokens.prompt_tokens, tokens.reference_tokens,
                                                 float(api["input_per_m_usd"]),
                                                 float(api["output_per_m_usd"]))
    row.update(prompt_tokens=tokens.prompt_tokens, reply_tokens=tokens.reference_tokens,
               cost_per_1k_usd=per_1k)
    dated = as_of_day(api.get("as_of"))
    row["cost_basis"] = (
        f"({format_number(tokens.prompt_tokens)} prompt tokens x "
        f"{format_usd(float(api['input_per_m_usd']), digits=4)} + {format_number(tokens.reference_tokens)} "
        f"reply tokens x {format_usd(float(api['output_per_m_usd']), digits=4)}) per 1M tokens = "
        f"{format_usd_per_replies(per_1k)}; prompt = the test requests with the chat template, reply = "
        f"the reference replies' length, counted with the {tokens.tokenizer} (run {tokens.run_id}; an API's "
        f"own tokenizer differs by about 10-20%, an estimate); list price {api['source']}"
        + (f", as of {dated}" if dated != "undated" else ""))
    _fill_totals(row, settings)
    return row


def _fill_totals(row: dict[str, object], settings: ReplySettings) -> None:
    per_1k, training = row["cost_per_1k_usd"], row["training_usd"]
    if not math.isfinite(per_1k):
        return
    row["monthly_usd"] = costs.monthly_cost_usd(per_1k, settings.replies_per_month)
    row["total_usd"] = costs.total_cost_usd(0.0 if not math.isfinite(training) else training,
                                            per_1k, settings.replies_per_month, settings.months)


def _newest_base_runs(records: list[dict[str, object]]) -> list[dict[str, object]]:
    """One run per base model that generated base replies: the newest (records come oldest first)."""
    newest: dict[str, dict[str, object]] = {}
    for record in records:
        if _known(record.get("base_rouge_l")) or _known(record.get("base_mean_reply_tokens")):
            newest[str(record["model"])] = record
    return list(newest.values())


def _reply_tokens(records: list[dict[str, object]]) -> ReplyTokens:
    counted = [r for r in records
               if _known(r.get("mean_prompt_tokens")) and _known(r.get("mean_reference_tokens"))]
    if not counted:
        return ReplyTokens(None, None, None, None)
    last = counted[-1]
    return ReplyTokens(float(last["mean_prompt_tokens"]), float(last["mean_reference_tokens"]),
                       str(last.get("tokenizer") or f"{last['model']} tokenizer"), str(last["run_id"]))


def _unique_names(rows: list[dict[str, object]]) -> None:
    """Candidates that would read the same get their run id appended."""
    counts: dict[object, int] = {}
    for row in rows:
        counts[row["candidate"]] = counts.get(row["candidate"], 0) + 1
    for row in rows:
        if counts[row["candidate"]] > 1:
            row["candidate"] = f"{row['candidate']} (run {row['run_id']})"


def _order(table: pd.DataFrame) -> pd.DataFrame:
    """on_frontier for priced rows with a measured quality; measured frontier first, then by cost; APIs
    (quality not measured) by cost; unpriced last."""
    if table.empty:
        return table
    cost = table["cost_per_1k_usd"].astype(float).to_numpy()
    quality = table["quality"].astype(float).to_numpy()
    measured = np.isfinite(cost) & np.isfinite(quality)
    mask = np.zeros(len(table), dtype=bool)
    if measured.any():
        mask[measured] = costs.pareto_mask(cost[measured], quality[measured])
    table = table.assign(on_frontier=mask, _group=np.where(measured, 0, np.where(np.isfinite(cost), 1, 2)))
    table = table.sort_values(["_group", "on_frontier", "cost_per_1k_usd", "quality"],
                              ascending=[True, False, True, False])
    return table.drop(columns="_group").reset_index(drop=True)


def _assumptions(settings: ReplySettings, catalog: pd.DataFrame, price_ids: Sequence[int],
                 tokens: ReplyTokens) -> tuple[str, ...]:
    lines = [
        f"Volume: {format_count(settings.replies_per_month)} replies per month; horizon {settings.months} "
        f"months (training paid once, included in the total).",
        f"Self-hosted: machine time per reply = prompt tokens / measured prefill tokens/s + reply tokens / "
        f"measured decode tokens/s (greedy, batched as the run generated); "
        f"{format_percent(settings.utilisation)} of paid machine time generates replies.",
        f"Quality: {QUALITY_METRICS[settings.quality]} on the held-out test requests, 95% bootstrap "
        f"interval; hosted APIs are priced but their quality is not measured until their replies are judged "
        f"on this set.",
    ]
    if tokens.prompt_tokens is not None:
        lines.append(f"API requests: {format_number(tokens.prompt_tokens)} prompt tokens (test requests "
                     f"with the chat template) and {format_number(tokens.reference_tokens)} reply tokens "
                     f"(the reference replies) on average, counted with the {tokens.tokenizer}.")
    lines += [f"Price: {price_basis(catalog.loc[p])}" for p in price_ids if p in catalog.index]
    return tuple(lines)


# ------------------------------------------------------------------------------------------ decisions


def reply_break_even(board: ReplyLeaderboard) -> pd.DataFrame:
    """For each priced self-hosted candidate against each priced API: the monthly reply volume above which
    training + hosting costs less than the API over the horizon.

    Columns: candidate, api, replies_per_month (0 when cheaper from the first reply, NaN when it never is:
    it costs more per reply), self_per_1k_usd, api_per_1k_usd, training_usd, verdict (the volume in words:
    'above 173 replies a month', 'from the first reply', 'never: costs more per reply'), sentence.
    """
    priced = board.priced
    own = priced[priced["kind"] != "api"]
    apis = priced[priced["kind"] == "api"]
    months = board.settings.months
    rows = []
    for a in own.to_dict("records"):
        training = 0.0 if not math.isfinite(a["training_usd"]) else float(a["training_usd"])
        for b in apis.to_dict("records"):
            cheaper = a["cost_per_1k_usd"] < b["cost_per_1k_usd"]
            if not cheaper:
                volume = math.nan
                sentence = (f"{a['candidate']} never costs less than {b['candidate']}: "
                            f"{format_usd_per_replies(a['cost_per_1k_usd'])} against "
                            f"{format_usd_per_replies(b['cost_per_1k_usd'])}")
            elif training == 0:
                volume = 0.0
                sentence = f"{a['candidate']} costs less than {b['candidate']} from the first reply"
            else:
                volume = costs.break_even_requests_per_month(training, a["cost_per_1k_usd"], 0.0,
                                                             b["cost_per_1k_usd"], months) or math.nan
                sentence = (f"{a['candidate']} costs less than {b['candidate']} above "
                            f"{format_count(volume)} replies a month (training "
                            f"{format_usd(training)} paid back over {months} months)")
            verdict = ("never: costs more per reply" if math.isnan(volume) else _volume_phrase(volume))
            rows.append({"candidate": a["candidate"], "api": b["candidate"], "replies_per_month": volume,
                         "self_per_1k_usd": float(a["cost_per_1k_usd"]),
                         "api_per_1k_usd": float(b["cost_per_1k_usd"]), "training_usd": training,
                         "verdict": verdict, "sentence": sentence})
    return pd.DataFrame(rows, columns=["candidate", "api", "replies_per_month", "self_per_1k_usd",
                                       "api_per_1k_usd", "training_usd", "verdict", "sentence"])


def reply_recommendation(board: ReplyLeaderboard) -> str:
    """One sentence: the best measured candidate on the frontier, what it costs at the user's volume, and
    from what volume it beats the cheapest priced API (whose quality is not measured)."""
    volume = f"{format_count(board.settings.replies_per_month)} replies a month"
    measured = board.measured
    name = board.quality_name
    if measured.empty:
        own = board.table[board.table["kind"] != "api"]
        no_intents = own["quality_basis"].astype(str).str.contains("no intent column")
        if board.settings.quality == "intent_match" and len(own) and no_intents.all():
            return ("This set has no intent column, so replies were not labelled with an intent: rank by "
                    "ROUGE-L instead.")
        return (f"No reply candidate has both a measured {name} and a cost yet: resolve the flags below "
                f"(a hardware price, or a generation run on this set).")
    best = measured.sort_values(["quality", "cost_per_1k_usd"], ascending=[False, True]).iloc[0]
    sentence = (f"At {volume}, the best measured candidate is {best['candidate']}: {name} "
                f"{quality_text(best, board.settings.quality)}, "
                f"{format_usd_per_replies(best['cost_per_1k_usd'])} ({format_usd(best['monthly_usd'])} a "
                f"month, {format_usd(best['total_usd'])} over {board.settings.months} months with training)")
    apis = board.priced[board.priced["kind"] == "api"]
    if not apis.empty:
        cheapest = apis.sort_values("cost_per_1k_usd").iloc[0]
        points = reply_break_even(board)
        match = points[(points["candidate"] == best["candidate"]) & (points["api"] == cheapest["candidate"])]
        judged = (f"{name} {quality_text(cheapest, board.settings.quality)}"
                  if math.isfinite(float(cheapest["quality"])) else "quality not measured")
        sentence += (f". The cheapest API, {cheapest['candidate']}, costs "
                     f"{format_usd_per_replies(cheapest['cost_per_1k_usd'])} ({judged})")
        if not match.empty:
            sentence += f"; {match.iloc[0]['sentence']}"
        beaten = points[(points["candidate"] == best["candidate"]) & points["replies_per_month"].notna()]
        if not beaten.empty and (match.empty or math.isnan(float(match.iloc[0]["replies_per_month"]))):
            hardest = beaten.sort_values("api_per_1k_usd").iloc[0]
            sentence += (f"; it costs less than {len(beaten)} of the {len(apis)} priced APIs, e.g. "
                         f"{hardest['api']} at {format_usd_per_replies(hardest['api_per_1k_usd'])}, "
                         f"{_volume_phrase(hardest['replies_per_month'])}")
    return sentence + "."


def _volume_phrase(volume: float) -> str:
    return "from the first reply" if volume == 0 else f"above {format_count(volume)} replies a month"


def format_usd_per_replies(cost_per_1k_usd: float) -> str:
    """'$0.0846 per 1k replies', or '$9.63 per 1M replies' when per 1k would read below a cent
    (analytics.money.usd_per_requests_unit picks the unit, format_usd writes the amount)."""
    requests, label = usd_per_requests_unit([float(cost_per_1k_usd) / 1000.0])
    return f"{format_usd(float(cost_per_1k_usd) / 1000.0 * requests)} {label.replace('requests', 'replies')}"


def quality_text(row: Mapping[str, object], quality: str) -> str:
    """'71.7 (95% CI 45.0-90.0)' for ROUGE-L in points, '83.3% (95% CI 50.0%-100.0%)' for intent match,
    NOT_MEASURED when unknown."""
    value = _float(row.get("quality"))
    if not math.isfinite(value):
        return NOT_MEASURED
    low, high = _float(row.get("quality_ci_low")), _float(row.get("quality_ci_high"))
    show = (lambda v: f"{v * 100:.1f}") if quality == "rouge_l" else (lambda v: format_percent(v, fixed=True))
    ci = f" (95% CI {show(low)}-{show(high)})" if math.isfinite(low) and math.isfinite(high) else ""
    return f"{show(value)}{ci}"


def _float(value: object) -> float:
    return float(value) if _known(value) else math.nan


def _known(value: object) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
