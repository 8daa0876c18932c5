"""A client for an OpenAI-compatible chat completions endpoint (standard library only).

Each call is one ``POST <base_url>/chat/completions`` with ``{"model", "messages",
"temperature", "max_tokens"}`` and, when a key is configured, ``Authorization: Bearer <key>``;
the answer's text is ``choices[0].message.content``. A request that times out, cannot connect,
or gets a 429 or 5xx answer is retried ``retries`` times, waiting 0.5 s, 1 s, 2 s … between
attempts; other 4xx answers and malformed answers fail at once. Failures raise
:class:`~assay.errors.ModelCallError` naming the URL; the key never appears in a message.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from assay._http import network_problem
from assay.errors import MODEL_HTTP_FAILED, MODEL_HTTP_RESPONSE, ModelCallError
from assay.spec.models import GenerativeEndpoint

BACKOFF = 0.5
SNIPPET = 200
REDACTED = "***redacted***"

FIX_UNREACHABLE = (
    "Check that the endpoint is up and answers within `generative.timeout`, or raise "
    "`timeout` or `retries`."
)
FIX_REJECTED = (
    "Check `generative.base_url` (it ends before /chat/completions), `generative.model`, and "
    "the API key in the variable named by `generative.api_key_env`."
)
FIX_RESPONSE = (
    "The endpoint must answer like OpenAI's chat completions API: JSON with "
    "choices[0].message.content."
)


def resolve_key(
    endpoint: GenerativeEndpoint, environ: Mapping[str, str] | None = None
) -> tuple[str | None, str]:
    """The API key and where it came from (a description safe to store: never the key)."""
    environ = os.environ if environ is None else environ
    if endpoint.api_key is not None:
        return endpoint.api_key.get_secret_value(), "the spec (`api_key`, discouraged)"
    if endpoint.api_key_env is None:
        return None, "none (no `api_key_env`)"
    key = environ.get(endpoint.api_key_env) or None
    if key is None:
        return None, f"none (environment variable {endpoint.api_key_env} is not set)"
    return key, f"environment variable {endpoint.api_key_env}"


class ChatClient:
    """Sends one conversation at a time to ``url``; thread-safe (no shared state)."""

    def __init__(
        self,
        url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        max_tokens: int = 256,
        temperature: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.model = model
        self._key = api_key
        self.timeout = timeout
        self.attempts = retries + 1
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.sleep = sleep

    @classmethod
    def for_endpoint(
        cls, endpoint: GenerativeEndpoint, *, api_key: str | None, **kwargs: Any
    ) -> ChatClient:
        return cls(
            endpoint.chat_url,
            model=endpoint.model,
            api_key=api_key,
            timeout=endpoint.timeout,
            retries=endpoint.retries,
            max_tokens=endpoint.max_tokens,
            temperature=endpoint.temperature,
            **kwargs,
        )

    def scrub(self, text: str) -> str:
        """``text`` with the API key, should an endpoint echo it, replaced by a marker."""
        return text.replace(self._key, REDACTED) if self._key else text

    def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The model's answer to ``messages`` (a list of ``{"role", "content"}``)."""
        body = json.dumps(
            {
                "model": self.model,
                "messages": list(messages),
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
            }
        ).encode()
        text = self._post(body)
        try:
            answer = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._bad_response(
                text, f"the response is not JSON ({exc.msg} at character {exc.pos})"
            ) from None
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise self._bad_response(
                text, "the response has no choices[0].message.content"
            ) from None
        if content is None:
            return ""
        if not isinstance(content, str):
            raise self._bad_response(
                text, f"choices[0].message.content is a {type(content).__name__}, not text"
            )
        return content

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _post(self, body: bytes) -> str:
        problem, status, snippet = "no attempt made", None, ""
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(
                self.url, data=body, method="POST", headers=self._headers()
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return bytes(response.read()).decode("utf-8", errors="replace")
            except urllib.error.HTTPError as exc:
                with exc:
                    text = exc.read().decode("utf-8", errors="replace")
                status, snippet = exc.code, self._snippet(text)
                problem = f"the endpoint answered HTTP {exc.code} {exc.reason}"
                if exc.code != 429 and exc.code < 500:
                    raise self._failed(problem, attempt, None, snippet, FIX_REJECTED) from None
            except (TimeoutError, urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                status, snippet = None, "(none)"
                problem = network_problem(exc, self.timeout)
            if attempt < self.attempts:
                self.sleep(BACKOFF * 2 ** (attempt - 1))
        raise self._failed(problem, self.attempts, status, snippet, FIX_UNREACHABLE)

    def _failed(
        self, problem: str, attempts: int, status: int | None, snippet: str, fix: str
    ) -> ModelCallError:
        return ModelCallError(
            MODEL_HTTP_FAILED.format(
                url=self.url,
                problem=problem,
                attempts=attempts,
                status=f" (last status {status})" if status is not None else "",
                snippet=snippet or "(empty)",
                fix=fix,
            ),
            url=self.url,
            status=status,
            snippet=snippet,
        )

    def _bad_response(self, text: str, problem: str) -> ModelCallError:
        snippet = self._snippet(text)
        return ModelCallError(
            MODEL_HTTP_RESPONSE.format(
                url=self.url, problem=problem, snippet=snippet, fix=FIX_RESPONSE
            ),
            url=self.url,
            status=200,
            snippet=snippet,
        )

    def _snippet(self, text: str) -> str:
        text = " ".join(self.scrub(text).split())
        return repr(text if len(text) <= SNIPPET else text[:SNIPPET] + "…")
