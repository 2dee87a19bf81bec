"""Command line of the model engine: python -m models train|evaluate|predict|bench|jobs|models|datasets|
train-churn.

Every TrainConfig field is a `train` flag, generated from the dataclass (names, types, defaults) and its
field docstrings (read with `ast` from models/config.py), so the CLI, config files and the Python API
never drift apart. Errors of our own types print one line `error: ...` and exit with status 2.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from analytics.errors import SettingsError
from analytics.settings import field_docs
from models.core.config import DEVICES, HEAD_INITS, METHODS, PRECISIONS, SFT_METHODS, TrainConfig, field_types
from models.errors import DataValidationError, StratLabModelError
from models.serving.endpoint import cli as endpoint_cli
from models.serving.server import cli as server_cli
from models.training.churn import cli as churn_cli

log = logging.getLogger(__name__)

EXIT_USAGE = 2

MAIN_EPILOG = """\
examples:
  python -m models datasets                      # what can I train on?
  python -m models models                        # which models are available offline?
  python -m models train --method classic --dataset banking77
  python -m models train --method full --model all-MiniLM-L6-v2 --epochs 3 --batch-size 32
  python -m models train --config my_run.yaml --learning-rate 5e-5    # flags override the file
  python -m models evaluate --run data/runs/<run-id>
  python -m models predict --run data/runs/<run-id> "my card has not arrived" "how do I top up?"
  python -m models predict --run data/runs/<run-id> --input tickets.csv --text-column body --output out.jsonl
  python -m models bench --run data/runs/<run-id> --precision int8
  python -m models jobs submit --method linear_probe --dataset banking77   # queued, runs without the app
  python -m models jobs list

run `python -m models <command> --help` for the options of one command.
"""

TRAIN_EPILOG = """\
config files: --config run.json or run.yaml holds the same keys as these flags, with underscores
(e.g. `learning_rate: 5e-5`); a flag given on the command line wins over the file.

examples:
  python -m models train --method classic --dataset banking77                    # seconds
  python -m models train --method linear_probe --dataset sst2
  python -m models train --method lora --epochs 2 --lora-r 16
  python -m models train --method zero_shot --model SmolLM2-135M-Instruct --eval-limit 200 --few-shot-k 1
  python -m models train --dataset tickets.csv --text-column body --label-column intent --method full
"""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one `error:` line (plus a hint) and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(EXIT_USAGE)


# ---------------------------------------------------------------- TrainConfig -> flags


def whole_number(text: str) -> int:
    """argparse type: an integer ('3', also '3.0' and '1e3' as in config files); the error names the type."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value.is_integer()):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(value)


def number(text: str) -> float:
    """argparse type: a number ('5e-5', '0.1'); NaN and inf pass here and TrainConfig refuses them by name."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _optional(parse: Callable[[str], Any], words: str) -> Callable[[str], Any]:
    """`parse`, or None for 'none'/'null'/''; the error says both are accepted."""
    def convert(text: str) -> Any:
        if text.strip().lower() in ("none", "null", ""):
            return None
        try:
            return parse(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"expected {words} or none, got {text!r}") from None

    return convert


_PARSERS: dict[type, tuple[Callable[[str], Any], str]] = {
    int: (whole_number, "a whole number"), float: (number, "a number"), str: (str, "text")}
_CHOICES = {"method": METHODS, "device": DEVICES, "precision": PRECISIONS, "head_init": HEAD_INITS}


def _flag_type(name: str) -> Callable[[str], Any]:
    """The argparse type of TrainConfig field `name`, from its annotation."""
    base, optional = field_types()[name]
    parse, words = _PARSERS[base]
    return _optional(parse, words) if optional else parse


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One --flag per TrainConfig field; defaults are SUPPRESSed so we know which flags were given."""
    docs = field_docs(TrainConfig)
    group = parser.add_argument_group("training configuration (same keys as a --config file)")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = "$STRATLAB_RUNS_DIR or data/runs" if f.name == "runs_dir" else f.default
        help_text = f"{docs.get(f.name, '')} (default: {default})".replace("%", "%%")
        if field_types()[f.name][0] is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_text)
            continue
        group.add_argument(flag, dest=f.name, type=_flag_type(f.name), choices=_CHOICES.get(f.name),
                           default=argparse.SUPPRESS, help=help_text,
                           metavar=None if f.name in _CHOICES else f.name.upper())


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """--config file values, overridden by the flags given on the command line; validated."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    values: dict[str, Any] = TrainConfig.from_file(args.config).to_dict() if args.config else {}
    values.update({k: v for k, v in vars(args).items() if k in names})
    return TrainConfig.from_dict(values)


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m models",
        description="Strategy Lab model engine: train text classifiers (classic TF-IDF, linear probe, full "
                    "fine-tune, LoRA, zero-shot LLM), evaluate them, predict, and benchmark inference. "
                    "Works offline with the packaged models and datasets.",
        epilog=MAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser)
    train = sub.add_parser("train", help="train one method and write a run folder", epilog=TRAIN_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           description="Train and evaluate one method; "
                           "everything lands in <runs_dir>/<run-id>/.")
    train.add_argument("--config", metavar="FILE", help="JSON or YAML file with TrainConfig keys")
    train.add_argument("--resume", metavar="RUN_DIR",
                       help="continue an unfinished run folder (other flags ignored)")
    add_config_flags(train)
    _add_evaluate(sub)
    _add_predict(sub)
    _add_bench(sub)
    _add_jobs(sub)
    endpoint_cli.add_parsers(sub)  # evaluate-endpoint
    server_cli.add_parsers(sub)  # serve, loadtest
    churn_cli.add_parsers(sub)  # train-churn
    sub.add_parser("models", help="list the model catalog (what is available offline)",
                   description="List every model: name, family, parameters, size, licence, availability.")
    sub.add_parser("datasets", help="list the built-in datasets",
                   description="List the dataset catalog: rows per split, labels, licence.")
    prepare = sub.add_parser("prepare-llm", help="convert the Playground LLM once (make install runs it)",
                             description="De-quantise the packaged GGUF LLM into the model cache once, so "
                                         "the Playground's first Generate loads in about a second.")
    prepare.add_argument("model", nargs="?", help="a registry name or folder (default: the Playground LLM)")
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, metavar="RUN_DIR",
                        help="a finished run folder, e.g. data/runs/<id>")
    parser.add_argument("--device", default="auto", choices=DEVICES, help="where to run (default: auto)")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "int8", "bf16"),
                        help="fp32 as trained; int8 = dynamic int8 Linear layers on CPU; bf16 for GPUs")


def _add_evaluate(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="re-evaluate a saved run on a split",
                       description="Re-evaluate a saved model on its dataset (or --split) "
                       "and print the metrics.",
                       epilog="example:\n"
                              "  python -m models evaluate --run data/runs/<id> --compare-precision int8",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_options(p)
    p.add_argument("--split", default="test", choices=("train", "validation", "test"))
    p.add_argument("--compare-precision", choices=("int8", "bf16"),
                   help="also report the accuracy change of int8/bf16 against fp32 on the same examples")
    p.add_argument("--output", metavar="FILE", help="write the full metrics JSON here")


def _add_predict(sub: Any) -> None:
    p = sub.add_parser("predict", help="label texts with a saved run",
                       description="Predict labels for texts given as arguments or in a file.",
                       epilog="examples:\n"
                              "  python -m models predict --run data/runs/<id> \"card not arrived\"\n"
                              "  python -m models predict --run data/runs/<id> --input texts.txt "
                              "--output out.csv",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_options(p)
    p.add_argument("texts", nargs="*", help="texts to classify")
    p.add_argument("--input", metavar="FILE", help=".txt (one text per line) or CSV/TSV/Parquet/JSONL")
    p.add_argument("--text-column", default="text", help="column of --input holding the text (default: text)")
    p.add_argument("--output", metavar="FILE", help=".csv or .jsonl; default: CSV on stdout")
    p.add_argument("--top-k", type=whole_number, default=1,
                   help="also write the k best labels with probabilities")


def _add_bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="measure latency and throughput of a saved run",
                       description="Warm up, then time single requests and whole-set batches until both a "
                                   "minimum count and a minimum duration are reached.")
    _add_run_options(p)
    p.add_argument("--split", default="test", choices=("train", "validation", "test"))
    p.add_argument("--limit", type=whole_number, default=None, help="use only the first N texts of the split")
    p.add_argument("--min-seconds", type=number, default=5.0, help="minimum timed seconds per measurement")
    p.add_argument("--min-iterations", type=whole_number, default=10, help="minimum single-request calls")


JOBS_EPILOG = """\
The queue is the one the app uses (a folder: --jobs-dir, else $STRATLAB_JOBS_DIR, else data/jobs). Jobs run
as detached processes: a finishing job starts the next queued one, so the queue runs on with no app, no
browser and no terminal. Every successful training job is followed by a measure job (latency and
throughput, timed while nothing else of the queue runs).

examples:
  python -m models jobs submit --method classic --dataset banking77 --train-examples-per-class 16
  python -m models jobs submit --config my_run.yaml --epochs 3
  python -m models jobs list
  python -m models jobs cancel 20261123-125301-train-3fa9c1
  python -m models jobs resume 20261123-125301-train-3fa9c1
  python -m models jobs measure data/runs/<run-id>        # re-measure latency and throughput
"""


def _add_jobs(sub: Any) -> None:
    p = sub.add_parser("jobs", help="queue training jobs that run without the app (submit, list, cancel...)",
                       description="The job queue from the command line: submit, list, cancel, resume, "
                                   "measure.", epilog=JOBS_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=OneLineParser)
    submit = actions.add_parser("submit", help="queue a training job (the same flags as `train`); "
                                "prints its id", epilog=TRAIN_EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Validate the configuration and queue a training job; it "
                                            "starts now if a slot is free, else when one frees up.")
    submit.add_argument("--config", metavar="FILE", help="JSON or YAML file with TrainConfig keys")
    submit.add_argument("--no-start", action="store_true",
                        help="only queue it; the next tick (app, `jobs list`, a finishing job) starts it")
    _add_jobs_dir(submit)
    add_config_flags(submit)
    listing = actions.add_parser("list", help="the jobs, newest first",
                                 description="Advance the queue once (notice ended or crashed jobs, start "
                                             "queued ones), then print every job, newest first.")
    _add_jobs_dir(listing)
    for name, what in (("cancel", "cancel a queued or running job (a running one is stopped cleanly)"),
                       ("resume", "requeue an interrupted job, or a failed/cancelled one with a checkpoint")):
        action = actions.add_parser(name, help=what, description=what[0].upper() + what[1:] + ".")
        action.add_argument("job_id", metavar="JOB_ID", help="a job id from `python -m models jobs list`")
        _add_jobs_dir(action)
    measure = actions.add_parser("measure", help="queue a re-measure of a succeeded run's latency and "
                                 "throughput", description="Queue a measure job for a succeeded run: it runs "
                                 "when nothing else of the queue runs and replaces the run's inference.json.")
    measure.add_argument("run", metavar="RUN_DIR", help="a succeeded run folder, e.g. data/runs/<id>")
    _add_jobs_dir(measure)


def _add_jobs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs-dir", metavar="DIR", help="the queue folder (default: $STRATLAB_JOBS_DIR or "
                        "data/jobs)")


# ---------------------------------------------------------------- commands


def cmd_train(args: argparse.Namespace) -> int:
    from models.data.loading import load_training_data
    from models.serving.benchmark_record import record_after_training
    from models.training.train import resume_run, train

    data = None
    if args.resume:
        result = resume_run(Path(args.resume))
    else:
        config = config_from_args(args)
        _check_model_exists(config)
        if config.method in SFT_METHODS:
            from models.data.chat import load_chat_data

            data = load_chat_data(config)  # read and validated before a run folder exists
        else:
            data = load_training_data(config)
        result = train(config, data)
    if result.state == "succeeded" and result.method not in SFT_METHODS:
        record_after_training(result.run_dir, data)  # inference.json; never fails the run
    summary = {"run_dir": str(result.run_dir), "method": result.method, "model": result.model,
               "train_seconds": round(result.train_seconds, 2)}
    if result.method in SFT_METHODS:
        keys = ("rouge_l", "rouge_l_ci_low", "rouge_l_ci_high", "intent_match", "base_rouge_l",
                "base_intent_match", "perplexity", "decode_tokens_per_s", "n_test_scored")
        summary.update({k: result.metrics.get(k) for k in keys})
    else:
        summary.update(accuracy=result.metrics.get("accuracy"), macro_f1=result.metrics.get("macro_f1"),
                       n_test=result.metrics.get("n"))
    print(json.dumps(summary))
    return 0


def _check_model_exists(config: TrainConfig) -> None:
    """Fail before a run folder is created when the model name is wrong."""
    if config.method != "classic":
        from models.modeling.registry import resolve_model

        resolve_model(config.model)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from models.serving.predictors import compare_precision, evaluate_run

    metrics = evaluate_run(Path(args.run), split=args.split, device=args.device, precision=args.precision)
    if args.output:
        Path(args.output).write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")
    keys = ("run", "split", "precision", "n", "accuracy", "accuracy_ci95", "macro_f1", "weighted_f1",
            "log_loss", "ece")
    summary = {k: metrics.get(k) for k in keys}
    if args.compare_precision:
        summary["precision_comparison"] = compare_precision(Path(args.run), args.compare_precision,
                                                            split=args.split)
    print(json.dumps(summary, default=str))
    return 0


def read_input_texts(path: Path, text_column: str) -> list[str]:
    """Texts from a .txt file (one per non-empty line) or a table file's `text_column`."""
    if path.suffix.lower() in (".txt", ""):
        try:
            return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as e:
            raise DataValidationError(f"cannot read {path}: {e.strerror}") from e
    from models.data.user_files import read_table

    frame = read_table(path)
    if text_column not in frame.columns:
        raise DataValidationError(f"column {text_column!r} not found in {path}; columns are: "
                                  f"{', '.join(map(str, frame.columns))}; pass --text-column")
    return [str(t) for t in frame[text_column].tolist()]


def cmd_predict(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from models.serving.predictors import load_predictor

    texts = list(args.texts) + (read_input_texts(Path(args.input), args.text_column) if args.input else [])
    if not texts:
        raise DataValidationError("no texts to predict; pass them as arguments or with --input FILE")
    predictor = load_predictor(Path(args.run), device=args.device, precision=args.precision)
    chunk = 1024
    rows: list[dict[str, Any]] = []
    for start in tqdm(range(0, len(texts), chunk), desc="predicting", unit="chunk", disable=None,
                      file=sys.stderr):
        part = texts[start : start + chunk]
        rows += prediction_rows(part, predictor.predict_proba(part), predictor.label_names, args.top_k)
    write_rows(rows, Path(args.output) if args.output else None)
    return 0


def prediction_rows(texts: Sequence[str], probs: Any, label_names: Sequence[str],
                    top_k: int) -> list[dict[str, Any]]:
    """One dict per text: text, label, confidence and (top_k > 1) the k best 'label:prob' pairs."""
    rows = []
    for text, row in zip(texts, probs, strict=True):
        order = row.argsort()[::-1]
        item: dict[str, Any] = {"text": text, "label": label_names[order[0]],
                                "confidence": round(float(row[order[0]]), 6)}
        if top_k > 1:
            item["top_k"] = "; ".join(f"{label_names[i]}:{row[i]:.4f}" for i in order[:top_k])
        rows.append(item)
    return rows


def write_rows(rows: list[dict[str, Any]], path: Path | None) -> None:
    """JSONL when path ends with .jsonl/.json, else CSV; stdout when path is None."""
    if path is not None and path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        return
    handle = open(path, "w", newline="", encoding="utf-8") if path else sys.stdout  # noqa: SIM115
    try:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if path:
            handle.close()


def cmd_bench(args: argparse.Namespace) -> int:
    from models.core.runs import read_json
    from models.data.loading import load_training_data
    from models.serving.benchmark import benchmark
    from models.serving.predictors import load_predictor, split_of

    config = TrainConfig.from_dict(read_json(Path(args.run) / "config.json"))
    texts = list(split_of(load_training_data(config), args.split).texts)[: args.limit]
    predictor = load_predictor(Path(args.run), device=args.device, precision=args.precision)
    result = benchmark(predictor, texts, min_seconds=args.min_seconds, min_iterations=args.min_iterations)
    print(json.dumps({"run": Path(args.run).name, "precision": args.precision, **result}))
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from models.errors import JobError
    from models.jobs import queue

    jobs_dir = Path(args.jobs_dir).expanduser() if args.jobs_dir else None
    if jobs_dir is not None and jobs_dir.exists() and not jobs_dir.is_dir():
        raise JobError(f"--jobs-dir {jobs_dir} is a file, not a folder; pass the queue's folder "
                       "(default: $STRATLAB_JOBS_DIR or data/jobs)")
    if args.action == "submit":
        config = config_from_args(args)
        _check_model_exists(config)
        info = queue.submit(config, jobs_dir=jobs_dir)
        if not args.no_start:
            queue.tick(jobs_dir)
        print(info.job_id)
        return 0
    if args.action == "list":
        print(jobs_table(queue.tick(jobs_dir)))
        return 0
    if args.action == "measure":
        from models.jobs.measure import submit_measure

        info = submit_measure(Path(args.run), jobs_dir)
        queue.tick(jobs_dir)
        print(info.job_id)
        return 0
    act = queue.cancel if args.action == "cancel" else queue.resume
    try:
        info = act(args.job_id, jobs_dir)
    except queue.JobNotFoundError as e:
        raise queue.JobNotFoundError(str(e).replace("list_jobs()", "`python -m models jobs list`")) from e
    except JobError as e:
        raise JobError(f"cannot {args.action} job {args.job_id}: {e}") from e
    queue.tick(jobs_dir)  # a resumed job starts now if a slot is free; a cancelled one frees its slot
    print(f"{info.job_id} {queue.get_job(info.job_id, jobs_dir).state}")
    return 0


JOB_COLUMNS = ("id", "kind", "state", "run", "created (UTC)", "error")


def jobs_table(infos: Sequence[Any]) -> str:
    """A plain-text table of jobs: id, kind, state, run, created (UTC, to the second), error."""
    if not infos:
        return "no jobs yet; queue one with `python -m models jobs submit --method classic --dataset ...`"
    rows = [(i.job_id, i.kind, i.state, i.run_id, i.created_at[:19].replace("T", " "),
             " ".join((i.error or "").split())) for i in infos]
    widths = [max(len(JOB_COLUMNS[c]), *(len(r[c]) for r in rows)) for c in range(len(JOB_COLUMNS) - 1)]
    lines = []
    for row in (JOB_COLUMNS, *rows):
        lines.append("  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return "\n".join(line.rstrip() for line in lines)


def cmd_models(args: argparse.Namespace) -> int:
    from models.modeling.registry import list_models

    for spec in list_models():
        params = f"{spec.params / 1e6:.1f}M" if spec.params else "?"
        size = f"{spec.size_bytes / 2**20:.0f} MiB" if spec.size_bytes else "-"
        state = "available" if spec.available else "unavailable"
        print(f"{spec.name:45s} {spec.family:9s} {params:>7s} {size:>9s} {spec.licence:12s} {state:11s} "
              f"{spec.note}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from models.data.catalog import list_datasets

    for entry in list_datasets():
        rows = ", ".join(f"{k} {v}" for k, v in entry.rows.items())
        labels = f"{entry.num_labels} labels" if entry.num_labels else "no labels"
        print(f"{entry.name:30s} {'+'.join(entry.tasks):25s} {labels:10s} {rows:40s} {entry.licence}")
    return 0


def cmd_prepare_llm(args: argparse.Namespace) -> int:
    """`prepare-llm`: the same as `python -m models.modeling.prepare_llm` (what make install runs)."""
    from models.modeling import prepare_llm

    return prepare_llm.main([args.model] if args.model else [])


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "bench": cmd_bench,
            "jobs": cmd_jobs, "models": cmd_models, "datasets": cmd_datasets,
            "prepare-llm": cmd_prepare_llm, **endpoint_cli.COMMANDS, **server_cli.COMMANDS,
            **churn_cli.COMMANDS}


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "filelock", "transformers", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def error_line(error: BaseException) -> str:
    """`error: <message>` on one line; validation problems the message does not already hold follow it."""
    message = " ".join(str(error).split()) or type(error).__name__
    problems = [" ".join(p.split()) for p in getattr(error, "problems", None) or []]
    missing = [p for p in problems if p not in message]
    if missing:
        message += " - " + "; ".join(missing[:10])
    return f"error: {message}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m models`; returns the process exit status."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return COMMANDS[args.command](args)
    except (StratLabModelError, SettingsError) as e:  # SettingsError: a bad STRATLAB_* variable
        log.debug("command failed", exc_info=True)
        sys.stderr.write(error_line(e) + "\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


