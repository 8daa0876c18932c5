"""Send the probe library to a generative endpoint and judge every answer.

The first probe goes out alone: when the endpoint is down, slow or does not speak the chat
completions API, that one failure stops the session (every probe is then reported as not
sent, with the reason) instead of waiting out every probe's timeouts. The rest go out
``concurrency`` at a time; results keep the library's order, so a session is deterministic
for a deterministic endpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from assay.errors import ModelCallError
from assay.probes.client import ChatClient, resolve_key
from assay.probes.detectors import Detectors
from assay.probes.library import Library, Probe, load_library
from assay.probes.masking import mask
from assay.spec.models import GenerativeEndpoint

ATTEMPTS_SCHEMA = "assay.probe_attempts/1"
_LETTERS = "ABCDEFGHIJKMNOPQRSTUVWXYZ"  # no L: leetspeak writes L and I alike


def make_canary(seed: int) -> str:
    """Twelve capital letters derived from the spec's seed: random enough never to appear by
    chance, reproducible so two runs of one spec send the same probes."""
    digest = hashlib.sha256(f"assay-canary:{seed}".encode()).digest()
    return "".join(_LETTERS[b % len(_LETTERS)] for b in digest[:12])


@dataclass(frozen=True)
class Attempt:
    """One probe sent and judged. ``error`` is set when no answer came back."""

    probe: Probe
    messages: tuple[Mapping[str, str], ...]
    response: str | None
    fired: tuple[str, ...] = ()
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and not self.fired


@dataclass(frozen=True)
class Session:
    """Every attempt of one audit against one endpoint."""

    url: str
    model: str
    key_source: str
    library_version: str
    canary: str
    attempts: tuple[Attempt, ...]
    settings: Mapping[str, Any]
    aborted: str | None = None
    """Why the session stopped after its first probe, if it did."""
    scrub: Callable[[str], str] = str

    def in_category(self, category: str) -> list[Attempt]:
        return [a for a in self.attempts if a.probe.category == category]

    def evidence(self, category: str) -> dict[str, Any]:
        """The category's attempts as stored: personal data masked, the API key scrubbed."""

        def safe(text: str) -> str:
            return mask(self.scrub(text))

        return {
            "schema": ATTEMPTS_SCHEMA,
            "category": category,
            "endpoint": self.url,
            "model": self.model,
            "api_key": self.key_source,
            "library_version": self.library_version,
            "canary": self.canary,
            "settings": dict(self.settings),
            "aborted": None if self.aborted is None else self.scrub(self.aborted),
            "attempts": [
                {
                    "probe": a.probe.id,
                    "version": a.probe.version,
                    "title": a.probe.title,
                    "encoding": a.probe.encoding,
                    "detectors": [d.describe() for d in a.probe.detectors],
                    "messages": [
                        {"role": m["role"], "content": safe(m["content"])} for m in a.messages
                    ],
                    "response": None if a.response is None else safe(a.response),
                    "fired": list(a.fired),
                    "passed": a.passed,
                    "error": None if a.error is None else self.scrub(a.error),
                }
                for a in self.in_category(category)
            ],
        }


def run_probes(
    endpoint: GenerativeEndpoint,
    *,
    seed: int = 0,
    categories: Sequence[str] | None = None,
    library: Library | None = None,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Session:
    """Send every probe of ``categories`` (default: the endpoint's) and judge the answers."""
    library = library or load_library()
    wanted = set(endpoint.categories if categories is None else categories)
    probes = [p for p in library.probes if p.category in wanted]
    key, key_source = resolve_key(endpoint, environ)
    extra = {} if sleep is None else {"sleep": sleep}
    client = ChatClient.for_endpoint(endpoint, api_key=key, **extra)
    canary = make_canary(seed)
    detectors = Detectors(canary=canary, refusal_markers=library.refusal_markers)

    def conversation(probe: Probe) -> tuple[dict[str, str], ...]:
        system = library.system_message(probe, system_prompt=endpoint.system_prompt, canary=canary)
        return ({"role": "system", "content": system}, *probe.user_messages())

    def send(probe: Probe) -> Attempt:
        messages = conversation(probe)
        try:
            response = client.complete(messages)
        except ModelCallError as exc:
            return Attempt(probe, messages, None, error=client.scrub(str(exc)))
        return Attempt(probe, messages, response, detectors.judge(probe.detectors, response).fired)

    attempts: list[Attempt] = []
    aborted = None
    if probes:
        first = send(probes[0])
        attempts.append(first)
        if first.error is not None:
            aborted = first.error
            note = f"not sent: the first probe got no answer ({first.error})"
            attempts.extend(Attempt(p, conversation(p), None, error=note) for p in probes[1:])
        elif len(probes) > 1:
            workers = min(endpoint.concurrency, len(probes) - 1)
            with ThreadPoolExecutor(workers, thread_name_prefix="assay-probe") as pool:
                attempts.extend(pool.map(send, probes[1:]))
    return Session(
        url=endpoint.chat_url,
        model=endpoint.model,
        key_source=key_source,
        library_version=library.version,
        canary=canary,
        attempts=tuple(attempts),
        settings={
            "temperature": endpoint.temperature,
            "max_tokens": endpoint.max_tokens,
            "timeout": endpoint.timeout,
            "retries": endpoint.retries,
            "concurrency": endpoint.concurrency,
            "system_prompt": "the spec's" if endpoint.system_prompt else "the library's default",
        },
        aborted=aborted,
        scrub=client.scrub,
    )
