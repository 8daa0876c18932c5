"""What every spec model shares: the pydantic base (unknown keys refused), scalars, sha256."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

Scalar = str | int | float | bool
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _check_sha256(value: str | None, algorithm: str = "sha256") -> str | None:
    if value is not None and not _SHA256.match(value.lower()):
        raise ValueError(f"must be 64 hexadecimal characters (a {algorithm} digest)")
    return None if value is None else value.lower()
