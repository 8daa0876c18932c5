"""What a load test sends: the URL, method, headers and the request bodies.

Bodies come from one fixed text, a file, or the rows of a dataset shaped by a template
(``$row`` is the row as a JSON object, ``$values`` its values as a JSON array and
``${column}`` one value as JSON). Every body is rendered and checked before the first
request, so a malformed template stops the test before it starts; during the test the
requests cycle through the rendered bodies.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from assay.errors import AssayError

BAD_URL = (
    "{url!r} is not an http:// or https:// URL with a host. Give the full address, for example "
    "http://127.0.0.1:8080/predict."
)
BAD_TEMPLATE = "The body template {template!r} is malformed: {problem}. {fix}"
TEMPLATE_FIX = (
    "Use $row (the row as a JSON object), $values (its values as a JSON array) or ${column}; "
    "write $$ for a literal $."
)
NOT_JSON = (
    "The request body is not valid JSON ({problem}), yet the Content-Type is {ctype}: {body!r}. "
    "Fix the body, or set another type with --header 'Content-Type: text/plain'."
)
NO_ROWS = "The dataset for the request bodies has no rows. Point --data at a file with rows."
BAD_HEADER = "The header {header!r} is not 'Name: value'. Write it like --header 'X-Key: 123'."

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Target:
    """An HTTP endpoint and the requests to send it.

    ``bodies`` are sent in turn (request *i* carries ``bodies[i % len(bodies)]``); an empty
    tuple sends no body.
    """

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    bodies: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AssayError(BAD_URL.format(url=self.url))
        try:
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError as exc:
            raise AssayError(BAD_URL.format(url=self.url) + f" ({exc})") from None
        object.__setattr__(self, "method", self.method.upper())

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "https"

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def raw_requests(self) -> list[bytes]:
        """The whole HTTP/1.1 request for each body: what the lean client writes as is."""
        parts = urlsplit(self.url)
        host = parts.netloc.rsplit("@", 1)[-1]
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        names = {k.lower() for k, _ in self.headers}
        head += [f"{k}: {v}" for k, v in self.headers if k.lower() != "content-length"]
        if "user-agent" not in names:
            head.append("User-Agent: assay-loadtest")
        bodies = self.bodies or (b"",)
        out = []
        for body in bodies:
            length = [f"Content-Length: {len(body)}"] if body or self.method in _BODY else []
            out.append(("\r\n".join([*head, *length]) + "\r\n\r\n").encode("latin-1") + body)
        return out


_BODY = ("POST", "PUT", "PATCH")


def parse_headers(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``["Name: value", ...]`` as pairs; a line without a colon is an error."""
    out = []
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise AssayError(BAD_HEADER.format(header=value))
        out.append((name.strip(), rest.strip()))
    return tuple(out)


def _template(text: str) -> string.Template:
    template = string.Template(text)
    try:
        template.substitute({})
    except KeyError:
        pass  # placeholders: checked against the row later
    except ValueError as exc:
        raise AssayError(
            BAD_TEMPLATE.format(template=text, problem=exc, fix=TEMPLATE_FIX)
        ) from None
    return template


def render_rows(template: str, rows: Iterable[Mapping[str, Any]]) -> tuple[bytes, ...]:
    """Each row rendered through ``template`` (see the module docstring), as UTF-8."""
    tpl = _template(template)
    out = []
    for row in rows:
        values = {str(k): _json(v) for k, v in row.items()}
        values["row"] = _json(dict(row))
        values["values"] = _json(list(row.values()))
        try:
            out.append(tpl.substitute(values).encode("utf-8"))
        except KeyError as exc:
            problem = f"the rows have no column {exc.args[0]!r} (columns: {', '.join(row)})"
            raise AssayError(
                BAD_TEMPLATE.format(template=template, problem=problem, fix=TEMPLATE_FIX)
            ) from None
    if not out:
        raise AssayError(NO_ROWS)
    return tuple(out)


def check_bodies(bodies: Sequence[bytes], headers: Sequence[tuple[str, str]]) -> None:
    """Every body must parse as JSON when the Content-Type says JSON."""
    ctype = next((v for k, v in headers if k.lower() == "content-type"), JSON_TYPE)
    if "json" not in ctype.lower():
        return
    for body in bodies:
        try:
            json.loads(body)
        except ValueError as exc:
            problem = str(exc) if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            shown = body[:200].decode("utf-8", "replace")
            raise AssayError(NOT_JSON.format(problem=problem, ctype=ctype, body=shown)) from None


def make_target(
    url: str,
    *,
    method: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    template: str | None = None,
    rows: Iterable[Mapping[str, Any]] | None = None,
) -> Target:
    """A :class:`Target` from one fixed ``body``, or ``rows`` shaped by ``template``.

    A body makes the method POST unless one is given, and the Content-Type
    ``application/json`` unless one is given; a JSON body must then parse as JSON.
    """
    bodies: tuple[bytes, ...] = ()
    if rows is not None:
        bodies = render_rows(template or "$row", rows)
    elif template is not None:
        bodies = render_rows(template, [{}])
    elif body is not None:
        bodies = (body,)
    headers = tuple(headers)
    if bodies:
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers += (("Content-Type", JSON_TYPE),)
        check_bodies(bodies, headers)
    return Target(url, method or ("POST" if bodies else "GET"), headers, bodies)


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)
