"""A scripted OpenAI-compatible server on loopback that fails on a schedule.

Each POST to /v1/chat/completions takes the next action from ``schedule``
(then ``"ok"``, or a random fault with probability ``fault_rate``): ``"429"``
(with Retry-After: 0), ``"500"``, ``"drop"``
(close the socket without answering), ``"hang"`` (sleep past the client's
timeout), ``"reject_schema"`` (400 naming response_format), ``"echo400"``,
``"echo500"`` and ``"echo200"`` (the request's headers echoed back, Authorization
last: in a long 400 error message, a long plain-text 500 body, or a 200 reply's
content). ``"ok"`` answers with a valid reply built from the request's schema (or
one pair for json_object); ``default`` replaces it when the schedule is empty.
With ``die_after`` the server shuts down for good after that many requests, the
last one's connection dropped, as a crashed server would.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from utilities.engines.base import EngineRequest, TextPart

from .helpers import valid_reply


class _Listener(ThreadingHTTPServer):
    request_queue_size = 128  # a real server's backlog (http.server's is 5): a burst of connects is not dropped


class FaultServer:
    def __init__(
        self,
        schedule: list[str],
        hang_s: float = 3.0,
        reject_json_schema: bool = False,
        reject_images: bool = False,
        fault_rate: float = 0.0,
        die_after: int | None = None,
        seed: int = 0,
        default: str = "ok",
    ):
        self.default = default
        self.fault_rate = fault_rate
        self.die_after = die_after
        self.rng = random.Random(seed)
        self.received = 0
        self.dead = False
        self.schedule = list(schedule)
        self.hang_s = hang_s
        self.reject_json_schema = reject_json_schema
        self.reject_images = reject_images
        self.lock = threading.Lock()
        self.actions: Counter = Counter()
        self.authorization: set[str] = set()
        self.formats: Counter = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.received += 1
                    if server.schedule:
                        action = server.schedule.pop(0)
                    elif server.rng.random() < server.fault_rate:
                        action = server.rng.choice(["429", "500", "drop", "hang"])
                    else:
                        action = server.default
                    if server.die_after is not None and server.received >= server.die_after and not server.dead:
                        server.dead = True
                        action = "die"
                    server.authorization.add(self.headers.get("Authorization", ""))
                    server.formats[body["response_format"]["type"]] += 1
                if action == "ok" and server.reject_json_schema and body["response_format"]["type"] == "json_schema":
                    action = "reject_schema"
                user = body["messages"][1]["content"]
                has_image = isinstance(user, list) and any(p["type"] == "image_url" for p in user)
                if action == "ok" and server.reject_images and has_image:
                    action = "reject_images"
                with server.lock:
                    server.actions[action] += 1
                if action == "die":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.connection.close()
                    threading.Thread(target=server.kill, daemon=True).start()
                    return
                if action == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.connection.close()
                    return
                if action == "hang":
                    time.sleep(server.hang_s)
                    return
                if action == "429":
                    self._send(429, {"error": "slow down"}, {"Retry-After": "0"})
                elif action == "500":
                    self._send(500, {"error": "internal"})
                elif action == "reject_images":
                    self._send(500, {"error": {"code": 500, "message": "image input is not supported - hint: mmproj"}})
                elif action == "echo400":
                    self._send(400, {"error": {"message": echoed_headers(self.headers)}})
                elif action == "echo500":
                    self._send_text(500, echoed_headers(self.headers))
                elif action == "echo200":
                    self._send(200, completion(echoed_headers(self.headers)))
                elif action == "reject_schema":
                    self._send(400, {"error": {"message": "response_format json_schema is not supported"}})
                else:
                    self._send(200, server.reply(body))

            def _send(self, status, payload, headers=None):
                self._send_text(status, json.dumps(payload), headers, "application/json")

            def _send_text(self, status, text, headers=None, content_type="text/plain"):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = _Listener(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def reply(self, body: dict) -> dict:
        fmt = body["response_format"]
        user = body["messages"][1]["content"]
        text = user if isinstance(user, str) else "".join(p.get("text", "") for p in user if p["type"] == "text")
        schema = fmt["json_schema"]["schema"] if fmt["type"] == "json_schema" else schema_from_prompt(text)
        request = EngineRequest("x", "", (TextPart(text),), schema, 100, 0.0, 1.0, 0)
        return completion(valid_reply(request), prompt_tokens=len(text) // 4)

    def kill(self) -> None:
        """Stop serving and close the listening socket: new connections are refused."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if not self.dead:
            self.kill()


def completion(content: str, prompt_tokens: int = 0) -> dict:
    return {
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content) // 4},
    }


ECHO_LEAD_CHARS = 165  # the echoed key starts at character 188: a 200-character cut splits it


def echoed_headers(headers) -> str:
    """What a careless server says back: the request's headers, Authorization last, after a long lead."""
    others = "; ".join(f"{name}: {value}" for name, value in headers.items() if name.lower() != "authorization")
    lead = f"invalid request, headers received: {others}"[:ECHO_LEAD_CHARS].ljust(ECHO_LEAD_CHARS, ".")
    return f"{lead} Authorization: {headers.get('Authorization', '')}"


def schema_from_prompt(text: str) -> dict:
    """The little of the reply's shape a reply needs, read from the shape the prompt states (json_object mode)."""
    fields = dict(re.findall(r'^- "(\w+)": (.*)$', text, re.MULTILINE))
    if "answerable" in fields or "faithful" in fields:  # a verify request
        return {"properties": {name: {} for name in fields}}
    count = re.search(r"holding exactly (\d+) pair objects", text)
    ids = re.search(r"each a number from 1 to (\d+)", fields.get("evidence", ""))
    pair = {
        "figures": {"items": {"enum": re.findall(r'"(FIGURE_[\w.]+)"', fields.get("figures", ""))}},
        "evidence": {"items": {"enum": list(range(1, int(ids.group(1)) + 1)) if ids else []}},
    }
    return {"properties": {"pairs": {"minItems": int(count.group(1)) if count else 1, "items": {"properties": pair}}}}
