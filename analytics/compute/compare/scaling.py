"""What scale would cost: learning curves over labels, projections onto other GPUs, the training planner."""

from __future__ import annotations

import pandas as pd

from analytics.compute import costs
from analytics.compute.compare.leaderboard import METHOD_NAMES, Leaderboard, model_name
from analytics.compute.compare.pricing import as_of_day, price_basis
from analytics.db import Workspace
from analytics.ingest.prices import price_table


def learning_curve(board: Leaderboard, cost_per_label_usd: float) -> pd.DataFrame:
    """Accuracy against labelled examples per class, per method and model, from runs trained on stratified
    subsets (train_examples_per_class set), with the labelling cost of each point.

    Columns: series, examples_per_class, labels, labelling_usd, accuracy, accuracy_ci_low, accuracy_ci_high,
    candidate. Labels = examples per class x classes (an upper bound: small classes may have fewer).
    """
    price = costs.check_positive("cost per label ($)", cost_per_label_usd, allow_zero=True, upper=1000)
    table = board.table
    runs = table[(table["kind"] == "self-hosted") & table["train_examples_per_class"].notna()]
    columns = ["series", "examples_per_class", "labels", "labelling_usd", "accuracy", "accuracy_ci_low",
               "accuracy_ci_high", "candidate"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    frame = runs.assign(
        series=[f"{METHOD_NAMES.get(str(m), str(m))} · {model_name(m, n)}"
                for m, n in zip(runs["method"], runs["model"], strict=True)],
        examples_per_class=runs["train_examples_per_class"].astype(float),
    )
    frame["labels"] = frame["examples_per_class"] * frame["n_classes"].astype(float)
    frame["labelling_usd"] = frame["labels"] * price
    return frame[columns].sort_values(["series", "examples_per_class"]).reset_index(drop=True)


def projections(ws: Workspace, board: Leaderboard, mfu: float = 0.3) -> pd.DataFrame:
    """Estimated throughput and $/1k of each transformer run on every GPU row of the price catalog.

    Uses costs.projected_throughput_per_s (the slower of the compute bound at `mfu` of peak and the
    memory-bandwidth bound, bf16 weights, batch 32) with the run's parameter count and mean tokens per text.
    Every row is an estimate and says so. Columns: candidate, gpu, requests_per_s, cost_per_1k_usd,
    measured_cost_per_1k_usd, basis.
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
            per_1k = costs.cost_per_1k_requests_usd(figure.value, gpu["hourly_usd"],
                                                    board.settings.utilisation)
            out.append({"candidate": run["candidate"], "gpu": gpu["label"], "requests_per_s": figure.value,
                        "cost_per_1k_usd": per_1k, "measured_cost_per_1k_usd": run["cost_per_1k_usd"],
                        "basis": f"estimate, {figure.basis}; {price_basis(gpu)}"})
    return pd.DataFrame(out, columns=["candidate", "gpu", "requests_per_s", "cost_per_1k_usd",
                                      "measured_cost_per_1k_usd", "basis"])


SCALING_FORMULAS = (
    "Training compute C = 6 x N x D FLOPs (N parameters, D tokens; Kaplan et al., 2020, 'Scaling Laws for "
    "Neural Language Models'). LoRA and QLoRA still run the full forward and backward pass, so C is the "
    "same.",
    "Memory per GPU = N x bytes per parameter / GPUs: full mixed-precision AdamW ~18 B (weights, gradients, "
    "optimizer state), LoRA ~2 B (frozen bf16 weights), QLoRA ~0.55 B (4-bit weights); activations are "
    "extra, so only 80% of a GPU's memory is counted as usable.",
    "GPUs = ceil(state memory / (0.8 x GPU memory)); wall time = C / (GPUs x peak FLOP/s x utilisation "
    "(MFU)); cost = wall hours x GPUs x $ per GPU-hour.",
    "Compute-optimal data: about 20 tokens per parameter (Hoffmann et al., 2022, 'Training Compute-Optimal "
    "Large Language Models', the Chinchilla paper).",
)


def scaling_plans(ws: Workspace, params: float, tokens: float, method: str,
                  utilisation: float = 0.4) -> pd.DataFrame:
    """costs.plan_training for every GPU row of the catalog that has peak FLOP/s, memory and a price.

    Columns: gpu, price_id, flops, memory_per_gpu_gb, gpus, wall_hours, cost_usd, chinchilla_tokens,
    price_basis, hourly_usd, as_of (a day or 'undated'), source.
    Raises CostInputError for impossible inputs (zero parameters, unknown method...).
    """
    gpus = price_table(ws, "gpu").dropna(subset=["peak_tflops", "memory_gb", "hourly_usd"])
    rows = []
    for gpu in gpus.to_dict("records"):
        plan = costs.plan_training(params, tokens, method, gpu["memory_gb"], gpu["peak_tflops"] * 1e12,
                                   gpu["hourly_usd"], utilisation)
        rows.append({"gpu": gpu["label"], "price_id": gpu["price_id"], "flops": plan.flops,
                     "memory_per_gpu_gb": plan.memory_per_gpu_gb, "gpus": plan.gpus,
                     "wall_hours": plan.wall_hours,
                     "cost_usd": plan.cost_usd, "chinchilla_tokens": plan.chinchilla_tokens,
                     "price_basis": price_basis(gpu), "hourly_usd": float(gpu["hourly_usd"]),
                     "as_of": as_of_day(gpu.get("as_of")), "source": str(gpu["source"])})
    return pd.DataFrame(rows).sort_values("cost_usd").reset_index(drop=True) if rows else pd.DataFrame(
        columns=["gpu", "price_id", "flops", "memory_per_gpu_gb", "gpus", "wall_hours", "cost_usd",
                 "chinchilla_tokens", "price_basis", "hourly_usd", "as_of", "source"])
