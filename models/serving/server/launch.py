"""Start a server for a run folder (or a registry LLM), wait until it is healthy, stop it gracefully.

    with serve_run(Path("data/runs/<id>"), port=0) as server:    # port 0: a free port
        OpenAI(base_url=server.base_url, api_key=server.api_key or "none").chat.completions.create(...)

Which server: classifier runs (classic, linear_probe, full, lora, zero_shot) -> LitServe with dynamic
batching (models.serving.server.classifier_server); causal-LM runs (sft, sft_lora: their model/ folder) and
registry LLMs -> `transformers serve`, or vLLM when it is importable and a GPU is present
(models.serving.server.lm_server).

The password rule is the app's: loopback (127.0.0.1, localhost, ::1) by default; any other host needs the
app's password (STRATLAB_PASSWORD), which the classifier server then requires as `Authorization: Bearer
<password>` (also on loopback whenever a password is set). `transformers serve` has no authentication and
is never exposed (ServingError saying how to reach it safely).

`serve_foreground` is what `python -m models serve` runs (blocks; SIGTERM/SIGINT stop it gracefully, exit
0); `serve_run` starts that same command in a child process and returns a `ServerHandle` once /health says
ok. Every failure before that (a run folder that is unfinished or not servable, a port in use, a host
without a password, a server that exits or never gets healthy) is one ServingError saying what and how to
fix it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import ServingError, StratLabModelError

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Hosts reachable from this machine only; anything else needs the app's password."""

CLASSIFIER_METHODS = ("classic", "linear_probe", "full", "lora", "zero_shot")
LM_METHODS = ("sft", "sft_lora")


@dataclass(frozen=True)
class ServeTarget:
    """What one server serves."""

    kind: str
    """classifier (LitServe) or lm (transformers serve / vLLM)."""
    model_dir: Path
    """The run folder (classifier) or the causal LM's weights folder (lm)."""
    model_name: str
    """The model name requests send (classifier: the run id unless given; lm: set by the server)."""
    run_dir: Path | None = None
    """The run folder served, when it is a run (serving records go there); None for a registry LLM."""
    method: str = ""
    """The run's training method, or 'registry' for a registry LLM."""


def resolve_target(run: str | Path | None = None, model: str | None = None,
                   model_name: str | None = None) -> ServeTarget:
    """The target for `--run R` (a finished run folder) or `--model NAME` (a registry causal LM or a
    folder holding one). Raises ServingError when it cannot be served."""
    if (run is None) == (model is None):
        raise ServingError("give exactly one of --run RUN_DIR (a trained run) or --model NAME (a registry "
                           "LLM such as SmolLM2-135M-Instruct)")
    if model is not None:
        return _registry_target(model)
    from models.core.runs import read_json, run_status

    run_dir = Path(run).expanduser()
    if not (run_dir / "config.json").is_file():
        raise ServingError(f"{run_dir} is not a run folder (no config.json); pass a folder under data/runs "
                           "(`python -m models jobs list` shows them)")
    status = run_status(run_dir)
    state = status.get("state") if status else "unfinished"
    if state != "succeeded":
        raise ServingError(f"run {run_dir.name} is {state}; only a succeeded run can be served - wait for it "
                           "to finish or train it again")
    method = str(read_json(run_dir / "config.json").get("method", ""))
    if not (run_dir / "model").is_dir():
        raise ServingError(f"run {run_dir.name} has no model/ folder to serve; train it again")
    if method in CLASSIFIER_METHODS:
        return ServeTarget("classifier", run_dir, model_name or run_dir.name, run_dir, method)
    if method in LM_METHODS:
        return ServeTarget("lm", run_dir / "model", str((run_dir / "model").resolve()), run_dir, method)
    raise ServingError(f"run {run_dir.name} has method {method!r}, which cannot be served; servable "
                       f"methods: {', '.join(CLASSIFIER_METHODS + LM_METHODS)}")


def _registry_target(name: str) -> ServeTarget:
    from models.modeling.registry import resolve_model

    try:
        spec = resolve_model(name)
    except StratLabModelError as e:
        raise ServingError(f"cannot serve model {name!r}: {e}") from e
    if spec.family != "causal_lm":
        raise ServingError(f"model {spec.name} is an encoder; only causal LMs are served from the registry "
                           "(train a classifier run and serve it with --run)")
    folder = Path(spec.location)
    if getattr(spec, "gguf_file", None):
        from models.modeling.causal_lm import ensure_converted

        folder = ensure_converted(spec)
    return ServeTarget("lm", folder, str(folder.resolve()), None, "registry")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.1, localhost and ::1."""
    return host.strip().lower() in LOOPBACK_HOSTS


def app_password() -> str | None:
    """The app's password (STRATLAB_PASSWORD), or None."""
    from analytics.settings import settings

    return settings().password


def check_exposure(target: ServeTarget, host: str, password: str | None) -> None:
    """The app's password rule; ServingError when `host` may not be used."""
    if is_loopback(host):
        return
    if target.kind == "lm":
        raise ServingError(f"`transformers serve` has no authentication, so it is served on loopback only "
                           f"(asked for host {host}); reach it from another machine through an SSH tunnel "
                           "(ssh -L 8000:127.0.0.1:8000 this-host) or a reverse proxy that checks a password "
                           "and terminates TLS")
    if not password:
        raise ServingError(f"host {host} exposes the server to the network, which needs the app's password: "
                           "set STRATLAB_PASSWORD (clients then send it as the API key), or serve on "
                           "127.0.0.1")
    if host not in ("0.0.0.0", "::"):
        raise ServingError(f"LitServe binds 127.0.0.1, 0.0.0.0 or :: only, got {host}; use 0.0.0.0 to "
                           "listen on every interface")


def check_port_free(host: str, port: int) -> None:
    """ServingError when `port` cannot be bound on `host` (in use, or not allowed)."""
    bind_host = "127.0.0.1" if host == "localhost" else host
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind_host, port))
        except OSError as e:
            raise ServingError(f"port {port} on {host} is not free ({e.strerror or e}); stop whatever uses "
                               "it or pass another --port") from e


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (LitServe needs 1024-65535; ephemeral ports are)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host if host != "localhost" else "127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_foreground(target: ServeTarget, host: str = "127.0.0.1", port: int = 8000, *,
                     max_batch_size: int = 16, batch_timeout_ms: float = 10.0, threads: int | None = None,
                     continuous_batching: bool = False) -> int:
    """Run the server in this process until SIGTERM/SIGINT (then exit 0 after in-flight requests)."""
    password = app_password()
    check_exposure(target, host, password)
    if not 1024 <= port <= 65535:
        raise ServingError(f"--port must be 1024-65535 (LitServe's range; lower ports need root), got {port}")
    check_port_free(host, port)
    if max_batch_size < 1:
        raise ServingError(f"--max-batch-size must be at least 1, got {max_batch_size}")
    if batch_timeout_ms < 0:
        raise ServingError(f"--batch-timeout-ms must be 0 or more, got {batch_timeout_ms}")
    if target.kind == "lm":
        from models.serving.server.lm_server import lm_command, run_lm_server

        command, server, name = lm_command(target.model_dir, host, port,
                                           continuous_batching=continuous_batching)
        log.info("serving %s with %s on http://%s:%d/v1 (model %r)", target.model_dir, server, host, port,
                 name)
        return run_lm_server(command, threads)
    if continuous_batching:
        log.info("--continuous-batching applies to causal LMs; the classifier server batches dynamically")
    from models.serving.server.classifier_server import run_forever

    log.info("serving run %s (%s) with LitServe on http://%s:%d/v1 as model %r", target.model_dir.name,
             target.method, host, port, target.model_name)
    return run_forever(target.model_dir, target.model_name, host="127.0.0.1" if host == "localhost" else host,
                       port=port, max_batch_size=max_batch_size, batch_timeout_ms=batch_timeout_ms,
                       threads=threads, password=password)


@dataclass
class ServerHandle:
    """A server started by `serve_run`: where it listens, what it serves, how to stop it."""

    url: str
    """http://host:port (no path)."""
    model: str
    """The model name requests send."""
    server: str
    """litserve, transformers serve or vllm (the serving record's `server`)."""
    process: subprocess.Popen[bytes]
    """The server's process (its own session, so a stop reaches its workers)."""
    log_path: Path
    """The server's stdout and stderr."""
    target: ServeTarget
    """What it serves."""
    api_key: str | None = field(default=None, repr=False)
    """The bearer password clients send (the app's password), or None."""
    options: dict[str, Any] = field(default_factory=dict)
    """max_batch_size, batch_timeout_ms, threads, continuous_batching as started."""

    @property
    def base_url(self) -> str:
        """The OpenAI client's base_url: <url>/v1."""
        return f"{self.url}/v1"

    def log_tail(self, chars: int = 2000) -> str:
        """The last `chars` characters of the server's log."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (in-flight requests finish), then SIGKILL of the whole group after `timeout_s`; the exit
        status (0 after a graceful stop)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("server %s did not stop within %.0f s; killing it", self.url, timeout_s)
                _kill_group(self.process)
                self.process.wait(timeout=10)
        _kill_group(self.process)  # workers left behind by a crash
        return int(self.process.returncode)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def stop_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """In the server: a daemon thread that sends this process SIGTERM (a graceful stop) once `parent_pid`
    is gone, so a killed test or bench never leaves a server behind."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                continue
            if os.getppid() != parent_pid:
                break
        log.warning("the process that started this server (%d) is gone; stopping", parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def serve_run(run_dir: Path | str | None = None, host: str = "127.0.0.1", port: int = 8000, *,
              model: str | None = None, model_name: str | None = None, max_batch_size: int = 16,
              batch_timeout_ms: float = 10.0, threads: int | None = None, continuous_batching: bool = False,
              startup_timeout_s: float = 180.0, log_dir: Path | None = None) -> ServerHandle:
    """Start `python -m models serve` for `run_dir` (or registry `model`) in a child process and return its
    handle once GET /health answers 200. `port` 0 picks a free port.

    Raises ServingError (checked here first: target, host and password, port) with the server's log tail
    when it exits or is not healthy within `startup_timeout_s`.
    """
    target = resolve_target(run_dir, model, model_name)
    password = app_password()
    check_exposure(target, host, password)
    port = port or free_port(host)
    check_port_free(host, port)
    command = [sys.executable, "-m", "models", "serve", "--stop-with-parent", str(os.getpid()),
               "--host", host, "--port", str(port),
               "--max-batch-size", str(max_batch_size), "--batch-timeout-ms", str(batch_timeout_ms)]
    command += ["--run", str(run_dir)] if run_dir is not None else ["--model", str(model)]
    if model_name:
        command += ["--model-name", model_name]
    if threads:
        command += ["--threads", str(threads)]
    if continuous_batching:
        command.append("--continuous-batching")
    folder = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="stratlab-serve-"))
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"serve-{port}.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    with log_path.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True, cwd=_project_root())
    shown = "127.0.0.1" if host in ("0.0.0.0", "localhost") else ("::1" if host == "::" else host)
    url = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
    if target.kind == "lm":
        from models.serving.server.lm_server import SERVER_TRANSFORMERS, SERVER_VLLM, vllm_usable

        server = SERVER_VLLM if vllm_usable() else SERVER_TRANSFORMERS
    else:
        server = "litserve"
    classifier = target.kind == "classifier"
    options = {"max_batch_size": max_batch_size if classifier else None, "batch_timeout_ms": batch_timeout_ms,
               "threads": threads, "continuous_batching": None if classifier else continuous_batching}
    handle = ServerHandle(url, target.model_name, server, process, log_path, target, api_key=password,
                          options=options)
    try:
        wait_healthy(handle, startup_timeout_s)
    except BaseException:
        handle.stop(timeout_s=10)
        raise
    return handle


def wait_healthy(handle: ServerHandle, timeout_s: float) -> None:
    """Poll GET /health until 200; ServingError when the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    delay = 0.1
    while True:
        code = handle.process.poll()
        if code is not None:
            raise ServingError(f"the server for {handle.target.model_dir} exited with status {code} before "
                               f"it was healthy; its log ends:\n{_scrub(handle.log_tail(), handle.api_key)}")
        if health_ok(handle.url):
            return
        if time.monotonic() > deadline:
            raise ServingError(f"the server for {handle.target.model_dir} was not healthy at "
                               f"{handle.url}/health within {timeout_s:.0f} s; its log ends:\n"
                               f"{_scrub(handle.log_tail(), handle.api_key)}")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def health_ok(url: str, timeout_s: float = 2.0) -> bool:
    """True when GET <url>/health answers 200."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout_s) as response:  # noqa: S310 (loopback)
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _project_root() -> Path:
    return Path(__file__).resolve().parents[3]
