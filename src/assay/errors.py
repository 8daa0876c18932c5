"""Assay's exceptions and the message templates they use.

Every error a user can cause names what went wrong, where (file, line, field or column), the
offending value and the fix, in one message. The command line prints the message and exits
with the error's ``exit_code``; nothing is half-written.

Exception tree::

    AssayError                  base class; exit code 2 (bad input or usage)
    ├── SpecError               assay.yaml is missing, malformed or invalid
    │   └── UnknownCheckError   a check id that is not registered (also a KeyError)
    ├── InputError              a dataset, model or document named by the spec cannot be read
    ├── ModelCallError          a loaded model failed when called, or returned malformed output
    ├── RepositoryError         the evidence repository cannot be opened, locked or written
    │   └── RunNotFoundError    a run reference that matches no stored run (also a KeyError)
    ├── KeyFileError            a signing key cannot be read or is not an Ed25519 key
    └── VerificationError       stored evidence fails verification; exit code 1
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches

# Message templates. Tests assert these exactly; keep them stable.
SPEC_NOT_FOUND = (
    "{path}: no such spec file. Run `assay init --data FILE --target COLUMN` to write one."
)
SPEC_EXISTS = "{path}: already exists. Pass --force to replace it, or -o to write elsewhere."
SPEC_NOT_YAML = "{path}, line {line}: the file is not valid YAML: {problem}. Fix the syntax there."
SPEC_NOT_MAPPING = "{path}: the spec must be a YAML mapping of keys to values. Got {kind}."
SPEC_FIELD = "{path}, line {line}: {field} {problem}. Got {value}. {fix}"
UNKNOWN_CHECK = "Unknown check id {check_id!r}. {hint}"
COLUMN_MISSING = (
    "{path}, line {line}: {field} names column {column!r}, which dataset {dataset!r} ({file}) "
    "lacks. Columns that exist: {existing}."
)
DATA_NOT_FOUND = (
    "{path}, line {line}: dataset {dataset!r} points at {file}, which does not exist. {fix}"
)
DATA_EMPTY = "{file}: dataset {dataset!r} has no rows. An audit needs data; check the export step."
DATA_RAGGED = (
    "{file}, line {line}: expected {expected} fields like the header, got {got}: {text!r}. "
    "Fix the row or quote the field that holds the delimiter."
)
DATA_NOT_UTF8 = (
    "{file}, line {line}: the bytes {text!r} are not UTF-8. Re-export the file as UTF-8 "
    "(for example `iconv -f latin1 -t utf-8`)."
)
DATA_UNREADABLE = "{file}: cannot read dataset {dataset!r} as {format}: {problem}. {fix}"
DATA_CONVERSION = (
    "{file}: column {column!r} was read as {type} from the first rows, but a later row holds "
    "{value!r}. Declare the column in the schema with `type: string`, or fix the value."
)
REPORT_NOT_WRITABLE = "{path}: cannot write the report ({problem}). Choose a writable path."
REPO_NOT_WRITABLE = (
    "{path}: cannot write the evidence repository there ({problem}). Choose a writable folder "
    "with --repo or ASSAY_REPO."
)
REPO_NEWER = (
    "{path}: the evidence repository has format version {found}, newer than this Assay "
    "understands ({supported}). Upgrade Assay."
)
RUN_NOT_FOUND = "No run matches {ref!r} in {repo}. {hint}"
MODEL_NOT_FOUND = (
    "{where}: model file {file} does not exist. Fix the path (relative paths start at the "
    "spec's folder) or save the model there."
)
MODEL_FORMAT_UNKNOWN = (
    "{where}: cannot tell the format of model file {file} from its suffix {suffix!r}. "
    "Add `format: skops`, `format: onnx`, `format: pickle` or `format: joblib`."
)
MODEL_UNREADABLE = "{where}: cannot load model file {file} as {format}: {problem}. {fix}"
MODEL_MISSING_DEPENDENCY = (
    "{where}: loading a {format} model needs {package}, which is not installed. "
    "Run `pip install 'assay[models]'`."
)
MODEL_UNTRUSTED_PICKLE = (
    "{where}: model file {file} is a {format} file, and loading one runs any code it holds. "
    "If you made the file or trust whoever did, add `trust: true` under `model:`; "
    "otherwise save the model with skops (`skops.io.dump`) or export it to ONNX."
)
MODEL_UNTRUSTED_TYPES = (
    "{where}: model file {file} holds types skops does not trust by default: {types}. "
    "Review them; if you trust them, add `trust: true` under `model:`."
)
MODEL_CALLABLE_IMPORT = "{where}: cannot import {target!r}: {problem}. {fix}"
MODEL_NOT_A_MODEL = "{where}: {source} is {kind}, not a model: it has no `predict` method. {fix}"
MODEL_FEATURES = "{where}: `features` does not fit the model: {problem}. {fix}"
MODEL_NO_MODEL = "{where}: the spec has no `model:` section. Add one (docs/models.md)."
MODEL_CALL_FAILED = "{source}: the model failed on a batch of {rows} rows: {problem}"
MODEL_OUTPUT = "{source}: {problem}"
MODEL_HTTP_FAILED = (
    "{url}: {problem} after {attempts} attempt(s){status}. Response: {snippet}. {fix}"
)
MODEL_HTTP_RESPONSE = "{url}: {problem}. Response: {snippet}. {fix}"


class AssayError(Exception):
    """Base class of every error Assay raises on purpose."""

    exit_code = 2


class SpecError(AssayError):
    """The spec file is missing, not YAML, or fails validation."""


class UnknownCheckError(SpecError, KeyError):
    """A check id that no registered check has."""

    def __init__(self, check_id: str, known: Iterable[str], *, where: str = "") -> None:
        known = sorted(known)
        close = get_close_matches(check_id, known, n=3, cutoff=0.5)
        if close:
            hint = "Did you mean " + " or ".join(repr(c) for c in close) + "?"
        else:
            hint = "Registered checks: " + ", ".join(known) + "."
        message = UNKNOWN_CHECK.format(check_id=check_id, hint=hint)
        super().__init__(f"{where}: {message}" if where else message)
        self.check_id = check_id
        self.close_matches = close

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class InputError(AssayError):
    """An input named by the spec (dataset, model, document) cannot be read at all."""


class RepositoryError(AssayError):
    """The evidence repository cannot be opened, locked or written."""


class RunNotFoundError(RepositoryError, KeyError):
    """A run reference that matches no stored run."""

    def __str__(self) -> str:
        return str(self.args[0])


class KeyFileError(AssayError):
    """A signing key file cannot be read or is not an Ed25519 key."""


class VerificationError(AssayError):
    """Stored evidence fails verification: a changed object or a broken link."""

    exit_code = 1


class ModelCallError(AssayError):
    """A loaded model failed when called, or returned output of the wrong shape.

    Raised while predicting, not while loading: it is meant to become an ``error`` finding of
    the check that asked for predictions (uncaught, it exits with code 2). ``url``, ``status``
    and ``snippet`` are set for HTTP models (``status`` is ``None`` when no response came).
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        snippet: str | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.snippet = snippet
