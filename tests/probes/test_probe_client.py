"""The chat completions client against real loopback servers, and the spec's section."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from _fake_chat import serve

from assay.errors import ModelCallError, SpecError
from assay.probes import ChatClient, resolve_key, run_probes
from assay.probes.client import FIX_REJECTED, FIX_RESPONSE, FIX_UNREACHABLE
from assay.spec.loader import parse_spec
from assay.spec.models import GenerativeEndpoint

KEY = "sk-test-0123456789abcdef"
HELLO = [{"role": "user", "content": "hello"}]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_request_is_an_openai_chat_completion() -> None:
    with serve("hardened") as (url, seen):
        client = ChatClient(url + "/chat/completions", model="m-1", api_key=KEY, max_tokens=64)
        answer = client.complete(HELLO)
        keyless = ChatClient(url + "/chat/completions", model="m-1").complete(HELLO)
    assert answer == keyless == "Happy to help with your order. Could you tell me what you need?"
    assert seen[0]["path"] == "/v1/chat/completions"
    assert seen[0]["authorization"] == f"Bearer {KEY}" and seen[1]["authorization"] == ""
    assert seen[0]["body"] == {
        "model": "m-1",
        "messages": HELLO,
        "temperature": 0.0,
        "max_tokens": 64,
    }


def test_a_503_is_retried_with_backoff() -> None:
    waits: list[float] = []
    with serve("flaky") as (url, seen):
        client = ChatClient(url + "/chat/completions", model="m", retries=2, sleep=waits.append)
        assert client.complete(HELLO).startswith("Sure, here is what you asked for.")
    assert len(seen) == 2 and waits == [0.5]


def test_a_rejected_key_fails_at_once_without_quoting_the_key() -> None:
    waits: list[float] = []
    with serve("unauthorized") as (url, seen):
        client = ChatClient(url + "/chat/completions", model="m", api_key=KEY, sleep=waits.append)
        with pytest.raises(ModelCallError) as caught:
            client.complete(HELLO)
    assert len(seen) == 1 and waits == []
    message = str(caught.value)
    assert message == (
        f"{url}/chat/completions: the endpoint answered HTTP 401 Unauthorized after 1 "
        'attempt(s). Response: \'{"error": "invalid key in header '
        "\\'Bearer ***redacted***\\'\"}'. " + FIX_REJECTED
    )
    assert KEY not in message and caught.value.status is None


def test_a_web_page_is_not_an_answer() -> None:
    with serve("html") as (url, _), pytest.raises(ModelCallError) as caught:
        ChatClient(url + "/chat/completions", model="m").complete(HELLO)
    assert str(caught.value) == (
        f"{url}/chat/completions: the response is not JSON (Expecting value at character 0). "
        "Response: '<html><body>Service temporarily unavailable</body></html>'. " + FIX_RESPONSE
    )


def test_a_slow_endpoint_times_out() -> None:
    with serve("slow") as (url, _):
        client = ChatClient(url + "/chat/completions", model="m", timeout=0.05, retries=0)
        with pytest.raises(ModelCallError) as caught:
            client.complete(HELLO)
    assert str(caught.value) == (
        f"{url}/chat/completions: no answer within the timeout of 0.05 s after 1 attempt(s). "
        "Response: (none). " + FIX_UNREACHABLE
    )


def test_a_down_endpoint_stops_the_session_after_one_probe() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    session = run_probes(GenerativeEndpoint(base_url=url, model="m", retries=0), environ={})
    assert session.aborted == (
        f"{url}/chat/completions: the connection was refused after 1 attempt(s). "
        "Response: (none). " + FIX_UNREACHABLE
    )
    assert all(a.error and not a.passed for a in session.attempts)
    assert (
        session.attempts[1].error == f"not sent: the first probe got no answer ({session.aborted})"
    )


def test_the_key_comes_from_the_environment_or_the_spec() -> None:
    endpoint = GenerativeEndpoint(base_url="http://x/v1", model="m", api_key_env="MY_KEY")
    assert resolve_key(endpoint, {"MY_KEY": KEY}) == (KEY, "environment variable MY_KEY")
    assert resolve_key(endpoint, {}) == (None, "none (environment variable MY_KEY is not set)")
    inline = GenerativeEndpoint.model_validate(
        {"base_url": "http://x", "model": "m", "api_key": KEY}
    )
    assert resolve_key(inline, {}) == (KEY, "the spec (`api_key`, discouraged)")
    assert KEY not in repr(inline) and KEY not in json.dumps(inline.model_dump(mode="json"))


BASE = "version: 1\nsystem: {name: chat}\ngenerative:\n  base_url: http://127.0.0.1:9/v1/\n"


def spec_error(text: str) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(text.encode(), source=Path("assay.yaml"))
    return str(caught.value)


def test_the_spec_section_and_its_defaults() -> None:
    spec = parse_spec((BASE + "  model: gpt-x\n  probes: [jailbreak, encoding]\n").encode())
    endpoint = spec.generative
    assert endpoint is not None
    assert endpoint.chat_url == "http://127.0.0.1:9/v1/chat/completions"
    assert endpoint.categories == ("jailbreak", "encoding")
    assert (endpoint.api_key_env, endpoint.timeout, endpoint.retries) == ("OPENAI_API_KEY", 30, 2)
    assert (endpoint.concurrency, endpoint.max_tokens, endpoint.temperature) == (4, 256, 0)
    every = parse_spec((BASE + "  model: m\n  probes: all\n").encode()).generative
    assert every is not None and len(every.categories) == 6


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "  model: m\n  probes: [jailbrake]\n",
            "assay.yaml, line 6: generative.probes.0 must be 'direct_injection', "
            "'indirect_injection', 'system_prompt_extraction', 'pii_exfiltration', 'jailbreak' "
            "or 'encoding'. Got 'jailbrake'. Use one of the values listed.",
        ),
        (
            "  model: m\n  temprature: 0\n",
            "assay.yaml, line 6: generative.temprature is not a known setting. Got 0. Did you "
            "mean 'temperature'? Known settings here: api_key, api_key_env, base_url, "
            "concurrency, max_tokens, model, probes, retries, system_prompt, temperature, "
            "timeout.",
        ),
        (
            "  model: m\n  timeout: 0\n",
            "assay.yaml, line 6: generative.timeout must be greater than 0. Got 0. "
            "Use a larger value.",
        ),
        (
            "  probes: all\n",
            "assay.yaml, line 3: generative.model is required. Got nothing. Add `model:` here.",
        ),
    ],
)
def test_a_bad_section_names_its_line(extra: str, message: str) -> None:
    assert spec_error(BASE + extra) == message


def test_a_key_pasted_as_the_variable_name_is_not_echoed() -> None:
    message = spec_error(BASE + f"  model: m\n  api_key_env: {KEY}\n")
    assert KEY not in message
    assert message.startswith(
        "assay.yaml, line 3: generative has an `api_key_env` that is not an environment "
        "variable name (is it the key itself? then revoke it); write the variable's name, "
        "such as OPENAI_API_KEY."
    )
