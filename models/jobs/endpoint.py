"""Endpoint jobs: an OpenAI-compatible endpoint evaluated on a catalog dataset as a job of the queue.

The Compare page's "Add an endpoint" queues one (`submit_endpoint`), so the page stays responsive and a run
survives the browser tab; the job's process (`run_endpoint_job`, started by models.jobs.runner) calls
models.serving.endpoint.evaluate.evaluate_endpoint, which writes the run folder (method "endpoint") that the
app ingests like any run. The job folder is a normal one: kind 'endpoint', config = EndpointConfig.to_dict()
(runs_dir absolute, run_name = the job's run id), plus where the key is read from.

The key is never written: job.json holds only the NAME of the environment variable (`api_key_env`) or of the
Streamlit secret (`api_key_secret`) that holds it; the job's process reads the value from its environment
(the app's, inherited) or from .streamlit/secrets.toml (project folder, then ~/.streamlit), and passes it
straight to evaluate_endpoint. No torch at import.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import tomllib

from analytics.settings import settings
from models.core.runs import write_json_atomic
from models.errors import ConfigError
from models.jobs import queue

log = logging.getLogger(__name__)

ENDPOINT_KIND = "endpoint"
"""job.json kind of an endpoint evaluation."""
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def secrets_files() -> tuple[Path, ...]:
    """Where Streamlit reads secrets from: the project's .streamlit/secrets.toml, then the user's."""
    return (queue.PROJECT_ROOT / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml")


def read_secret(name: str) -> str | None:
    """The top-level string `name` of the first secrets file that has it, else None (unreadable files are
    skipped; the value is never logged)."""
    for path in secrets_files():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        value = values.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def key_available(api_key_env: str | None, api_key_secret: str | None) -> bool:
    """True when the named variable is set in this process's environment or the named secret exists (or no
    key is asked for)."""
    if api_key_env:
        return bool(os.environ.get(api_key_env))
    if api_key_secret:
        return read_secret(api_key_secret) is not None
    return True


def resolve_key(api_key_env: str | None, api_key_secret: str | None) -> str | None:
    """The key's value from the variable, else the secret; None when neither is named. Raises ConfigError
    (naming the variable or secret, never a value) when the one named is missing."""
    if api_key_env:
        value = os.environ.get(api_key_env)
        if not value:
            raise ConfigError(f"the environment variable {api_key_env} is not set where the app runs; set it "
                              f"(export {api_key_env}=...) and restart the app, or use a Streamlit secret")
        return value
    if api_key_secret:
        value = read_secret(api_key_secret)
        if value is None:
            raise ConfigError(f"no Streamlit secret named {api_key_secret} in .streamlit/secrets.toml; add "
                              f"a line {api_key_secret} = \"...\" there, or use an environment variable")
        return value
    return None


def submit_endpoint(fields: Mapping[str, Any], jobs_dir: Path | str | None = None, *,
                    api_key_secret: str | None = None) -> queue.JobInfo:
    """Queue an endpoint evaluation. `fields` are EndpointConfig's (base_url, model, dataset, api_key_env,
    limit, shots, budget_usd, input/output_price_per_m, price_source...); `api_key_secret` names a Streamlit
    secret instead of api_key_env. Returns the queued job; it starts at the next tick.

    Raises ConfigError (a bad field: EndpointConfig's message, or both or a bad key name) or JobError, with
    nothing written. The key must be available now (checked here so the page can say so before queueing).
    """
    from models.serving.endpoint.config import EndpointConfig

    values = dict(fields)
    env_name = values.get("api_key_env") or None
    if env_name and api_key_secret:
        raise ConfigError("name either an environment variable or a Streamlit secret for the key, not both")
    if api_key_secret is not None and not _NAME.match(api_key_secret):
        raise ConfigError("the Streamlit secret must be named by its key in secrets.toml (letters, digits, _ "
                          "- .); never type the key itself")
    created = datetime.now(timezone.utc)
    runs_dir = Path(values.get("runs_dir") or settings().runs_dir).expanduser().resolve()
    root = queue.resolve_jobs_dir(jobs_dir)
    with queue._locked(root):
        job_dir = queue._make_job_dir(root, ENDPOINT_KIND, created)
        try:
            model = re.sub(r"[^a-z0-9._-]+", "-", str(values.get("model", "")).lower().split("/")[-1])
            run_id = f"{created:%Y%m%d-%H%M%S}-endpoint-{model.strip('-.')[:60] or 'model'}-" \
                     f"{job_dir.name.rsplit('-', 1)[-1]}"
            config = EndpointConfig(**{**values, "api_key_env": env_name, "runs_dir": runs_dir,
                                       "run_name": run_id})
            if not key_available(config.api_key_env, api_key_secret):
                resolve_key(config.api_key_env, api_key_secret)  # raises the message naming what is missing
        except (ConfigError, TypeError) as e:
            job_dir.rmdir()
            if isinstance(e, TypeError):
                raise ConfigError(f"endpoint settings not understood: {e}") from e
            raise
        job = {"kind": ENDPOINT_KIND, "config": config.to_dict(), "run_id": run_id, "cli_args": [],
               "created_at": created.isoformat(), "attempts": 0, "resume": False,
               "api_key_secret": api_key_secret}
        write_json_atomic(job_dir / "job.json", job)
        write_json_atomic(job_dir / "state.json", {"state": "queued", "updated_at": created.isoformat(),
                                                   "history": [["queued", created.isoformat()]]})
    log.info("queued endpoint job %s (run %s, %s at %s)", job_dir.name, run_id, config.model, config.base_url)
    return queue.get_job(job_dir.name, root)


def run_endpoint_job(job: Mapping[str, Any]) -> str:
    """The job's process: read the key, evaluate, return the run's state ('succeeded' or 'failed').

    An evaluation stopped early (budget, failures) keeps what it measured in its run folder and fails the
    job with its message; a refusal before any request (over budget, no price) fails it with nothing sent.
    """
    from models.serving.endpoint.config import EndpointConfig
    from models.serving.endpoint.evaluate import EndpointRunFailed, evaluate_endpoint

    config = EndpointConfig(**dict(job["config"]))
    key = resolve_key(config.api_key_env, job.get("api_key_secret"))

    def progress(done: int, total: int, message: str) -> None:
        log.info("endpoint %s: %d/%d %s", config.model, done, total, message)

    try:
        result = evaluate_endpoint(config, api_key=key, progress=progress)
    except EndpointRunFailed as e:
        log.warning("endpoint run %s stopped early: %s", e.result.run_dir.name, e)
        raise
    log.info("endpoint run %s: %s", result.run_dir.name, result.state)
    return result.state
