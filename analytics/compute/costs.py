"""The cost model: pure functions from measured figures and prices to dollars.

Every figure is one of three kinds, and the kind travels with it (`Figure.kind`):
    measured   timed on a named machine on a date (training wall time, throughput)
    price      a dated public price (GPU $/hour, API $/1M tokens)
    estimate   derived with a stated formula (projection to other hardware); the formula is in `Figure.basis`
Units are in the names: *_usd, *_s, *_per_s, *_per_hour_usd.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.errors import CostInputError
from analytics.money import format_count, format_number, format_percent

SECONDS_PER_HOUR = 3600.0
DAYS_PER_MONTH = 30.4375  # 365.25 / 12


@dataclass(frozen=True)
class Figure:
    """A number with its provenance."""

    value: float
    """The number, in the unit of `unit`."""
    unit: str
    """'usd', 'usd_per_1k', 'requests_per_s', ..."""
    kind: str
    """'measured', 'price' or 'estimate'."""
    basis: str
    """Where it came from: machine and date, price source and date, or the formula used."""

    def __post_init__(self) -> None:
        if self.kind not in ("measured", "price", "estimate"):
            raise CostInputError(f"kind must be measured, price or estimate, got {self.kind!r}")


def check_positive(name: str, value: float, *, allow_zero: bool = False, upper: float | None = None) -> float:
    """Return `value` as float if finite and positive (or zero when allowed) and below `upper`, else raise."""
    if value is None or isinstance(value, bool):
        raise CostInputError(f"{name} is missing; enter a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as e:
        raise CostInputError(f"{name} must be a number, got {value!r}") from e
    if not math.isfinite(number):
        raise CostInputError(f"{name} must be a finite number, got {value!r}")
    if number < 0 or (number == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "more than zero"
        raise CostInputError(f"{name} must be {bound}, got {format_number(number, 4)}")
    if upper is not None and number > upper:
        raise CostInputError(f"{name} = {format_number(number, 4)} is implausibly large (above "
                             f"{format_number(upper, 4)}); check the unit")
    return number


# -- training and inference on measured hardware --------------------------------------------------------
def training_cost_usd(wall_s: float, price_per_hour_usd: float, devices: int = 1) -> float:
    """Training cost = wall time x hourly price x number of devices billed."""
    wall = check_positive("training wall time (s)", wall_s, allow_zero=True)
    price = check_positive("hardware price ($/hour)", price_per_hour_usd, upper=1000)
    return wall / SECONDS_PER_HOUR * price * int(devices)


def cost_per_1k_requests_usd(throughput_per_s: float, price_per_hour_usd: float,
                             utilisation: float = 1.0) -> float:
    """Self-hosted inference cost per 1,000 requests from measured throughput.

    Cost = price per second / (throughput x utilisation) x 1000. Utilisation < 1 accounts for idle
    capacity (a server rarely runs at its batch throughput all day).
    """
    rate = check_positive("throughput (requests/s)", throughput_per_s)
    price = check_positive("hardware price ($/hour)", price_per_hour_usd, upper=1000)
    util = check_positive("utilisation", utilisation, upper=1.0)
    return price / SECONDS_PER_HOUR / (rate * util) * 1000.0


def api_cost_per_1k_requests_usd(input_tokens: float, output_tokens: float,
                                 input_price_per_m_usd: float, output_price_per_m_usd: float) -> float:
    """Hosted API cost per 1,000 requests: mean tokens per request x $ per 1M tokens."""
    tin = check_positive("input tokens per request", input_tokens, allow_zero=True, upper=2e6)
    tout = check_positive("output tokens per request", output_tokens, allow_zero=True, upper=2e6)
    pin = check_positive("API input price ($/1M tokens)", input_price_per_m_usd, upper=1000)
    pout = check_positive("API output price ($/1M tokens)", output_price_per_m_usd,
                          allow_zero=True, upper=1000)
    if tin + tout == 0:
        raise CostInputError("a request with zero input and zero output tokens costs nothing; "
                             "check the prompt")
    return (tin * pin + tout * pout) / 1e6 * 1000.0


def monthly_cost_usd(cost_per_1k_usd: float, requests_per_month: float,
                     fixed_per_month_usd: float = 0.0) -> float:
    """Cost of a month at a volume: variable part plus fixed part (e.g. an always-on instance)."""
    per_1k = check_positive("cost per 1k requests ($)", cost_per_1k_usd, allow_zero=True)
    volume = check_positive("requests per month", requests_per_month)
    fixed = check_positive("fixed monthly cost ($)", fixed_per_month_usd, allow_zero=True)
    return per_1k * volume / 1000.0 + fixed


def total_cost_usd(training_usd: float, cost_per_1k_usd: float, requests_per_month: float,
                   months: int = 12, fixed_per_month_usd: float = 0.0) -> float:
    """Total over `months`: training once (amortised over the period) plus monthly running cost."""
    train = check_positive("training cost ($)", training_usd, allow_zero=True)
    if months < 1:
        raise CostInputError(f"months must be at least 1, got {months}")
    return train + months * monthly_cost_usd(cost_per_1k_usd, requests_per_month, fixed_per_month_usd)


def break_even_requests_per_month(a_fixed_usd: float, a_per_1k_usd: float,
                                  b_fixed_usd: float, b_per_1k_usd: float, months: int = 12) -> float | None:
    """Monthly volume at which options A and B cost the same over `months`, or None if they never
    cross.

    Total(x) = fixed + months x per_1k x x / 1000,
    so x = 1000 (fixed_b - fixed_a) / (months (per_1k_a - per_1k_b)).
    Fixed costs are totals over the period (training), per-1k costs are variable.
    """
    slope = months * (a_per_1k_usd - b_per_1k_usd) / 1000.0
    if slope == 0:
        return None
    volume = (b_fixed_usd - a_fixed_usd) / slope
    return volume if volume > 0 else None


# -- projection to other hardware (always an estimate) ------------------------------------------------
def projected_throughput_per_s(params: float, tokens_per_request: float, peak_flops: float,
                               utilisation: float, bandwidth_bytes_per_s: float | None = None,
                               bytes_per_param: float = 2.0, batch_size: int = 32) -> Figure:
    """Requests/s on hardware we did not measure: the slower of the compute and memory-bandwidth bounds.

    Compute bound: peak x utilisation / (2 x params x tokens) (a forward pass costs ~2 FLOPs per parameter
    per token). Bandwidth bound: each batch reads the weights once, so batch / (params x bytes / bandwidth).
    """
    n = check_positive("parameters", params)
    tokens = check_positive("tokens per request", tokens_per_request)
    peak = check_positive("peak FLOP/s", peak_flops)
    util = check_positive("utilisation", utilisation, upper=1.0)
    compute = peak * util / (2.0 * n * tokens)
    basis = (f"compute-bound: {format_count(peak / 1e12)} TFLOP/s peak x {format_percent(util)} / (2 x "
             f"{format_count(n, compact=True)} parameters x {format_number(tokens)} tokens)")
    value = compute
    if bandwidth_bytes_per_s:
        bw = check_positive("memory bandwidth (bytes/s)", bandwidth_bytes_per_s)
        memory = batch_size / (n * bytes_per_param / bw)
        if memory < compute:
            value = memory
            basis = (f"bandwidth-bound: batch {batch_size} / "
                     f"({format_count(n, compact=True)} parameters x {format_number(bytes_per_param)} "
                     f"bytes / {format_count(bw / 1e9)} GB/s)")
    return Figure(value=value, unit="requests_per_s", kind="estimate", basis=basis)


# -- comparing candidates -----------------------------------------------------------------------------
def pareto_mask(cost: Sequence[float], accuracy: Sequence[float]) -> np.ndarray:
    """True for candidates no other candidate dominates (cheaper-or-equal and at-least-as-accurate,
    one strictly).

    Ties: two candidates with equal cost and equal accuracy are both kept.
    """
    c = np.asarray(cost, dtype=float)
    a = np.asarray(accuracy, dtype=float)
    if c.shape != a.shape:
        raise CostInputError("cost and accuracy must have the same length")
    le_cost = c[None, :] <= c[:, None]  # [i, j]: j at most as expensive as i
    ge_acc = a[None, :] >= a[:, None]
    strict = (c[None, :] < c[:, None]) | (a[None, :] > a[:, None])
    dominated = (le_cost & ge_acc & strict).any(axis=1)
    return ~dominated


def cascade_curve(small_confidence: Sequence[float], small_correct: Sequence[bool],
                  big_correct: Sequence[bool], small_per_1k_usd: float, big_per_1k_usd: float,
                  thresholds: Sequence[float] | None = None) -> pd.DataFrame:
    """Accuracy and cost of 'small model answers when confident, else defer to the big one', per threshold.

    Every request runs the small model; those with confidence < threshold also run the big one.
    Returns columns: threshold, deferred_share, accuracy, cost_per_1k_usd.
    """
    conf = np.asarray(small_confidence, dtype=float)
    s_ok = np.asarray(small_correct, dtype=bool)
    b_ok = np.asarray(big_correct, dtype=bool)
    if not (len(conf) == len(s_ok) == len(b_ok)) or len(conf) == 0:
        raise CostInputError("the two prediction sets must cover the same, non-empty list of examples")
    grid = np.unique(np.r_[0.0, conf, 1.0 + 1e-9]) if thresholds is None else np.asarray(thresholds, float)
    defer = conf[None, :] < grid[:, None]  # [threshold, example]
    correct = np.where(defer, b_ok[None, :], s_ok[None, :])
    share = defer.mean(axis=1)
    return pd.DataFrame({
        "threshold": grid,
        "deferred_share": share,
        "accuracy": correct.mean(axis=1),
        "cost_per_1k_usd": small_per_1k_usd + share * big_per_1k_usd,
    })


# -- scaling planner ----------------------------------------------------------------------------------
TRAIN_BYTES_PER_PARAM = {"full": 18.0, "lora": 2.0, "qlora": 0.55}
"""Memory per parameter for weights + gradients + optimizer: full mixed-precision AdamW ~18 B/param
(transformers docs, model_memory_anatomy); LoRA keeps frozen bf16 weights (2 B) plus small adapters;
QLoRA keeps 4-bit weights (~0.5 B) plus adapters."""


@dataclass(frozen=True)
class ScalingPlan:
    """Result of `plan_training`."""

    flops: float
    """Training compute, 6 x N x D (Kaplan et al., 2020); LoRA/QLoRA still run the full forward and
    backward."""
    memory_per_gpu_gb: float
    """Weights, gradients and optimizer state per GPU (activations excluded), GB."""
    gpus: int
    """GPUs needed to hold that state (sharded evenly), at least `min_gpus`."""
    wall_hours: float
    """FLOPs / (gpus x peak x utilisation) / 3600."""
    cost_usd: float
    """wall_hours x gpus x $/GPU-hour."""
    chinchilla_tokens: float
    """Compute-optimal tokens for N parameters: about 20 x N (Hoffmann et al., 2022)."""


def plan_training(params: float, tokens: float, method: str, gpu_memory_gb: float, peak_flops: float,
                  price_per_gpu_hour_usd: float, utilisation: float = 0.4, min_gpus: int = 1) -> ScalingPlan:
    """Compute, memory, GPU count, time and dollars to train N parameters on D tokens."""
    n = check_positive("parameters", params)
    d = check_positive("tokens", tokens)
    if method not in TRAIN_BYTES_PER_PARAM:
        raise CostInputError(f"method must be one of {', '.join(TRAIN_BYTES_PER_PARAM)}, got {method!r}")
    memory_gb = check_positive("GPU memory (GB)", gpu_memory_gb)
    peak = check_positive("peak FLOP/s", peak_flops)
    util = check_positive("utilisation", utilisation, upper=1.0)
    price = check_positive("GPU price ($/hour)", price_per_gpu_hour_usd, upper=1000)
    flops = 6.0 * n * d
    state_gb = n * TRAIN_BYTES_PER_PARAM[method] / 1e9
    usable = memory_gb * 0.8  # leave 20% for activations and fragmentation
    gpus = max(min_gpus, math.ceil(state_gb / usable))
    wall_hours = flops / (gpus * peak * util) / SECONDS_PER_HOUR
    return ScalingPlan(flops=flops, memory_per_gpu_gb=state_gb / gpus, gpus=gpus, wall_hours=wall_hours,
                       cost_usd=wall_hours * gpus * price, chinchilla_tokens=20.0 * n)
