"""A scripted OpenAI-compatible server on loopback that fails on a schedule.

Each POST to /v1/chat/completions takes the next action from ``schedule``
(then ``"ok"``, or a random fault with probability ``fault_rate``): ``"429"``
(with Retry-After: 0), ``"500"``, ``"drop"``
(close the socket without answering), ``"hang"`` (sleep past the client's
timeout), ``"reject_schema"`` (400 naming response_format), ``"echo400"``,
``"echo500"`` and ``"echo200"`` (the request's headers echoed back, Authorization
last: in a long 400 error message, a long plain-text 500 body, or a 200 reply's
content). ``"ok"`` answers with a valid reply built from the request's ``response_format``
schema or, under ``json_object``, from the prompt alone (``reply_from_prompt``: the fields,
counts, bounds, sentence marks and figure ids the prompt states); ``default`` replaces
it when the schedule is empty.
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

from .helpers import SENTENCES_FOR_LENGTH, answer_about, once_said_word, question_about, valid_reply


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
        if fmt["type"] != "json_schema":
            return completion(reply_from_prompt(f"{body['messages'][0]['content']}\n\n{text}"), len(text) // 4)
        request = EngineRequest("x", "", (TextPart(text),), fmt["json_schema"]["schema"], 100, 0.0, 1.0, 0)
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


def stated_fields(text: str) -> list[tuple[str, str]]:
    """(name, what the prompt says of it) for each field line of a verify reply's stated shape, in order."""
    return re.findall(r'^- "(\w+)": (.*)$', text.split("Reply with one JSON object", 1)[-1], re.MULTILINE)


def stated_pair_shape(text: str) -> tuple[int, list[tuple[str, str]]] | None:
    """(count, [(name, what the prompt says of it)]) of a pairs reply: the count and the fields in the order
    the task names them, each described by the task's own line for it or else by the system prompt's
    reply shape; None when the prompt asks for no pairs."""
    task = text.rsplit("# Task", 1)[-1]
    header = re.search(r"Reply with (?:exactly )?(\d+) pair objects, each with the fields (.*), in this order", task)
    if header is None:
        return None
    shared = text.split("# Reply shape", 1)[-1].split("# Source material", 1)[0]
    said = dict(re.findall(r'^- "(\w+)"[^:\n]*: (.*)$', shared, re.MULTILINE))
    said.update(re.findall(r'^- "(\w+)": (.*)$', task, re.MULTILINE))
    names = re.findall(r'"(\w+)"', header.group(2))
    return int(header.group(1)), [(name, said.get(name, "")) for name in names]


def marked_sentences(text: str) -> dict[int, str]:
    """Sentence number -> sentence, from the ``[n]`` marks of the prompt's source (before its task)."""
    source = text.split("# Task", 1)[0]
    found = {}
    for match in re.finditer(r"\[(\d+)\] ", source):
        rest = " ".join(re.split(r" ?\[\d+\] |\n\n", source[match.end() :], maxsplit=1)[0].split())
        found[int(match.group(1))] = rest.split(". ", 1)[0].rstrip(".") + "."
    return found


def stated_max(description: str, unit: str, default: int = 10**6) -> int:
    """The upper bound a description states: 'a string of 1 to 400 characters' -> 400."""
    match = re.search(rf"(?:to|at most|exactly) (\d+) {unit}", description)
    return int(match.group(1)) if match else default


def reply_from_prompt(text: str) -> str:
    """A valid reply written from what the prompt says alone (json_object mode has no schema to read):
    the fields it lists, in its order, each within the bounds it states. Pairs cite sentences by the
    numbers the prompt marks (those of the run it names, if any) and restate them as the answer; verify
    replies re-answer with the sentences the prompt says were cited, and rate every criterion the top
    of the range the prompt gives. A field the prompt does not name is not written."""
    shape = stated_pair_shape(text)
    if shape is None:
        return json.dumps({name: verify_value(text, description) for name, description in stated_fields(text)})
    count, fields = shape
    said = dict(fields)
    evidence, answer = said.get("evidence", ""), said.get("answer", "")
    citable = list(marked_sentences(text).items())  # cited by the numbers the prompt marks
    if window := re.search(r"sentences \[(\d+)\] to \[(\d+)\]", text.rsplit("# Task", 1)[-1]):
        citable = [c for c in citable if int(window.group(1)) <= c[0] <= int(window.group(2))]
    if listed := re.search(r"each one of ([\d, ]+);", evidence):  # the numbers the evidence field allows
        allowed = {int(n) for n in re.findall(r"\d+", listed.group(1))}
        citable = [c for c in citable if c[0] in allowed] or citable
    figures = re.findall(r"^- (FIGURE_[\w.-]+): ", text, re.MULTILINE)  # the figures the prompt lists as attached
    wanted = re.search(r"the answer in (\w+) (?:to|or) \w+ (sentences|paragraphs)", answer)
    k = 1 if wanted is None else 99 if wanted.group(2) == "paragraphs" else SENTENCES_FOR_LENGTH.get(wanted.group(1), 1)
    k = min(k, len(citable), stated_max(evidence, "items"))
    step_max, answer_max = stated_max(said.get("reasoning_steps", ""), "characters"), stated_max(answer, "characters")
    facts = re.findall(r"^Fact \d+: (?:\[(\d+)\] )?", text, re.MULTILINE)
    pairs = []
    for i in range(count):
        chosen = [citable[(i + j) % len(citable)] for j in range(k)]
        if i < len(facts) and facts[i]:  # one pair per fact, citing the fact
            chosen = [c for c in citable if c[0] == int(facts[i])][:1] or chosen
        values = {
            "evidence": [c for c, _ in chosen],
            "figures": figures[:1],
            "question": question_about(f"{text}|{i}", chosen[0][1]),
            "reasoning_steps": [f"Recall: {chosen[0][1]}"[:step_max]],
            "answer": answer_about(f"{text}|{i}", " ".join(sentence for _, sentence in chosen))[:answer_max],
            "missing_term": once_said_word(chosen[0][1]),
        }
        pairs.append({name: values.get(name, "") for name, _ in fields})
    return json.dumps({"pairs": pairs})


def verify_value(text: str, description: str):
    """One field of a verify reply, from its stated kind: a boolean is true, an object gets each of its
    stated fields (a number the top of its range, a string a reason), a string is the cited sentences."""
    if description.startswith("boolean"):
        return True
    if description.startswith("{"):
        inner = re.findall(r'"(\w+)": a (?:number from \d+ to (\d+)|string)', description.split("}", 1)[0])
        return {key: int(top) if top else "stated in the source" for key, top in inner}
    block = text.split("## Sentences cited for this pair", 1)[-1].split("# Question", 1)[0]
    cited = " ".join(line[2:] for line in block.strip().splitlines() if line.startswith("- "))
    return cited[: stated_max(description, "characters")]
