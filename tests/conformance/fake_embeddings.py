"""A fake OpenAI-compatible embeddings API on 127.0.0.1 for the conformance suite (not a test
module): `POST /v1/embeddings` returns deterministic bag-of-concepts vectors (words of one
synonym group share a dimension, so "car" and "automobile" embed alike) and can be told to
fail the next requests with a 500.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List

DIMS = 256
SYNONYMS = [["car", "automobile", "vehicle", "sedan"], ["doctor", "physician", "dentist"]]


def embed(text: str) -> List[float]:
    vector = [0.0] * DIMS
    for word in "".join(c if c.isalnum() else " " for c in text.lower()).split():
        concept = next((group[0] for group in SYNONYMS if word in group), word)
        vector[int(hashlib.sha256(concept.encode()).hexdigest(), 16) % DIMS] += 1.0
    return vector


class FakeEmbeddings:
    def __init__(self) -> None:
        self.failures_left = 0
        self.requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                fake.requests += 1
                if fake.failures_left > 0:
                    fake.failures_left -= 1
                    self._send(500, {"error": {"message": "model overloaded"}})
                    return
                data = [{"object": "embedding", "index": i, "embedding": embed(t)}
                        for i, t in enumerate(body["input"])]
                self._send(200, {"object": "list", "data": data, "model": body["model"]})

            def _send(self, status: int, payload) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
