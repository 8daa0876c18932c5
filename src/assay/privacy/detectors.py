"""Detectors of personal data and secrets in text: a pattern finds candidates, a validator
keeps the real ones.

Entity kinds (stable names, used in metrics, evidence and masks):

``email``
    ``local@domain.tld``; the domain has a dot and an alphabetic TLD; image names such as
    ``icon@2x.png`` are not addresses.
``phone``
    Parsed and validated with ``phonenumbers`` (``is_valid_number``): ``+``/``00`` numbers with
    their country code; national numbers as US numbers, or, with a trunk ``0``, as numbers of
    the European and other regions in :data:`TRUNK_REGIONS`. A bare digit run (no ``+``,
    separator or parenthesis) counts only next to a phone word ("tel", "call", …) or in a
    phone column: otherwise it is an id or an order number.
``payment_card``
    13–19 digits, one separator style, a known issuer prefix and a valid Luhn check digit;
    not right after an order, invoice, tracking or reference word.
``iban``
    A country with a known IBAN length, that length, and ISO 7064 mod-97 remainder 1.
``us_ssn``
    ``AAA-GG-SSSS`` (dashes or spaces) with a possible area (not 000, 666 or 900–999), group
    (not 00) and serial (not 0000); nine bare digits only next to "SSN"/"social security".
``ipv4`` / ``ipv6``
    Dotted quads of 0–255 without leading zeros, not after "v"/"version"; IPv6 in any of its
    forms (``::``, embedded IPv4, zone) as :mod:`ipaddress` accepts it.
``date_of_birth``
    A real calendar date with a year from 1900 to this year, in ISO, day/month/year,
    month/day/year or month-name forms, after a birth word ("born", "DOB", "date of birth",
    …) or in a birth-date column. Other dates are not personal data; they are still kept
    from being read as phone or card numbers.
``secret``
    Known key formats (AWS, GitHub, GitLab, Slack, Stripe, OpenAI-style ``sk-``, Google,
    Hugging Face, npm, JWTs, PEM private keys), ``password=…``-style assignments, and
    high-entropy tokens: 24+ characters of upper and lower case and digits with a Shannon
    entropy of at least :data:`~assay.privacy.validators.ENTROPY_BITS` bits per character (hex
    hashes and UUIDs are not).

Where two detections overlap, the earlier kind in :data:`PRIORITY` wins. The validators that
need only a candidate's text (check digits, issuer prefixes, SSA rules, IP forms, entropy) are
in :mod:`assay.privacy.validators`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

from assay.privacy.validators import (
    card_issuer_known,
    high_entropy,
    iban_valid,
    ipv4_valid,
    ipv6_valid,
    luhn_valid,
    ssn_valid,
)

KINDS = (
    "email",
    "phone",
    "payment_card",
    "iban",
    "us_ssn",
    "ipv4",
    "ipv6",
    "date_of_birth",
    "secret",
)
"""Every entity kind, in documentation order."""

PRIORITY = (
    "secret",  # known key formats and assignments
    "email",
    "iban",
    "payment_card",
    "us_ssn",
    "ipv6",
    "ipv4",
    "date_of_birth",
    "phone",
    "secret",  # high-entropy tokens last: anything more specific claims its text first
)
"""Order in which detectors claim text; a later detection overlapping an earlier one is
dropped."""

TRUNK_REGIONS = ("GB", "DE", "FR", "IT", "ES", "NL", "BE", "AT", "CH", "AU", "IN")
"""Regions tried, in order, for a national phone number written with a trunk ``0``."""


@dataclass(frozen=True, slots=True)
class Match:
    """One detected entity: its kind and where it lies in the text.

    ``value`` is the raw text and ``normalized`` its canonical form (digits of a card,
    E.164 of a phone, lower-case e-mail), which keyed hashing uses so that one entity
    written two ways masks to the same token. Neither appears in ``repr``: a match printed
    in a log or a test failure shows only its kind and span.
    """

    kind: str
    start: int
    end: int
    value: str = field(repr=False)
    normalized: str = field(repr=False)


Found = tuple[str | None, int, int, str]
"""``(kind, start, end, normalized)``; kind ``None`` claims text without reporting it."""


# Patterns --------------------------------------------------------------------------------

_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_MONTH_NUMBER = {
    name[:3]: i
    for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}

EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w-])"
)
PHONE = re.compile(
    r"(?<![\w+/.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d[\d .-]{3,18}\d"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?![\w/]|[.-]\d)"
)
CARD = re.compile(r"(?<![\w.-])\d(?:[ -]?\d){11,18}(?![\w-]|\.\d)")
IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
SSN = re.compile(r"(?<![\w-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\w-])")
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?"
    r"(?:%[0-9A-Za-z]+)?(?![\w:])"
)
DATE = re.compile(
    r"(?<![\w/.-])(?:"
    r"(?P<iy>\d{4})(?P<s1>[-/.])(?P<im>\d{1,2})(?P=s1)(?P<id>\d{1,2})"
    r"|(?P<a>\d{1,2})(?P<s2>[-/.])(?P<b>\d{1,2})(?P=s2)(?P<y>\d{4})"
    rf"|(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?[\s-]+(?P<m1>{_MONTHS})\.?,?[\s-]+(?P<y1>\d{{4}})"
    rf"|(?P<m2>{_MONTHS})\.?[\s-]+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?[\s-]+(?P<y2>\d{{4}})"
    r")(?![\w/]|[.-]\d)",
    re.IGNORECASE,
)
VERSION_BEFORE = re.compile(r"(?i)(?:\bv|\bversion\s*|\bver\.?\s*|\brelease\s*)$")
BIRTH_WORDS = re.compile(
    r"(?i)(?:\bborn\b|\bbirth|\bdob\b|\bd\.o\.b\b|\bb-?day\b|\bgeboren\b|\bgeburts|"
    r"\bnaissance\b|\bnée?\b)"
)
PHONE_WORDS = re.compile(
    r"(?i)(?:\btel\b|\btelephone\b|\bphone\b|\bcall\b|\bmobile\b|\bcell\b|\bfax\b|"
    r"\bwhatsapp\b|\bsms\b|\btext me\b|☎)"
)
PHONE_SHAPED = re.compile(
    r"^(?:\+\d|\(?0[1-9]\d{0,3}\)?[ .-]\d|\(\d{3}\) ?\d{3}[ .-]\d{4}$|\d{3}([ .-])\d{3}\1\d{4}$)"
)
"""Written the way phone numbers are: ``+`` and a country code, a trunk ``0`` and an area
code set apart, or the North American ``(AAA) EEE-NNNN``/``AAA-EEE-NNNN`` groups."""
SSN_WORDS = re.compile(r"(?i)(?:\bssn\b|\bsocial security\b|\bss#)")
NOT_CARD_WORDS = re.compile(
    r"(?i)(?:\border|\binvoice|\btracking|\bticket|\bref(?:erence)?|\bsku|\bisbn|\bid|#)"
    r"\W{0,3}(?:no\.?|number|nr\.?)?\W{0,3}$"
)
KNOWN_SECRETS = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}"
    r"|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{15,}"
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|sk-(?:[a-z]+-)?[A-Za-z0-9_-]{20,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|hf_[A-Za-z0-9]{30,}"
    r"|npm_[A-Za-z0-9]{36}"
    r"|eyJ[A-Za-z0-9_-]{17,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"
    r"|-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"
    r")(?![A-Za-z0-9])"
)
SECRET_ASSIGNMENT = re.compile(
    r"(?i)(?:\b|_)(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|auth[_-]?token|"
    r"token|key)[\w-]*['\"]?\s*[:=]\s*['\"]?(?P<value>[^\s'\",;]{8,})"
)
PLACEHOLDER = re.compile(r"^(?:[<{$*xX.%-]|changeme|password|secret|none|null|redacted)", re.I)
TOKEN = re.compile(r"(?<![A-Za-z0-9_+/-])[A-Za-z0-9_+/-]{24,}={0,2}(?![A-Za-z0-9_+/=-])")


# Helpers that need the patterns above ----------------------------------------------------


def date_value(m: re.Match[str]) -> dt.date | None:
    """The calendar date a DATE match names, or ``None`` if it names none (31 February)."""
    g = m.groupdict()
    if g["iy"]:
        candidates = [(int(g["iy"]), int(g["im"]), int(g["id"]))]
    elif g["y"]:
        a, b = int(g["a"]), int(g["b"])
        candidates = [(int(g["y"]), a, b), (int(g["y"]), b, a)]  # month first, or day first
    elif g["y1"]:
        candidates = [(int(g["y1"]), _MONTH_NUMBER[g["m1"][:3].lower()], int(g["d1"]))]
    else:
        candidates = [(int(g["y2"]), _MONTH_NUMBER[g["m2"][:3].lower()], int(g["d2"]))]
    for year, month, day in candidates:
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    return None


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _before(text: str, start: int, width: int = 40) -> str:
    return text[max(0, start - width) : start]


# Detectors: each yields (kind, start, end, normalized) for one text ------------------------


def _emails(text: str, context: Collection[str]) -> Iterator[Found]:
    if "@" not in text:
        return
    for m in EMAIL.finditer(text):
        local, domain = m.group(0).rsplit("@", 1)
        if ".." in local or re.fullmatch(r"\d+x\.[a-z]+", domain, re.I):
            continue
        yield "email", m.start(), m.end(), m.group(0).lower()


def _ibans(text: str, context: Collection[str]) -> Iterator[Found]:
    for m in IBAN.finditer(text):
        value = m.group(0).rstrip()
        if iban_valid(value):
            yield "iban", m.start(), m.start() + len(value), value.replace(" ", "")


def _cards(text: str, context: Collection[str]) -> Iterator[Found]:
    for m in CARD.finditer(text):
        value = m.group(0)
        separators = set(value) - set("0123456789")
        if len(separators) > 1:
            continue
        digits = _digits(value)
        if (
            12 <= len(digits) <= 19
            and len(set(digits)) > 1
            and card_issuer_known(digits)
            and luhn_valid(digits)
            and not NOT_CARD_WORDS.search(_before(text, m.start(), 20))
        ):
            yield "payment_card", m.start(), m.end(), digits


def _ssns(text: str, context: Collection[str]) -> Iterator[Found]:
    for m in SSN.finditer(text):
        area, sep, group, serial = m.groups()
        if not sep and "us_ssn" not in context and not SSN_WORDS.search(_before(text, m.start())):
            continue
        if ssn_valid(area, group, serial):
            yield "us_ssn", m.start(), m.end(), area + group + serial
        elif sep:
            yield None, m.start(), m.end(), ""  # shaped like an SSN, so not a phone either


def _ipv6s(text: str, context: Collection[str]) -> Iterator[Found]:
    if ":" not in text:
        return
    for m in IPV6.finditer(text):
        if ipv6_valid(m.group(0)):
            value = m.group(0).split("%", 1)[0]
            yield "ipv6", m.start(), m.end(), ipaddress.IPv6Address(value).compressed


def _ipv4s(text: str, context: Collection[str]) -> Iterator[Found]:
    for m in IPV4.finditer(text):
        if not ipv4_valid(m.group(0)):
            continue
        if VERSION_BEFORE.search(_before(text, m.start(), 12)):
            yield None, m.start(), m.end(), ""  # a version number: nothing else reads it
            continue
        yield "ipv4", m.start(), m.end(), m.group(0)


def _dates(text: str, context: Collection[str]) -> Iterator[Found]:
    for m in DATE.finditer(text):
        day = date_value(m)
        if day is None:
            continue
        birth = (
            day.year >= 1900 and day <= dt.date.today()
            and ("date_of_birth" in context or BIRTH_WORDS.search(_before(text, m.start())))
        )  # fmt: skip
        # Not a birth date: claimed anyway, so that no phone or card detector reads it.
        yield ("date_of_birth" if birth else None), m.start(), m.end(), day.isoformat()


def _phones(text: str, context: Collection[str]) -> Iterator[Found]:
    for m in PHONE.finditer(text):
        found = _phone_in(text, m.start(), m.group(0), context)
        if found is not None:
            yield found


def _phone_in(text: str, start: int, span: str, context: Collection[str]) -> Found | None:
    """The phone number in ``span``, trying it whole, then without its first or last word
    (a greedy match may take a neighbouring number along)."""
    words = span.split(" ")
    tries = [(0, len(words))]
    if len(words) > 1:
        tries += [(1, len(words)), (0, len(words) - 1)]
    for first, last in tries:
        part = " ".join(words[first:last])
        offset = start + len(" ".join(words[:first])) + (1 if first else 0)
        normalized = phone_number(part, bare_ok="phone" in context or _phone_word(text, offset))
        if normalized is not None:
            return "phone", offset, offset + len(part), normalized
    return None


def _phone_word(text: str, start: int) -> bool:
    return PHONE_WORDS.search(_before(text, start, 30)) is not None


def phone_number(text: str, *, bare_ok: bool = False) -> str | None:
    """The E.164 form of ``text`` if it is a valid phone number, else ``None``.

    A bare run of digits (no ``+``, separator or parenthesis) counts only with ``bare_ok``.
    """
    core = text.split("x")[0].split("ext")[0].strip()
    digits = _digits(core)
    if not 7 <= len(digits) <= 15:
        return None
    if core.isdigit() and not bare_ok:
        return None
    import phonenumbers  # ~10 ms and 58 modules: loaded once a candidate needs it

    if core.startswith("+"):
        regions: tuple[str | None, ...] = (None,)
    elif core.startswith("00"):
        regions = ("DE",)  # 00 is the international prefix there (and in most of the world)
    elif core.startswith(("0", "(0")):
        regions = TRUNK_REGIONS
    else:
        regions = ("US",)
    for region in regions:
        try:
            number = phonenumbers.parse(core, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) or (
            phonenumbers.is_possible_number(number) and (bare_ok or PHONE_SHAPED.match(core))
        ):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _known_secrets(text: str, context: Collection[str]) -> Iterator[Found]:
    for m in KNOWN_SECRETS.finditer(text):
        yield "secret", m.start(), m.end(), m.group(0)
    for m in SECRET_ASSIGNMENT.finditer(text):
        value = m.group("value")
        if not PLACEHOLDER.match(value):
            yield "secret", m.start("value"), m.end("value"), value


def _tokens(text: str, context: Collection[str]) -> Iterator[Found]:
    for m in TOKEN.finditer(text):
        if high_entropy(m.group(0)):
            yield "secret", m.start(), m.end(), m.group(0)


Detector = Callable[[str, Collection[str]], Iterator[Found]]
DETECTORS: tuple[tuple[str, Detector], ...] = (
    ("secret", _known_secrets),
    ("email", _emails),
    ("iban", _ibans),
    ("payment_card", _cards),
    ("us_ssn", _ssns),
    ("ipv6", _ipv6s),
    ("ipv4", _ipv4s),
    ("date_of_birth", _dates),
    ("phone", _phones),
    ("secret", _tokens),
)
"""Detectors in :data:`PRIORITY` order."""


def scan_text(
    text: str, *, kinds: Collection[str] | None = None, context: Collection[str] = ()
) -> list[Match]:
    """Every entity of ``kinds`` (default: all) in ``text``, in order of position.

    ``context`` names kinds the text is known to hold — a field called ``phone`` or
    ``date_of_birth`` — so that their bare forms count without a nearby keyword (a bare
    digit run as a phone, any past date as a birth date, nine digits as an SSN).

    Example::

        >>> [m.kind for m in scan_text("mail jo@example.com or call +44 20 7946 0958")]
        ['email', 'phone']
    """
    claimed: list[tuple[int, int]] = []
    matches: list[Match] = []
    for kind, detect in DETECTORS:
        wanted = kinds is None or kind in kinds
        if not wanted and kind not in ("ipv4", "date_of_birth"):
            continue  # versions and dates are still claimed, so phones stay phones
        for found_kind, start, end, normalized in detect(text, context):
            if any(start < e and s < end for s, e in claimed):
                continue
            claimed.append((start, end))
            if found_kind is not None and (kinds is None or found_kind in kinds):
                matches.append(Match(found_kind, start, end, text[start:end], normalized))
    return sorted(matches, key=lambda m: m.start)
