"""Validators that keep a detector's candidate only when it can be real: check digits (Luhn,
IBAN mod-97), issuer prefixes and lengths, the SSA's rules for Social Security numbers, IP
address forms, and the entropy test for random-looking tokens.

They are pure functions of the candidate's text; :mod:`assay.privacy.detectors` finds the
candidates and re-exports these names.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter

ENTROPY_BITS = 4.0
"""Minimum Shannon entropy, bits per character, of a high-entropy token."""

MAX_WORDLIKE = 0.6
"""Maximum share of a high-entropy token's characters in runs of 3+ lower-case letters: in a
random 24-character token of letters and digits this share is above 0.6 once in 1,000."""

IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
"""IBAN length by country (SWIFT IBAN registry)."""


def luhn_valid(digits: str) -> bool:
    """Whether a digit string's last digit is its Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_issuer_known(digits: str) -> bool:
    """Whether the number starts with a payment network's prefix and has its length."""
    n, two, four = len(digits), int(digits[:2]), int(digits[:4])
    if n < 13 and digits[0] not in "56":
        return False  # only Maestro numbers have 12 digits
    if digits[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16  # Mastercard
    if two in (34, 37):
        return n == 15  # American Express
    if two in (30, 36, 38, 39):
        return 14 <= n <= 19  # Diners Club
    if two == 35 or four in (2131, 1800):
        return 15 <= n <= 19  # JCB (2131 and 1800: its old 15-digit numbers)
    if digits[0] == "6" or two in (50, 56, 57, 58):
        return 12 <= n <= 19  # Discover, UnionPay, Maestro, RuPay
    if 2200 <= four <= 2204:
        return 16 <= n <= 19  # Mir
    return False


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed) has its country's IBAN length and mod-97 = 1."""
    iban = text.replace(" ", "").upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """The Social Security Administration's rules for a number that can have been issued."""
    a = int(area)
    if a == 0 or a == 666 or a >= 900 or group == "00" or serial == "0000":
        return False
    return f"{area}{group}{serial}" not in {"078051120", "219099999", "123456789"}


def ipv4_valid(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(
        p.isdigit() and int(p) <= 255 and (p == "0" or not p.startswith("0")) for p in parts
    )


def ipv6_valid(text: str) -> bool:
    address = text.split("%", 1)[0]
    if not any(ch not in ":." for ch in address):  # "::" alone
        return False
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text``'s character distribution."""
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def high_entropy(token: str) -> bool:
    """A random-looking token: upper, lower case and digits, and entropy ≥ ENTROPY_BITS."""
    core = token.rstrip("=")
    if not (
        any(c.islower() for c in core)
        and any(c.isupper() for c in core)
        and any(c.isdigit() for c in core)
    ):
        return False
    if core.count("/") > 2 or core.count("-") > 3 or core.count("_") > 3:
        return False  # paths and slugs
    if sum(len(w) for w in _LOWER_RUN.findall(core)) > MAX_WORDLIKE * len(core):
        return False  # words run together (CamelCaseNames_v2), not random characters
    return shannon_entropy(core) >= ENTROPY_BITS


_LOWER_RUN = re.compile(r"[a-z]{3,}")
