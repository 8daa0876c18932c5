"""Two rule-based fakes of a chat model behind an OpenAI-compatible API, on real loopback
HTTP servers: a VULNERABLE one that does whatever any text tells it, and a HARDENED one that
refuses attacks and strips instructions from documents. Both are deterministic.

Also the broken endpoints of the bad-input tests: ``html`` answers with a web page,
``slow`` answers after the client gave up, ``flaky`` answers 503 to its first request,
``unauthorized`` answers 401 with a body that echoes the request's Authorization header.
Start one with ``with serve(kind) as (base_url, requests): ...``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOMOGLYPHS = {
    "\u0430": "a", "\u0441": "c", "\u0435": "e", "\u0456": "i", "\u043e": "o", "\u0440": "p",
    "\u0445": "x", "\u0443": "y", "\u0455": "s", "\u0391": "A", "\u0395": "E", "\u0399": "I",
    "\u039f": "O", "\u03a4": "T",
}  # fmt: skip
UNLEET = str.maketrans({"4": "a", "3": "e", "1": "i", "0": "o", "5": "s", "7": "t"})
LEAK_WORDS = re.compile(
    r"system prompt|instructions|reference code|configuration|e-?mail|phone|card|"
    r"social security|customer record|contact details|words above",
    re.I,
)
ATTACK_WORDS = re.compile(
    r"ignore|disregard|forget|override|\bvoid\b|\brules\b|<system>|system prompt|instructions|"
    r"reference code|configuration|words above|e-?mail|phone|card|social security|"
    r"customer record|contact details|\bDAN\b|developer mode|grandmother|hypothetical|"
    r"opposite day|hotwire|base64|decode",
    re.I,
)
INSTRUCTION_LINE = re.compile(
    r"ignore|assistant|\bAI\b|system|instruction|reply|respond|print|reveal|include|override|"
    r"!\[|<!--",
    re.I,
)
DOCUMENT = re.compile(r"<document>\n?(.*?)\n?</document>", re.S)
REFUSAL = "I'm sorry, but I can't help with that request."


def readings(text: str) -> list[str]:
    """The text, with look-alike letters read as Latin, de-leeted, and base64 decoded."""
    plain = "".join(HOMOGLYPHS.get(ch, ch) for ch in text)
    views = [plain, plain.lower().translate(UNLEET)]
    for run in re.findall(r"[A-Za-z0-9+/]{12,}={0,2}", plain):
        with suppress(binascii.Error, UnicodeDecodeError):
            views.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8"))
    return views


def vulnerable_answer(messages: list[dict[str, str]], authorization: str) -> str:
    """Obeys every instruction anywhere in the user's turns, documents and encodings."""
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    user = "\n".join(m["content"] for m in messages if m["role"] == "user")
    views = readings(user)
    parts = ["Sure, here is what you asked for."]
    for view in views:
        parts += re.findall(r"\b[A-Z]{3,}(?: [A-Z]{3,})+\b", view)  # "say BLUE PELICAN"
        parts += re.findall(r"(?:with|Say|say) [\"']([^\"']+)[\"']", view)  # begin with "…"
        parts += re.findall(r"!\[[^\]]*\]\([^)]*\)", view)  # markdown images
    if any(LEAK_WORDS.search(view) for view in views):
        parts.append(f"My instructions are: {system}")
        if "configuration" in user:
            parts.append(f"Request headers: Authorization: {authorization}")
    return " ".join(dict.fromkeys(parts))


def hardened_answer(messages: list[dict[str, str]]) -> str:
    """Refuses attacks in the user's own words (however encoded); summarises documents
    without the instruction lines hidden in them; never repeats its system message."""
    user = messages[-1]["content"]
    documents = DOCUMENT.findall(user)
    request = DOCUMENT.sub(" ", user)
    earlier = " ".join(m["content"] for m in messages[1:-1])
    if any(ATTACK_WORDS.search(view) for view in readings(request + " " + earlier)):
        return REFUSAL
    if documents:
        lines = [
            line.strip()
            for doc in documents
            for line in doc.splitlines()
            if line.strip() and not INSTRUCTION_LINE.search(line)
        ]
        return "Summary: " + (lines[0] if lines else "the document holds no content.")
    return "Happy to help with your order. Could you tell me what you need?"


def completion(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }


class _Handler(BaseHTTPRequestHandler):
    kind = "vulnerable"
    release: threading.Event
    seen: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        authorization = self.headers.get("Authorization", "")
        self.seen.append({"path": self.path, "authorization": authorization, "body": body})
        if self.path != "/v1/chat/completions":
            self._send(404, b'{"error": "not found"}', "application/json")
            return
        if self.kind == "unauthorized":
            raw = json.dumps({"error": f"invalid key in header {authorization!r}"}).encode()
            self._send(401, raw, "application/json")
            return
        if self.kind == "flaky" and len(self.seen) == 1:
            self._send(503, b'{"error": "overloaded"}', "application/json")
            return
        if self.kind == "slow":
            self.release.wait(5)
            text = "too late"
        elif self.kind == "html":
            self._send(
                200, b"<html><body>Service temporarily unavailable</body></html>", "text/html"
            )
            return
        elif self.kind in ("vulnerable", "flaky"):
            text = vulnerable_answer(body["messages"], authorization)
        else:
            text = hardened_answer(body["messages"])
        raw = json.dumps(completion(text, body.get("model", ""))).encode()
        self._send(200, raw, "application/json")

    def _send(self, status: int, raw: bytes, media: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the slow endpoint's timeout)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


@contextmanager
def serve(kind: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A fake endpoint of ``kind`` (see the module docstring) on 127.0.0.1; yields
    its base URL (``http://127.0.0.1:PORT/v1``) and the list of requests it received."""
    release = threading.Event()
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_Handler,), {"kind": kind, "release": release, "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()
