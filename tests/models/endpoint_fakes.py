"""A fault-injecting OpenAI-compatible chat server on 127.0.0.1 (ephemeral port, one thread per request).

    with FakeEndpoint(answers={"my card has not arrived": "card_arrival"}) as fake:
        fake.mode = "429"            # every request: 429 with Retry-After: 0
        fake.base_url                # http://127.0.0.1:<port>/v1
        fake.count                   # chat requests received so far

Modes (`mode`, changeable between runs): ok (answers the label `answers` maps the last user message to,
else `default_answer`; JSON {"label": ...} when response_format asked for it and `structured` is True; 400
when it asked and `structured` is False), html (200 text/html), 401, 404 (unknown model), 429 (Retry-After
0), 500, truncated (200 with JSON cut off), cut (Content-Length promises more than is sent, then the
connection closes), foreign (an answer in French naming no label), no_usage (ok without `usage`), echo
(500 quoting the Authorization header back).
`fail_first` makes the first N chat requests answer 500 then behave as `mode`.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeEndpoint:
    """The server; a context manager that starts it in a thread and stops it."""

    def __init__(self, answers: dict[str, str] | None = None, default_answer: str = "none of these",
                 structured: bool = True, prompt_tokens: int | None = None) -> None:
        self.answers = dict(answers or {})
        self.default_answer = default_answer
        self.structured = structured
        self.prompt_tokens = prompt_tokens
        self.mode = "ok"
        self.fail_first = 0
        self.count = 0
        self.bodies: list[dict[str, Any]] = []
        self.auth_headers: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def reset(self, mode: str = "ok") -> None:
        with self._lock:
            self.mode, self.count, self.fail_first = mode, 0, 0
            self.bodies.clear()
            self.auth_headers.clear()

    def __enter__(self) -> FakeEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply(self, body: dict[str, Any]) -> tuple[str, str]:
        """(content, finish_reason) for a good answer."""
        text = body["messages"][-1]["content"]
        label = self.answers.get(text, self.default_answer)
        if self.mode == "foreign":
            label = "Je pense que c'est une question sur la carte bancaire."
        if body.get("response_format") and self.mode != "foreign":
            return json.dumps({"label": label}), "stop"
        return label, "stop"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()  # headers and body go out in separate writes: without NODELAY, Nagle and
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # delayed ACK add 40 ms

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: bytes, content_type: str = "application/json",
                      headers: dict[str, str] | None = None, length: int | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(length if length is not None else len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()

            def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps({"error": {"message": message, "type": "fake"}}).encode(),
                           headers=headers)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self._send(200, json.dumps({"object": "list", "data": [{"id": "fake-model"}]}).encode())

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.count += 1
                    number = fake.count
                    fake.bodies.append(body)
                    fake.auth_headers.append(self.headers.get("Authorization") or "")
                    mode = fake.mode
                if number <= fake.fail_first or mode == "500":
                    return self._error(500, "internal error")
                if mode == "echo":  # a careless server that quotes the key back in its error
                    return self._error(500, f"bad request from {self.headers.get('Authorization')}")
                if mode == "401":
                    return self._error(401, "Incorrect API key provided")
                if mode == "404":
                    return self._error(404, f"The model `{body.get('model')}` does not exist")
                if mode == "429":
                    return self._error(429, "Rate limit reached", headers={"Retry-After": "0"})
                if mode == "html":
                    return self._send(200, b"<html><body><h1>Welcome to nginx!</h1></body></html>",
                                      content_type="text/html")
                if body.get("response_format") and not fake.structured:
                    return self._error(400, "response_format json_schema is not supported by this model")
                content, finish = fake._reply(body)
                prompt = sum(len(m["content"]) for m in body["messages"]) // 4
                payload: dict[str, Any] = {
                    "id": f"chatcmpl-{number}", "object": "chat.completion", "created": 0,
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": finish}]}
                if mode != "no_usage":
                    payload["usage"] = {"prompt_tokens": fake.prompt_tokens or prompt, "completion_tokens": 5,
                                        "total_tokens": (fake.prompt_tokens or prompt) + 5}
                data = json.dumps(payload).encode()
                if mode == "truncated":
                    return self._send(200, data[: len(data) // 2])
                if mode == "cut":
                    self._send(200, data[: len(data) // 2], length=len(data))
                    self.close_connection = True
                    return None
                return self._send(200, data)

        return Handler
