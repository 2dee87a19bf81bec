"""A classifier run behind an OpenAI-compatible chat API, on LitServe with dynamic batching.

    POST /v1/chat/completions   the LAST user message is the text; the reply's content is the label name
                                (or {"<field>": label} when the request asks for a JSON schema); `usage` holds
                                the text's tokens as the model saw them (prompt) and 1 completion token
    GET  /v1/models             the one model served (its id: the run id unless --model-name says otherwise)
    GET  /v1/stats              requests, batches and the largest batch the worker ran (load tests read it)
    GET  /health                200 "ok" once the model is loaded (never needs the password)

Why LitServe with our own request model and not its OpenAISpec: with `max_batch_size > 1` OpenAISpec
runs LitServe's batched *streaming* loop, whose default encode_response takes the last item of a batch's
output list as the reply of every request (and then zips the replies over that dict's keys); and one bad
request in a batch fails the whole batch, since decoding happens in the worker. A plain LitAPI on
`/v1/chat/completions` with pydantic request and response models validates each request in the HTTP
process (422 for that request alone) and batches with LitServe's plain batched loop.

Why not `transformers serve`'s typed-decision endpoint (/v1/systemone): its DecisionPipeline answers with a
generative model (the next-token logits of the label words, or an `XxxForDecision` head) and its own
request shape (state/questions); our classifier runs are encoder + classification head (or TF-IDF) and
cannot be loaded by it, and the evaluate-endpoint client speaks chat completions.

Auth: with a password (required off loopback) every route but /health needs `Authorization: Bearer
<password>` (the openai client's api_key); compared in constant time.
"""

import hmac
import json
import logging
import math
import multiprocessing as mp
import os
import re
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import litserve as ls
from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

SERVER = "litserve"
"""The `server` value of serving records for this server."""

HEALTH_PATH = "/health"


class ChatMessage(BaseModel):
    """One chat message; content as a string or OpenAI's list of content parts."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The part of an OpenAI chat-completion request a classifier reads; other fields are accepted and
    ignored (temperature, max_tokens, seed...)."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    response_format: dict[str, Any] | None = None
    stream: bool = False
    n: int = 1
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)

    @field_validator("stream")
    @classmethod
    def _no_stream(cls, value: bool) -> bool:
        if value:
            raise ValueError("a classifier server answers in one piece: send stream=false")
        return value

    @field_validator("n")
    @classmethod
    def _one_choice(cls, value: int) -> int:
        if value != 1:
            raise ValueError("a classifier has one answer per text: send n=1")
        return value

    @field_validator("messages")
    @classmethod
    def _has_user_text(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if last_user_text(messages) is None:
            raise ValueError("no user message with text: the last user message is the text to classify")
        return messages


def last_user_text(messages: list[ChatMessage]) -> str | None:
    """The text of the last user message (text parts joined by newlines), or None."""
    for message in reversed(messages):
        if message.role != "user":
            continue
        content = message.content
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            parts = [str(p.get("text", "")) for p in content if p.get("type") == "text"]
            return "\n".join(parts) if parts else None
        return None
    return None


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[_\-]+", " ", text).lower().split())


def structured_content(label: str, response_format: dict[str, Any] | None) -> str:
    """The reply content: the label name, or a JSON object filling the schema's label field.

    For a json_schema response format, the field is the one property with an enum (or else the first
    required string property) and the value the enum entry naming the label (case, '_' and '-' ignored)."""
    if not response_format or response_format.get("type") not in ("json_schema", "json_object"):
        return label
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    field, value = "label", label
    with_enum = [name for name, prop in properties.items() if isinstance(prop, dict) and prop.get("enum")]
    if with_enum:
        field = with_enum[0]
        matches = [e for e in properties[field]["enum"] if isinstance(e, str) and _norm(e) == _norm(label)]
        value = matches[0] if matches else label
    elif properties:
        strings = [name for name in schema.get("required", properties)
                   if properties.get(name, {}).get("type") == "string"]
        field = strings[0] if strings else next(iter(properties))
    return json.dumps({field: value})


class ClassifierAPI(ls.LitAPI):
    """LitServe API of one classifier run: batches of chat requests -> one predict_proba call."""

    def __init__(self, run_dir: Path, model_name: str, *, max_batch_size: int, batch_timeout_s: float,
                 threads: int | None, password: str | None, stats: Any) -> None:
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout_s,
                         api_path="/v1/chat/completions")
        self.run_dir, self.model_name, self.threads = Path(run_dir), model_name, threads
        self.password = password
        self.stats = stats  # shared int64 array: requests, batches, largest batch

    def setup(self, device: str) -> None:
        import torch

        from models.serving.predictors import load_predictor

        began = time.monotonic()
        if not logging.getLogger().handlers:  # a spawned worker: log like `python -m models` does
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                                datefmt="%H:%M:%S")
        if self.threads:
            torch.set_num_threads(self.threads)
        self.predictor = load_predictor(self.run_dir, device="cpu" if device == "cpu" else "auto",
                                        batch_size=max(self.max_batch_size, 1))
        self.tokenizer = getattr(self.predictor, "tokenizer", None)
        self.max_length = int(getattr(self.predictor, "max_length", 0) or 0)
        self.predictor.predict_proba(["warm up"])
        log.info("model of run %s loaded as %r (%s, %d labels) in %.1f s", self.run_dir.name, self.model_name,
                 self.predictor.method, len(self.predictor.label_names), time.monotonic() - began)

    async def authorize(self, request: Request) -> None:
        """FastAPI dependency of every route: the bearer password (when set), then the model name."""
        if request.url.path == HEALTH_PATH:
            return
        if self.password is not None:
            header = request.headers.get("authorization", "")
            token = header[7:] if header[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(token.encode(), self.password.encode()):
                raise HTTPException(401, "missing or wrong password: send 'Authorization: Bearer <password>' "
                                         "(the openai client's api_key)")
        if request.method == "POST" and request.url.path == self.api_path:
            try:
                body = await request.json()
            except ValueError:
                return  # the request model reports the malformed body
            model = body.get("model") if isinstance(body, dict) else None
            if isinstance(model, str) and model != self.model_name:
                raise HTTPException(404, f"model {model!r} is not served here; this server serves "
                                         f"{self.model_name!r} (GET /v1/models)")

    def decode_request(self, request: ChatRequest) -> dict[str, Any]:
        return {"text": last_user_text(request.messages) or "", "format": request.response_format,
                "top_logprobs": request.top_logprobs if request.logprobs else None}

    def batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(inputs)

    def predict(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        texts = [item["text"] for item in inputs]
        probs = self.predictor.predict_proba(texts)
        with self.stats.get_lock():
            self.stats[0] += len(texts)
            self.stats[1] += 1
            self.stats[2] = max(self.stats[2], len(texts))
        names = self.predictor.label_names
        outputs = []
        for item, text, row in zip(inputs, texts, probs, strict=True):
            best = int(row.argmax())
            top = None
            if item["top_logprobs"] is not None:
                order = row.argsort()[::-1][: max(item["top_logprobs"], 1)]
                top = [(names[i], float(row[i])) for i in order]
            outputs.append({"label": names[best], "probability": float(row[best]), "top": top,
                            "format": item["format"], "prompt_tokens": self._count_tokens(text)})
        return outputs

    def unbatch(self, output: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(output)

    def _count_tokens(self, text: str) -> int:
        if self.tokenizer is None:  # TF-IDF: its words
            return max(len(text.split()), 1)
        count = len(self.tokenizer(text, add_special_tokens=True)["input_ids"])
        return min(count, self.max_length) if self.max_length else count

    def encode_response(self, output: dict[str, Any]) -> dict[str, Any]:
        content = structured_content(output["label"], output["format"])
        logprobs = None
        if output["top"] is not None:
            tops = [{"token": name, "logprob": math.log(max(p, 1e-300)), "bytes": None}
                    for name, p in output["top"]]
            logprobs = {"content": [{"token": output["label"], "logprob": math.log(max(output["probability"],
                                                                                       1e-300)),
                                     "bytes": None, "top_logprobs": tops}]}
        prompt = int(output["prompt_tokens"])
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
                "created": int(time.time()), "model": self.model_name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "logprobs": logprobs, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 1, "total_tokens": prompt + 1}}


class GracefulServer(ls.LitServer):
    """LitServer that keeps its HTTP worker processes, so a SIGTERM can stop them first: uvicorn stops
    accepting, finishes the requests in flight (the model worker still answers them), then LitServe
    stops the model worker."""

    http_workers: dict[int, Any]

    def _start_server(self, *args: Any, **kwargs: Any) -> dict[int, Any]:
        self.http_workers = super()._start_server(*args, **kwargs)
        return self.http_workers


def run_forever(run_dir: Path, model_name: str, *, host: str, port: int, max_batch_size: int = 16,
                batch_timeout_ms: float = 10.0, threads: int | None = None, password: str | None = None,
                grace_s: float = 30.0) -> int:
    """Serve until SIGTERM or SIGINT; 0 after a graceful stop."""
    server = build_server(run_dir, model_name, max_batch_size=max_batch_size,
                          batch_timeout_ms=batch_timeout_ms, threads=threads, password=password)
    server.http_workers = {}

    owner = os.getpid()

    def stop(signum: int, _frame: Any) -> None:
        if os.getpid() != owner:  # a forked HTTP worker inherited this handler: uvicorn handles its own
            return
        log.info("signal %d: finishing requests in flight, then stopping", signum)
        for worker in list(server.http_workers.values()):
            if worker.is_alive() and worker.pid:
                os.kill(worker.pid, signal.SIGTERM)
        for worker in list(server.http_workers.values()):
            worker.join(timeout=grace_s)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(host=host, port=port, log_level="warning", generate_client_file=False,
                   num_api_servers=1)
    except KeyboardInterrupt:  # stopped while the model was loading: LitServe's clean-up had not begun
        _stop_workers(server)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


def _stop_workers(server: GracefulServer) -> None:
    """Terminate the model workers LitServe started (a stop that came before it was serving)."""
    for worker in getattr(server, "inference_workers", []):
        if worker.is_alive():
            worker.terminate()
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()


def new_stats() -> Any:
    """The shared counters (requests, batches, largest batch), made for LitServe's spawned worker."""
    return mp.get_context("spawn").Array("q", 3)


def build_server(run_dir: Path, model_name: str, *, max_batch_size: int = 16, batch_timeout_ms: float = 10.0,
                 threads: int | None = None, password: str | None = None,
                 request_timeout_s: float = 60.0) -> GracefulServer:
    """The LitServer of one classifier run (not started; `run_forever` runs it)."""
    stats = new_stats()
    api = ClassifierAPI(run_dir, model_name, max_batch_size=max_batch_size,
                        batch_timeout_s=batch_timeout_ms / 1000.0, threads=threads, password=password,
                        stats=stats)
    server = GracefulServer(api, accelerator="cpu" if _cpu_only() else "auto", devices=1,
                          timeout=request_timeout_s, healthcheck_path=HEALTH_PATH,
                          disable_openapi_url=password is not None,
                          model_metadata={"run": Path(run_dir).name, "model": model_name})
    guard = [Depends(api.authorize)]

    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": 0,
                                            "owned_by": "strategy-lab"}]}

    async def stats_route() -> dict[str, Any]:
        return {"requests": int(stats[0]), "batches": int(stats[1]), "max_batch_seen": int(stats[2]),
                "max_batch_size": max_batch_size, "batch_timeout_ms": batch_timeout_ms}

    server.app.add_exception_handler(StarletteHTTPException, _openai_http_error)
    server.app.add_exception_handler(RequestValidationError, _openai_validation_error)
    server.app.add_api_route("/v1/models", models, methods=["GET"], dependencies=guard)
    server.app.add_api_route("/v1/stats", stats_route, methods=["GET"], dependencies=guard)
    return server


_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                422: "invalid_request_error", 429: "rate_limit_error"}


def openai_error(status: int, message: str, code: str | None = None) -> JSONResponse:
    """An error in OpenAI's shape ({"error": {"message", "type", "code"}}), which its client shows."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}},
                        status_code=status)


async def _openai_http_error(_request: Request, error: Exception) -> JSONResponse:
    status = int(getattr(error, "status_code", 500))
    detail = getattr(error, "detail", None)
    return openai_error(status, detail if isinstance(detail, str) else json.dumps(detail, default=str))


async def _openai_validation_error(_request: Request, error: Exception) -> JSONResponse:
    problems = getattr(error, "errors", lambda: [])()
    message = "; ".join(f"{'.'.join(str(p) for p in item.get('loc', ())[1:]) or 'body'}: {item.get('msg')}"
                        for item in problems[:5]) or "malformed request"
    return openai_error(422, message)


def _cpu_only() -> bool:
    from litserve.connector import check_cuda_with_nvidia_smi

    return check_cuda_with_nvidia_smi() == 0
