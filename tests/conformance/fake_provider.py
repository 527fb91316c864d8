"""A fake LLM provider on 127.0.0.1 for the conformance suite (not a test module).

It serves the OpenAI Chat Completions shape (`/v1/chat/completions`, and Azure's
`/openai/deployments/<d>/chat/completions`), records every request, and can be told to fail
the next request the way OpenAI does: 401 bad key, 404 unknown model, 429 with
`Retry-After`, 500. By default it answers a JSON-mode request (extraction) with one fact per user line, and
any other request (answering) with the first candidate's text and its marker, plus an invented
`[mem-99]` that the server must drop.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

FAILURES = {
    "bad_key": (401, "invalid_api_key", "Incorrect API key provided"),
    "unknown_model": (404, "model_not_found", "The model `nope` does not exist"),
    "rate_limited": (429, "rate_limit_exceeded", "Rate limit reached"),
    "outage": (500, "server_error", "The server had an error"),
}


class FakeProvider:
    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.next_failure: Optional[str] = None
        self.answer: Optional[str] = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                fake.requests.append({"path": self.path,
                                      "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "body": body})
                failure, fake.next_failure = fake.next_failure, None
                if failure:
                    status, code, message = FAILURES[failure]
                    payload = {"error": {"message": message, "type": "invalid_request_error",
                                         "code": code}}
                    self._send(status, payload, {"Retry-After": "7"} if status == 429 else {})
                    return
                prompt = body["messages"][-1]["content"]
                if fake.answer is not None:
                    text = fake.answer
                elif body.get("response_format", {}).get("type") == "json_object":
                    text = fake._facts(prompt)
                else:
                    text = fake._cite(prompt)
                self._send(200, {"id": "chatcmpl-fake", "object": "chat.completion",
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant",
                                                          "content": text}}]})

            def _send(self, status: int, payload: Any, headers: Dict[str, str] = {}) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @staticmethod
    def _facts(prompt: str) -> str:
        """An extraction: one fact per user line, "User said: <line>"."""
        facts = [{"decision": f"User said: {line[len('User: '):]}", "topic": "Chat",
                  "importance_score": 6}
                 for line in prompt.splitlines() if line.startswith("User: ")]
        return json.dumps({"facts": facts})

    @staticmethod
    def _cite(prompt: str) -> str:
        for line in prompt.splitlines():
            if line.startswith("[mem-1] ") and ") " in line:
                return f"{line.split(') ', 1)[1]} [mem-1] [mem-99]."
        return "Nothing relevant."

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
