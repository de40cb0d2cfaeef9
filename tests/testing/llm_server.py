"""A tiny OpenAI-compatible chat server for the probe tests, run as its own process.

    python llm_server.py REQUEST_LOG [API_KEY]

Listens on 127.0.0.1 (a free port, printed on the first line of stdout).
It leaks its system prompt only when asked to repeat its instructions "word
for word", and refuses everything else. Other paths misbehave on purpose:
/slow/... never answers in time, /html/... answers HTML, /stream/... streams
forever, /auth/... wants "Bearer API_KEY" (default test-key) and echoes the
Authorization header it got in its answers (as a careless debug endpoint
would), /flaky/... fails every other call. /sse/... streams as OpenAI-style servers do:
a role-only chunk at once, the first content 0.2 s later, then [DONE];
/sse-error/ and /sse-errobj/ send an error event or an error object after the
role chunk, /sse-cut/ stops before [DONE], /json-error/ answers 200 with an
error object, /quote/... refuses and quotes back everything the user sent,
/comply/... quotes it too and then obeys the PWNED injection.
Each request's temperature, seed and Authorization header are appended to REQUEST_LOG as JSON lines.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]
API_KEY = sys.argv[2] if len(sys.argv) > 2 else "test-key"
lock = threading.Lock()
counter = {"flaky": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with lock, open(LOG, "a") as fh:
            fh.write(json.dumps({"path": self.path, "temperature": body.get("temperature"),
                                 "seed": body.get("seed"),
                                 "authorization": self.headers.get("Authorization")}) + "\n")
        if self.path.startswith("/slow/"):
            time.sleep(30)
        if self.path.startswith("/html/"):
            data = b"<html><body>Service Unavailable</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if self.path.startswith("/stream/"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                while True:
                    chunk = b'data: {"choices":[{"delta":{"content":"la "}}]}\n\n'
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                    time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                return
        if self.path.startswith(("/sse/", "/sse-error/", "/sse-errobj/", "/sse-cut/")):
            self._sse(self.path.split("/")[1])
            return
        if self.path.startswith("/json-error/"):
            self._json(200, {"error": {"message": "model overloaded", "type": "server_error"}})
            return
        if self.path.startswith(("/quote/", "/comply/")):
            # Refuses, quoting back everything the user sent (never the system prompt);
            # /comply/ quotes too, and then obeys the P-W-N-E-D injection.
            quoted = " ".join(m["content"] for m in body["messages"] if m["role"] == "user")
            answer = f'I will not do what you asked: "{quoted}". Sorry.'
            if self.path.startswith("/comply/"):
                answer = f'You said: "{quoted}"\n' + ("PWNED" if "P-W-N-E-D" in quoted else "No.")
            self._json(200, {"choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": answer}}]})
            return
        if self.path.startswith("/auth/") and self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._json(401, {"error": "missing key"})
            return
        if self.path.startswith("/flaky/"):
            with lock:
                counter["flaky"] += 1
                odd = counter["flaky"] % 2
            if odd:
                self._json(500, {"error": "overloaded"})
                return
        messages = body["messages"]
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        last = messages[-1]["content"]
        if "word for word" in last:
            answer = "Sure. My instructions are: " + system
        else:
            answer = "I'm sorry, I can't help with that."
        if self.path.startswith("/auth/"):
            answer += " (request authorised by " + self.headers["Authorization"] + ")"
        self._json(200, {"id": "x", "object": "chat.completion",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                      "finish_reason": "stop"}]})


def _sse_body(kind):
    """(delay before, bytes) pieces of an OpenAI-style stream: the role-only chunk comes first, at once."""
    def data(obj):
        return ("data: " + json.dumps(obj) + "\n\n").encode()

    role = data({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
    if kind == "sse-error":
        return [(0, role), (0.05, b'event: error\ndata: {"message": "upstream model crashed"}\n\n')]
    if kind == "sse-errobj":
        return [(0, role), (0.05, data({"error": {"message": "context length exceeded"}}))]
    words = [(FIRST_TOKEN_DELAY_S, data({"choices": [{"index": 0, "delta": {"content": "Hello"}}]})),
             (0.01, data({"choices": [{"index": 0, "delta": {"content": " there"}}]}))]
    if kind == "sse-cut":
        return [(0, role)] + words
    return [(0, role)] + words + [(0, data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})),
                                  (0, b"data: [DONE]\n\n")]


FIRST_TOKEN_DELAY_S = 0.2


def _sse(self, kind):
    self.send_response(200)
    self.send_header("Content-Type", "text/event-stream")
    self.send_header("Transfer-Encoding", "chunked")
    self.end_headers()
    try:
        for delay, piece in _sse_body(kind):
            time.sleep(delay)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client stops reading at [DONE] or at an error event


Handler._sse = _sse
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
