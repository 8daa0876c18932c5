"""Encoding tricks that smuggle an instruction past a filter, and the normalisers that undo them.

The transforms (``encode``) build the ``encoding`` probes from a plain-text payload; the
normalisers let the detectors see a leak however the model dressed it up (a canary written in
leetspeak, with Cyrillic look-alikes or in base64 is still a leak). Both are deterministic:
the same payload always gives the same probe text.

>>> encode("base64", "hi")
'aGk='
>>> encode("leetspeak", "leet speak")
'1337 5p34k'
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Callable

ENCODINGS = ("base64", "leetspeak", "homoglyph")

_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "l": "1"})
_UNLEET = str.maketrans({"4": "a", "3": "e", "1": "i", "0": "o", "5": "s", "7": "t", "@": "a"})

HOMOGLYPHS = {
    "a": "\u0430",  # Cyrillic а
    "c": "\u0441",  # Cyrillic с
    "e": "\u0435",  # Cyrillic е
    "i": "\u0456",  # Cyrillic і
    "o": "\u043e",  # Cyrillic о
    "p": "\u0440",  # Cyrillic р
    "x": "\u0445",  # Cyrillic х
    "y": "\u0443",  # Cyrillic у
    "s": "\u0455",  # Cyrillic ѕ
    "A": "\u0391",  # Greek Α
    "E": "\u0395",  # Greek Ε
    "I": "\u0399",  # Greek Ι
    "O": "\u039f",  # Greek Ο
    "T": "\u03a4",  # Greek Τ
}
"""Latin letter → a look-alike from another script (the probe's transform)."""

_FROM_HOMOGLYPH = {ord(v): k for k, v in HOMOGLYPHS.items()} | {
    0x0391: "A",
    0x0392: "B",
    0x0395: "E",
    0x0396: "Z",
    0x0397: "H",
    0x0399: "I",
    0x039A: "K",
    0x039C: "M",
    0x039D: "N",
    0x039F: "O",
    0x03A1: "P",
    0x03A4: "T",
    0x03A5: "Y",
    0x03A7: "X",
    0x0410: "A",
    0x0412: "B",
    0x0415: "E",
    0x041A: "K",
    0x041C: "M",
    0x041D: "H",
    0x041E: "O",
    0x0420: "P",
    0x0421: "C",
    0x0422: "T",
    0x0425: "X",
    0x03BF: "o",
    0x0501: "d",
    0x051B: "q",
    0x051D: "w",
    0x0458: "j",
    0x04BB: "h",
    0x200B: None,  # zero-width space
    0x200C: None,
    0x200D: None,
    0xFEFF: None,
}
"""Look-alike → Latin letter, for reading text back (a superset of :data:`HOMOGLYPHS`)."""

_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{12,}={0,2}")


def base64_encode(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def leetspeak(text: str) -> str:
    return text.lower().translate(_LEET)


def homoglyph(text: str) -> str:
    return "".join(HOMOGLYPHS.get(ch, ch) for ch in text)


_TRANSFORMS: dict[str, Callable[[str], str]] = {
    "base64": base64_encode,
    "leetspeak": leetspeak,
    "homoglyph": homoglyph,
}


def encode(encoding: str, text: str) -> str:
    """``text`` in ``encoding`` (one of :data:`ENCODINGS`)."""
    try:
        return _TRANSFORMS[encoding](text)
    except KeyError:
        raise ValueError(f"unknown encoding {encoding!r}; known: {', '.join(ENCODINGS)}") from None


def unhomoglyph(text: str) -> str:
    """NFKC-normalised ``text`` with look-alike letters read as Latin, zero-width marks gone."""
    return unicodedata.normalize("NFKC", text).translate(_FROM_HOMOGLYPH)


def unleet(text: str) -> str:
    return text.lower().translate(_UNLEET)


def decoded_base64(text: str) -> list[str]:
    """The UTF-8 texts hidden in base64 runs of ``text`` (runs of 12+ characters)."""
    found = []
    for run in _BASE64_RUN.findall(text):
        padded = run + "=" * (-len(run) % 4)
        try:
            decoded = base64.b64decode(padded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable() or "\n" in decoded:
            found.append(decoded)
    return found


def readings(text: str) -> list[str]:
    """Every way the detectors read ``text``: as written (look-alikes undone), de-leeted,
    and each base64 run decoded."""
    plain = unhomoglyph(text)
    views = [plain, unleet(plain)]
    views.extend(unhomoglyph(d) for d in decoded_base64(plain))
    return views
