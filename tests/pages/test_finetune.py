"""Fine-tune page in AppTest: renders without torch, refuses invalid settings, queues valid jobs, shows live
jobs, failed jobs with their log and fix, and (slow, real subprocess) a finished run's results."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from models.jobs import queue as jobs
from tests.pages.apptest import new_app

PAGE = "pages/finetune.py"
TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parents[1]


@pytest.fixture
def page_env(app_env: Path, monkeypatch: pytest.MonkeyPatch):
    """app_env plus one job at a time; never leaves a job process behind."""
    monkeypatch.setenv("STRATLAB_MAX_JOBS", "1")
    yield app_env
    for info in jobs.list_jobs():
        if info.state == "running" and info.pid:
            jobs.signal_group(info.pid, signal.SIGKILL)
            jobs.reap(info.pid)


def _wait_final(job_id: str, timeout_s: float) -> jobs.JobInfo:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        jobs.tick()
        info = jobs.get_job(job_id)
        if info.state not in jobs.ACTIVE_STATES:
            return info
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {jobs.get_job(job_id).state} after {timeout_s} s:\n"
                         f"{jobs.tail_log(job_id)}")


def _jobs_dir() -> Path:
    return Path(os.environ["STRATLAB_JOBS_DIR"])


def _choose(at, method: str, dataset: str | None = None):
    at.radio(key="ft_method").set_value(method).run()
    if dataset:
        at.selectbox(key="ft_dataset").set_value(dataset).run()
    return at


def test_page_renders_without_torch(page_env: Path) -> None:
    at = new_app(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    assert [b.label for b in at.button] == ["Check and estimate", "Launch"]
    assert "Jobs" in [h.value for h in at.subheader]
    assert "No jobs yet" in " ".join(c.value for c in at.caption)
    assert "torch" not in sys.modules or "torch" in _preloaded_modules(), "the Fine-tune page imported torch"


def _preloaded_modules() -> set[str]:
    """Modules other tests in this process may already have imported (then the check above is void)."""
    return set(sys.modules) if "torch" in sys.modules else set()


def test_neural_methods_start_from_the_measured_settings(page_env: Path) -> None:
    from models.core.config import TrainConfig
    from pages._shared.forms import LORA_LEARNING_RATE

    at = _choose(new_app(PAGE), "full")
    assert at.number_input(key="ft_lr_full").value == TrainConfig().learning_rate
    (freeze,) = [c for c in at.checkbox if c.label.startswith("Freeze the embedding tables")]
    assert freeze.value is True
    assert ([n.value for n in at.number_input if n.label == "Attention dropout"]
            == [TrainConfig().attention_dropout])
    at = _choose(at, "lora")
    assert at.number_input(key="ft_lr_lora").value == LORA_LEARNING_RATE
    assert not [c for c in at.checkbox if c.label.startswith("Freeze the embedding tables")]  # full only


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("ft_epochs", 0, "epochs must be a whole number of at least 1"),
    ("ft_lr_full", 0.0, "learning_rate must be a positive finite number"),
    ("ft_batch", 0, "batch_size must be between 1 and 8192"),
])
def test_invalid_settings_show_the_reason_and_submit_nothing(page_env: Path, key: str, value,
                                                             reason: str) -> None:
    at = _choose(new_app(PAGE), "full")
    at.number_input(key=key).set_value(value)
    at.button[1].click().run()  # Launch
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "Not launched" in errors and reason in errors, errors
    assert jobs.list_jobs() == []
    assert not [p for p in _jobs_dir().glob("*") if p.is_dir()]


def test_valid_classic_launch_is_queued(page_env: Path) -> None:
    at = _choose(new_app(PAGE), "classic", "sentiment_labelled_sentences")
    at.number_input(key="ft_per_class").set_value(20)
    at.button[1].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    (info,) = jobs.list_jobs()
    assert info.config["dataset"] == "sentiment_labelled_sentences"
    assert info.config["train_examples_per_class"] == 20
    assert info.config["runs_dir"] == os.environ["STRATLAB_RUNS_DIR"]
    assert "Queued job" in " ".join(s.value for s in at.success)
    markdown = " ".join(m.value for m in at.markdown)
    assert info.run_id in markdown  # the jobs panel shows it (queued or already running)


def test_two_launches_both_land_in_the_queue(page_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATLAB_MAX_JOBS", "1")
    first, second = (_choose(new_app(PAGE), "classic", "sentiment_labelled_sentences") for _ in range(2))
    for at in (first, second):
        at.button[1].click().run()
        assert not at.error, [e.value for e in at.error]
    assert len(jobs.list_jobs()) == 2
    assert {j.state for j in jobs.list_jobs()} <= {"queued", "running", "succeeded", "failed"}


def _upload(name: str, data: bytes):
    at = new_app(PAGE)
    at.radio(key="ft_source").set_value("Upload a file").run()
    at.file_uploader(key="ft_upload").set_value((name, data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _saved_uploads() -> list[Path]:
    folder = Path(os.environ["STRATLAB_UPLOADS_DIR"])
    return sorted(folder.rglob("*")) if folder.exists() else []


LABELLED = b"text,intent\n" + b"".join(b"question %d about my %s,%s\n" % (i, label, label)
                                       for label in (b"card", b"refund") for i in range(12))


@pytest.mark.parametrize(("data", "shown"), [
    (b"text,intent\nwhere is my card,card\nrefund please, now,refund\nhello\nok,other\n",
     "tickets.csv, line 4: expected 2 fields (like the header), got 1: 'hello'"),
    (b'text,intent\nhi,card\n"where is it,card\nok,refund\n',
     "tickets.csv, line 3: a '\"' opens a quoted field that never closes"),
    (b"\x1f\x8b\x08\x00gzip", "tickets.csv is gzip-compressed, not a text table"),
    (b"text,intent\n" + b"".join(b"text %d,same\n" % i for i in range(30)), "has only one class ('same')"),
])
def test_refused_upload_is_explained_and_never_saved(page_env: Path, data: bytes, shown: str) -> None:
    at = _upload("tickets.csv", data)
    errors = [e.value for e in at.error]
    assert any(shown in e for e in errors), errors
    assert not any("-tickets.csv" in e for e in errors), "messages name the file as uploaded"
    assert _saved_uploads() == [], "a refused upload must not be written"
    at.button[1].click().run()  # Launch
    assert "Not launched" in " ".join(e.value for e in at.error)
    assert jobs.list_jobs() == [] and _saved_uploads() == []


def test_valid_upload_is_saved_once_it_passes(page_env: Path) -> None:
    at = _upload("tickets.csv", LABELLED)
    assert not at.error, [e.value for e in at.error]
    (saved,) = _saved_uploads()
    assert saved.name.endswith("-tickets.csv") and saved.read_bytes() == LABELLED
    at.run()
    assert _saved_uploads() == [saved]


@pytest.mark.slow
def test_failed_job_shows_log_lines_and_fix(page_env: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from models.core.config import TrainConfig

    monkeypatch.setenv("STRATLAB_TRAIN_FUNCTION", "tests.models.fake_train:train")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    info = jobs.submit(TrainConfig(method="classic", dataset="missing-dataset",
                                   runs_dir=os.environ["STRATLAB_RUNS_DIR"]))
    assert _wait_final(info.job_id, 60).state == "failed"
    at = new_app(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "Likely fix: Dataset not available offline" in errors, errors
    logs = " ".join(c.value for c in at.code)
    assert "DatasetNotFoundError" in logs, logs


@pytest.mark.slow
def test_classic_job_runs_and_its_results_appear(page_env: Path) -> None:
    at = _choose(new_app(PAGE), "classic", "sentiment_labelled_sentences")
    at.number_input(key="ft_per_class").set_value(20)
    at.button[1].click().run()
    (info,) = jobs.list_jobs()
    assert _wait_final(info.job_id, 240).state == "succeeded", jobs.tail_log(info.job_id)
    at.run()  # page start: sync_jobs ingests the finished run
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics.get("Accuracy", "").endswith("%"), metrics
    assert metrics["Test examples"] == "300"
    assert any("95% CI" in c.value for c in at.caption)
    assert at.selectbox(key="ft_result_run").value == info.run_id


@pytest.mark.slow
def test_sync_jobs_ingests_once_and_skips_unchanged_folders(page_env: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import analytics.ingest.runs
    from models.core.config import TrainConfig

    monkeypatch.syspath_prepend(str(ROOT))
    from pages._shared import runs as runs_view
    from pages._shared import workspace

    monkeypatch.setenv("STRATLAB_TRAIN_FUNCTION", "tests.models.fake_train:train")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    info = jobs.submit(TrainConfig(method="classic", dataset="toy", max_steps=3,
                                   runs_dir=os.environ["STRATLAB_RUNS_DIR"]))
    assert _wait_final(info.job_id, 60).state == "succeeded"
    calls = []
    real = analytics.ingest.runs.ingest_all
    monkeypatch.setattr(analytics.ingest.runs, "ingest_all",
                        lambda ws, root: calls.append(root) or real(ws, root))
    assert runs_view.sync_jobs() == [info.run_id]
    assert runs_view.sync_jobs() == []
    assert len(calls) == 1, "an unchanged runs folder must not be scanned into the workspace again"
    assert runs_view.run_list(workspace.generation())["run_id"].tolist() == [info.run_id]


@pytest.mark.slow
def test_estimate_measures_and_prices_a_classic_run(page_env: Path) -> None:
    at = _choose(new_app(PAGE), "classic", "sentiment_labelled_sentences")
    at.number_input(key="ft_per_class").set_value(20)
    at.button[0].click()  # Check and estimate
    at.run(timeout=180)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Time (estimate)"] != "–" and metrics["Cost (estimate)"].startswith("$"), metrics
    assert metrics["Peak memory (formula)"] == "0.00 GiB"  # 40 rows x 4 KiB
    captions = " ".join(c.value for c in at.caption)
    assert "40 training rows" in captions and "/ 3600 x $" in captions, captions
    assert jobs.list_jobs() == [], "estimating must not submit anything"


@pytest.mark.slow
def test_running_job_shows_progress_and_live_curves_on_demand(page_env: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from models.core.config import TrainConfig

    monkeypatch.setenv("STRATLAB_TRAIN_FUNCTION", "tests.models.fake_train:train")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("FAKE_STEP_S", "0.5")
    info = jobs.submit(TrainConfig(method="full", dataset="toy", max_steps=60,
                                   runs_dir=os.environ["STRATLAB_RUNS_DIR"]))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(jobs.progress(info.job_id).loss_curve) < 3:
        jobs.tick()
        time.sleep(0.2)
    at = new_app(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    assert "running" in " ".join(m.value for m in at.markdown)
    assert any(p.proto.text.startswith("step ") for p in at.get("progress")), "no progress bar with the step"
    assert not at.get("plotly_chart"), "live curves are off by default"
    at.toggle(key="ft_live_curves").set_value(True).run()
    assert len(at.get("plotly_chart")) == 1  # the loss curve (no epoch has ended yet)
    jobs.cancel(info.job_id, grace_s=2)
    assert jobs.get_job(info.job_id).state == "cancelled"


# ---------------------------------------------------------------- job cards and results (issue 11)


def _progress(**figures):
    empty = {"state": "running", "stage": None, "step": None, "total_steps": None, "fraction": None,
             "epoch": None, "loss": None, "eta_s": None, "samples_per_s": None, "memory_bytes": None,
             "val_accuracy": None, "loss_curve": (), "epochs": (), "events": 1}
    return jobs.JobProgress(**{**empty, **figures})


def test_job_cards_show_only_the_figures_a_method_has() -> None:
    from pages._shared.forms import job_figures

    assert job_figures("classic", _progress(stage="trained")) == []  # no loss, speed or memory: no dashes
    assert job_figures("linear_probe", _progress(memory_bytes=2**30)) == ["memory **1 GiB**"]
    assert job_figures("full", _progress()) == ["loss **–**", "**–** samples/s", "memory **–**",
                                                "val. accuracy **–**"]  # known once the first step lands
    assert job_figures("lora", _progress(loss=0.41234, samples_per_s=12.34, memory_bytes=3 * 2**29,
                                         val_accuracy=0.852)) == [
        "loss **0.412**", "**12.3** samples/s", "memory **1.5 GiB**", "val. accuracy **85.2%**"]


def _ingested_run(name: str, finished_at: str, accuracy: float) -> str:
    from tests.analytics.test_runs import make_run

    make_run(Path(os.environ["STRATLAB_RUNS_DIR"]), name, finished_at=finished_at, accuracy=accuracy)
    return name


def test_results_follow_the_run_that_just_landed_unless_one_was_picked(page_env: Path) -> None:
    first = _ingested_run("20260301-100000-full-a", "2026-03-01T10:00:05+00:00", 0.5)
    at = new_app(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    picker = at.selectbox(key="ft_result_run")
    assert picker.value == first
    assert picker.format_func(first) == "banking77 · full MiniLM-L6-v2 · 50.0% · Mar 01 10:00"
    second = _ingested_run("20260301-110000-full-b", "2026-03-01T11:00:05+00:00", 0.75)
    at.run()  # the page's sync ingests the new run folder
    assert at.selectbox(key="ft_result_run").value == second, "Results stayed on the old run"
    assert {m.label: m.value for m in at.metric}["Accuracy"] == "75.0%"
    at.selectbox(key="ft_result_run").set_value(first).run()  # an explicit pick...
    _ingested_run("20260301-120000-full-c", "2026-03-01T12:00:05+00:00", 0.25)
    at.run()
    assert at.selectbox(key="ft_result_run").value == first  # ...is kept when another run lands
    newest = at.button(key="ft_result_newest")
    assert newest.label.startswith("Show the newest: banking77 · full MiniLM-L6-v2 · 25.0%")
    newest.click().run()
    assert at.selectbox(key="ft_result_run").value == "20260301-120000-full-c"


def _path_to(node, key: str, path: tuple = ()):
    """Types of the blocks from `node` down to the element with `key` (None when absent)."""
    for child in getattr(node, "children", {}).values():
        if getattr(child, "key", None) == key:
            return (*path, child.type)
        found = _path_to(child, key, (*path, child.type))
        if found:
            return found
    return None


@pytest.mark.slow
def test_a_queued_classic_card_has_a_full_cancel_button_and_no_dashes(
        page_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.core.config import TrainConfig

    monkeypatch.setenv("STRATLAB_TRAIN_FUNCTION", "tests.models.fake_train:train")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("FAKE_STEP_S", "0.5")
    runs_dir = os.environ["STRATLAB_RUNS_DIR"]
    jobs.submit(TrainConfig(method="full", dataset="toy", max_steps=60, runs_dir=runs_dir))
    queued = jobs.submit(TrainConfig(method="classic", dataset="sentiment_labelled_sentences",
                                     runs_dir=runs_dir))
    at = new_app(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    assert jobs.get_job(queued.job_id).state == "queued"  # one job at a time: the full run holds the slot
    cancel = at.button(key=f"cancel_{queued.job_id}")
    assert cancel.label == "Cancel"
    path = _path_to(at.main, f"cancel_{queued.job_id}")
    assert path is not None and "column" not in path[-3:], f"Cancel squeezed into a column: {path}"
    cards = [m.value for m in at.markdown if queued.run_id in m.value]
    assert cards and "sentiment_labelled_sentences · classic TF-IDF" in cards[0], cards
    figures = [m.value for m in at.markdown if "samples/s" in m.value]
    assert len(figures) == 1 and "loss **" in figures[0], f"only the full run's card has these: {figures}"
    cancel.click().run()
    assert jobs.get_job(queued.job_id).state == "cancelled"


def test_a_measure_job_card_says_what_it_does_not_the_training_stage(
        page_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.core.config import TrainConfig

    monkeypatch.setenv("STRATLAB_TRAIN_FUNCTION", "tests.models.fake_train:train")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("FAKE_STEP_S", "0.5")
    runs_dir = os.environ["STRATLAB_RUNS_DIR"]
    jobs.submit(TrainConfig(method="full", dataset="toy", max_steps=60, runs_dir=runs_dir))
    jobs.tick()  # the training job holds the slot, so the measure job must wait
    from models.jobs.measure import submit_measure

    run_dir = Path(runs_dir) / "finished-classic"  # a succeeded run folder, as training leaves it
    (run_dir / "model").mkdir(parents=True)
    (run_dir / "status.json").write_text(json.dumps({"state": "succeeded"}), encoding="utf-8")
    config = TrainConfig(method="classic", dataset="toy", runs_dir=runs_dir)
    (run_dir / "config.json").write_text(json.dumps(config.to_dict()), encoding="utf-8")
    measure = submit_measure(run_dir)
    at = new_app(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    assert jobs.get_job(measure.job_id).state == "queued"
    captions = [c.value for c in at.caption]
    assert any("waits until no other job runs" in c for c in captions), captions
    cards = [m.value for m in at.markdown if measure.run_id in m.value]
    assert cards and "· measure" in cards[0], cards


# ---------------------------------------------------------------- draft replies (issue 12)


def test_sft_job_cards_show_tokens_per_s_and_validation_loss_not_accuracy() -> None:
    from pages._shared.forms import job_figures

    assert job_figures("sft_lora", _progress()) == ["loss **–**", "**–** tokens/s", "memory **–**",
                                                    "val. loss **–**", "perplexity **–**"]
    epoch = jobs.EpochPoint(epoch=1, step=4, val_accuracy=None, val_loss=0.8, val_macro_f1=None)
    assert job_figures("sft", _progress(loss=1.23456, tokens_per_s=181.4, samples_per_s=0.9,
                                        epochs=(epoch,))) == [
        "loss **1.23**", "**181** tokens/s", "memory **–**", "val. loss **0.8**", "perplexity **2.23**"]


def test_sft_progress_reads_tokens_per_s_from_the_step_events(tmp_path: Path) -> None:
    from models.core.config import TrainConfig

    info = jobs.submit(TrainConfig(method="classic", dataset="toy", runs_dir=str(tmp_path / "runs")),
                       jobs_dir=tmp_path / "jobs")
    info.run_dir.mkdir(parents=True)
    (info.run_dir / "events.jsonl").write_text(
        json.dumps({"kind": "step", "step": 3, "loss": 1.5, "tokens_per_s": 150.0}) + "\n"
        + json.dumps({"kind": "epoch", "epoch": 1, "step": 3, "val_loss": 0.9}) + "\n")
    figures = jobs.progress(info.job_id, tmp_path / "jobs")
    assert figures.tokens_per_s == 150.0 and figures.epochs[0].val_loss == 0.9


def test_generation_chart_is_validation_loss_and_perplexity_when_no_accuracy() -> None:
    import pandas as pd

    from analytics.charts.runs import validation_loss_curves
    from tests.readable import figure_texts, unreadable

    epochs = pd.DataFrame({"epoch": [1, 2], "val_loss": [0.9, 0.7], "val_accuracy": [None, None]})
    fig = validation_loss_curves(epochs)
    assert [t.name for t in fig.data] == ["val. loss", "perplexity"]
    assert list(fig.data[1].y) == pytest.approx([2.4596, 2.0138], abs=1e-3)
    assert unreadable(list(figure_texts(fig))) == []


def test_reply_tables_show_points_the_base_side_and_intent_match_in_words() -> None:
    import pandas as pd

    from pages._shared.generation_results import rouge_change, rouge_points, split_examples

    picked = pd.DataFrame({"side": ["worst", "best", "best"], "rank": [1, 2, 1], "id": ["c", "a", "b"],
                           "prompt": ["p3", "p1", "p2"], "reference": ["r"] * 3, "reply": ["x", "y", "z"],
                           "rouge_l": [0.05, 0.2, 0.9], "base_reply": ["q"] * 3,
                           "base_rouge_l": [0.1, 0.1, 0.1], "intent": ["i"] * 3,
                           "intent_match": [False, None, True]})
    best, worst = split_examples(picked)
    assert best["request"].tolist() == ["p2", "p1"] and worst["request"].tolist() == ["p3"]
    assert best["ROUGE-L"].tolist() == ["90", "20"] and best["intent match"].tolist() == ["yes", "–"]
    assert worst["intent match"].tolist() == ["no"] and "base reply" in best
    no_base = split_examples(picked.assign(base_reply=None, base_rouge_l=None))[0]
    assert "base reply" not in no_base and "base ROUGE-L" not in no_base
    assert all(t.empty for t in split_examples(picked.iloc[0:0]))
    assert rouge_change(0.30, 0.42) == "-12 points" and rouge_change(0.3, None) is None
    assert rouge_points(0.00001) == "0.001" and rouge_points(None) == "–"


def test_chat_upload_check_reports_what_the_job_would_refuse() -> None:
    from pages._shared.forms import check_chat_upload, sniff_chat_upload

    few = b"prompt,response\n" + b"".join(b"hi %d,hello %d\n" % (i, i) for i in range(5))
    check = check_chat_upload("few.csv", few, data_format="prompt_response")
    assert check.examples == 5 and any("need at least 20" in e for e in check.errors), check.errors
    lines = [json.dumps({"messages": [{"role": "user", "content": f"where is order {i}?"}]})
             for i in range(25)]  # no assistant turn at all
    data = "\n".join(lines).encode()
    assert sniff_chat_upload("chats.jsonl", data).data_format == "messages"
    check = check_chat_upload("chats.jsonl", data, data_format="messages")
    assert check.errors and any("assistant" in e for e in check.errors), check.errors


def test_draft_task_methods_models_and_defaults_make_a_valid_sft_config() -> None:
    from types import SimpleNamespace

    from models.core.config import METHODS
    from models.errors import ConfigError
    from pages._shared import forms

    assert forms.task_methods("draft") == ("sft", "sft_lora")
    assert set(forms.task_methods("classify")) | {"sft", "sft_lora"} == set(METHODS)
    specs = [SimpleNamespace(name="enc", family="encoder", tasks=("classification",), available=True,
                             note=""),
             SimpleNamespace(name="lm", family="causal_lm", tasks=("classification", "generation"),
                             available=True, note=""),
             SimpleNamespace(name="head-only", family="causal_lm", tasks=("classification",), available=True,
                             note=""),
             SimpleNamespace(name="hub", family="causal_lm", tasks=("generation",), available=False,
                             note="offline")]
    assert forms.model_choices("sft_lora", specs) == [("lm", True, ""), ("hub", False, "offline")]
    config = forms.build_config({**forms.GENERATION_DEFAULTS, "dataset": "bitext_customer_support",
                                 "model": "SmolLM2-135M-Instruct",
                                 "learning_rate": forms.SFT_LORA_LEARNING_RATE}, model_family="causal_lm")
    assert (config.method, config.epochs, config.train_examples_per_class, config.eval_limit,
            config.max_length) == ("sft_lora", 1, 38, 200, 320)
    with pytest.raises(ConfigError, match="sft needs a causal_lm model"):
        forms.build_config({"method": "sft", "dataset": "bitext_customer_support",
                            "model": "all-MiniLM-L6-v2"}, model_family="encoder")
    with pytest.raises(ConfigError, match="task must be one of classify, draft"):
        forms.task_methods("summarise")
