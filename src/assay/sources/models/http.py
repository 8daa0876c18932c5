"""A model behind an HTTP JSON endpoint (standard library only: :mod:`urllib.request`).

Each batch is one ``POST`` of a JSON body built from ``request_template``: the template is JSON
in which the string ``"$records"`` stands for the batch as a list of row objects
(``[{"age": 41, "income": 52000.0}, ...]``) and ``"$rows"`` for a list of row lists in feature
order (``[[41, 52000.0], ...]``). The default template is ``{"instances": "$records"}``.

The response must be JSON. ``response_path`` (default ``predictions``) is a dotted path to
the list of predictions, one per row; ``*`` maps over a list (``outputs.*.label``) and a
number indexes one. ``proba_path``, if given, leads to the probabilities: a list of lists
(columns in the order of ``classes:``) or a list of ``{class: probability}`` objects.

Batches go out ``concurrency`` at a time. A request that times out (``timeout`` seconds),
cannot connect, or gets a 429 or 5xx answer is retried ``retries`` times, waiting 0.5 s, 1 s,
2 s … between attempts; then :class:`ModelCallError` names the URL, the status and the start
of the response. Other 4xx answers, malformed JSON and a missing path fail at once.
"""

from __future__ import annotations

import datetime as dt
import decimal
import http.client
import json
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa

from assay._http import network_problem
from assay.errors import MODEL_HTTP_FAILED, MODEL_HTTP_RESPONSE, ModelCallError
from assay.sources.models.base import BatchedModel, Predictions

DEFAULT_TEMPLATE = '{"instances": "$records"}'
DEFAULT_RESPONSE_PATH = "predictions"
DEFAULT_HTTP_BATCH_SIZE = 256
BACKOFF = 0.5
SNIPPET = 200


class HttpModel(BatchedModel):
    """An HTTP JSON endpoint; see the module doc for the request and response contract."""

    kind = "http"

    def __init__(
        self,
        url: str,
        *,
        request_template: str | None = None,
        response_path: str | None = None,
        proba_path: str | None = None,
        classes: Sequence[Any] | None = None,
        features: Sequence[str] | None = None,
        concurrency: int = 4,
        timeout: float = 30.0,
        retries: int = 2,
        batch_size: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        auth: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(
            features=features, classes=classes, batch_size=batch_size or DEFAULT_HTTP_BATCH_SIZE
        )
        self.url = url
        self.template = json.loads(request_template or DEFAULT_TEMPLATE)
        self.response_path = response_path or DEFAULT_RESPONSE_PATH
        self.proba_path = proba_path
        self.concurrency = concurrency
        self.timeout = timeout
        self.attempts = retries + 1
        self.sleep = sleep
        self._auth = auth  # (header, value): kept out of every message and record
        self.description = f"http model {url}"

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "url": self.url}

    def _map_batches(self, batches: list[pa.Table]) -> list[Predictions]:
        if self.concurrency == 1 or len(batches) == 1:
            return [self._checked_batch(b) for b in batches]
        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(batches)), thread_name_prefix="assay-http"
        )
        try:
            return list(pool.map(self._checked_batch, batches))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _predict_batch(self, batch: pa.Table) -> Predictions:
        records = [{k: _jsonable(v) for k, v in row.items()} for row in batch.to_pylist()]
        rows = [list(r.values()) for r in records]
        body = json.dumps(_fill(self.template, records, rows)).encode()
        text = self._post(body)
        try:
            answer = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._bad_response(
                text, f"the response is not JSON ({exc.msg} at character {exc.pos})"
            ) from None
        labels = self._extract(answer, self.response_path, text)
        if not isinstance(labels, list):
            raise self._bad_response(
                text,
                f"response_path {self.response_path!r} leads to a {type(labels).__name__}, "
                "not a list with one prediction per row",
            )
        if self.proba_path is None:
            return Predictions(np.asarray(labels), None, self._classes)
        raw = self._extract(answer, self.proba_path, text)
        if isinstance(raw, list) and raw and all(isinstance(r, dict) for r in raw):
            keys = self._classes if self._classes is not None else _keys(raw[0], labels)
            proba = [[r.get(str(k), math.nan) for k in keys] for r in raw]
            return Predictions(np.asarray(labels), np.asarray(proba, dtype=float), keys)
        return Predictions(np.asarray(labels), np.asarray(raw), self._classes)

    def _post(self, body: bytes) -> str:
        """POST ``body``; retry timeouts, connection errors, 429 and 5xx; return the text."""
        problem, status, snippet = "no attempt made", None, ""
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    **(dict([self._auth]) if self._auth else {}),
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return bytes(response.read()).decode("utf-8", errors="replace")
            except urllib.error.HTTPError as exc:
                with exc:
                    text = exc.read().decode("utf-8", errors="replace")
                status, snippet = exc.code, _snippet(text)
                problem = f"the endpoint answered HTTP {exc.code} {exc.reason}"
                if exc.code != 429 and exc.code < 500:
                    raise ModelCallError(
                        MODEL_HTTP_FAILED.format(
                            url=self.url,
                            problem=problem,
                            attempts=attempt,
                            status="",
                            snippet=snippet,
                            fix="Check request_template against the endpoint's API.",
                        ),
                        url=self.url,
                        status=status,
                        snippet=snippet,
                    ) from None
            except (TimeoutError, urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                status, snippet = None, "(none)"
                problem = network_problem(exc, self.timeout)
            if attempt < self.attempts:
                self.sleep(BACKOFF * 2 ** (attempt - 1))
        raise ModelCallError(
            MODEL_HTTP_FAILED.format(
                url=self.url,
                problem=problem,
                attempts=self.attempts,
                status=f" (last status {status})" if status is not None else "",
                snippet=snippet or "(empty)",
                fix="Check that the endpoint is up and answers within `timeout`, "
                "or raise `timeout` or `retries`.",
            ),
            url=self.url,
            status=status,
            snippet=snippet,
        )

    def _extract(self, answer: Any, path: str, text: str) -> Any:
        try:
            return walk(answer, path)
        except LookupError as exc:
            raise self._bad_response(text, str(exc)) from None

    def _bad_response(self, text: str, problem: str) -> ModelCallError:
        snippet = _snippet(text)
        return ModelCallError(
            MODEL_HTTP_RESPONSE.format(
                url=self.url,
                problem=problem,
                snippet=snippet,
                fix="Fix response_path (or proba_path) to match the endpoint's answer.",
            ),
            url=self.url,
            status=200,
            snippet=snippet,
        )


def walk(value: Any, path: str) -> Any:
    """Follow the dotted ``path`` into decoded JSON; ``*`` maps over a list, a number indexes.

    Raises :class:`LookupError` naming the part of the path that is missing.
    """
    parts = path.split(".")
    for i, part in enumerate(parts):
        here = ".".join(parts[:i]) or "the response"
        if part == "*":
            if not isinstance(value, list):
                raise LookupError(
                    f"path {path!r}: {here} is a {type(value).__name__}, not a list for '*'"
                )
            rest = ".".join(parts[i + 1 :])
            return [walk(v, rest) for v in value] if rest else value
        if isinstance(value, dict):
            if part not in value:
                keys = ", ".join(map(repr, value)) or "none"
                raise LookupError(f"path {path!r}: {here} has no key {part!r} (keys: {keys})")
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit():
            if not -len(value) <= int(part) < len(value):
                raise LookupError(f"path {path!r}: {here} has {len(value)} items, no [{part}]")
            value = value[int(part)]
        else:
            raise LookupError(
                f"path {path!r}: {here} is a {type(value).__name__}, which has no {part!r}"
            )
    return value


def _keys(row: dict[str, Any], labels: list[Any]) -> tuple[Any, ...]:
    """The classes named by a ``{class: probability}`` object: JSON keys are text, so they
    become integers when the predictions are integers and every key is one."""
    keys = tuple(row)
    numeric = all(isinstance(v, int) and not isinstance(v, bool) for v in labels)
    if numeric and all(k.lstrip("-").isdigit() for k in keys):
        return tuple(int(k) for k in keys)
    return keys


def _fill(template: Any, records: list[dict[str, Any]], rows: list[list[Any]]) -> Any:
    if template == "$records":
        return records
    if template == "$rows":
        return rows
    if isinstance(template, dict):
        return {k: _fill(v, records, rows) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, records, rows) for v in template]
    return template


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= SNIPPET else text[:SNIPPET] + "…")
