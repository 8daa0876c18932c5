"""Validators and detectors: checksums, number rules, formats, and false-positive guards."""

from __future__ import annotations

import pytest

from assay.privacy import scan_text
from assay.privacy.detectors import (
    card_issuer_known,
    high_entropy,
    iban_valid,
    ipv4_valid,
    ipv6_valid,
    luhn_valid,
    phone_number,
    ssn_valid,
)


def kinds(text: str, **kwargs: object) -> list[tuple[str, str]]:
    return [(m.kind, m.value) for m in scan_text(text, **kwargs)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("79927398713", True),  # the textbook Luhn example
        ("79927398710", False),
        ("378282246310005", True),  # Amex test number
        ("0", True),
    ],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


def test_card_issuers_and_lengths() -> None:
    assert card_issuer_known("4111111111111111")
    assert card_issuer_known("5500000000000004")
    assert card_issuer_known("378282246310005")
    assert not card_issuer_known("378282246310005" + "0")  # Amex has 15 digits
    assert not card_issuer_known("9111111111111111")
    assert not card_issuer_known("411111111111")  # 12 digits: Maestro only


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("DE89370400440532013000", True),
        ("DE89 3704 0044 0532 0130 00", True),
        ("GB82WEST12345698765432", True),
        ("FR1420041010050500013M02606", True),
        ("DE88370400440532013000", False),  # check digits off by one
        ("DE8937040044053201300", False),  # one character short for Germany
        ("XX89370400440532013000", False),  # no such country
    ],
)
def test_iban_mod97(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid


@pytest.mark.parametrize(
    ("area", "group", "serial", "valid"),
    [
        ("123", "45", "6780", True),
        ("000", "45", "6789", False),
        ("666", "45", "6789", False),
        ("900", "45", "6789", False),
        ("999", "45", "6789", False),
        ("123", "00", "6789", False),
        ("123", "45", "0000", False),
        ("078", "05", "1120", False),  # the Woolworth wallet card
    ],
)
def test_ssn_rules(area: str, group: str, serial: str, valid: bool) -> None:
    assert ssn_valid(area, group, serial) is valid


def test_ip_validators() -> None:
    assert ipv4_valid("192.168.0.1") and ipv4_valid("0.0.0.0")
    assert not ipv4_valid("256.1.1.1") and not ipv4_valid("01.2.3.4")
    for good in (
        "2001:db8::1",
        "::1",
        "fe80::1ff:fe23:4567:890a%eth0",
        "::ffff:192.0.2.128",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    ):
        assert ipv6_valid(good), good
    for bad in ("::", "12:30:45", "00:1A:2B:3C:4D:5E", "2001:db8::1::2", "gggg::1"):
        assert not ipv6_valid(bad), bad


@pytest.mark.parametrize(
    "text",
    [
        "Born on March 5, 1985.",
        "DOB: 05/03/1985",
        "date of birth 1985-03-05",
        "born 5 March 1985",
        "geboren am 05.03.1985",
        "DOB 5th of March, 1985",
    ],
)
def test_birth_dates_in_common_formats(text: str) -> None:
    assert [k for k, _ in kinds(text)] == ["date_of_birth"]


def test_a_date_is_a_birth_date_only_by_context() -> None:
    assert kinds("Meeting on 2023-10-05 in room 4") == []
    assert kinds("1985-03-05", context={"date_of_birth"}) == [("date_of_birth", "1985-03-05")]
    assert kinds("born 31/02/1985") == []  # no such day
    assert kinds("born 1850-01-01") == []  # before 1900


def test_phones() -> None:
    assert phone_number("+44 20 7946 0958") == "+442079460958"
    assert phone_number("(212) 555-0199") == "+12125550199"
    assert phone_number("030 12345678") is not None  # national: the first region that fits
    assert phone_number("2125550199") is None  # a bare run: an id unless context says phone
    assert phone_number("2125550199", bare_ok=True) == "+12125550199"
    assert kinds("tel 2125550199") == [("phone", "2125550199")]
    assert kinds("Room 12 212-555-0199") == [("phone", "212-555-0199")]


def test_secrets() -> None:
    assert kinds("key AKIAIOSFODNN7EXAMPLE") == [("secret", "AKIAIOSFODNN7EXAMPLE")]
    token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    assert kinds(f"token {token}") == [("secret", token)]
    assert kinds("password = 'hunter2hunter2'") == [("secret", "hunter2hunter2")]
    assert kinds("password: <your password>") == []  # a placeholder
    assert high_entropy("Zx8Kq2LmN4pR7sT9vW1yB3cD5fG6hJ0")
    assert not high_entropy("GroundNewsRestFactory_v2")


@pytest.mark.parametrize(
    "text",
    [
        "Order #4839201923 shipped",
        "Tracking number 4111111111111111",  # Luhn-valid, but an order word before it
        "request id 123e4567-e89b-12d3-a456-426614174000",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "upgraded to version 1.2.3.4",
        "build v10.0.1.254",
        "Total $12,345.67",
        "at 12:30:45",
        "mac 00:1A:2B:3C:4D:5E",
        "ISBN 978-3-16-148410-0",
        "card 4111111111111112 declined",  # Luhn fails
        "account DE88370400440532013000",  # mod 97 fails
        "code 000-12-3456",  # impossible SSN area
        "see icon@2x.png",
        "std::vector<int>",
        "AbstractSingletonProxyFactoryBean2",
        "Population 12,345,678",
        "The quick brown fox jumps over the lazy dog.",
    ],
)
def test_near_misses_are_not_pii(text: str) -> None:
    assert kinds(text) == []


def test_overlaps_keep_the_more_specific_kind() -> None:
    text = "jo.42@example.com 4111 1111 1111 1111 DE89370400440532013000"
    assert [k for k, _ in kinds(text)] == ["email", "payment_card", "iban"]


def test_kinds_limits_detection_but_dates_still_block_phones() -> None:
    assert kinds("mail jo@example.com", kinds={"phone"}) == []
    assert kinds("on 2023-10-05", kinds={"phone"}) == []


def test_a_match_never_shows_its_value_in_repr() -> None:
    (match,) = scan_text("SSN 123-45-6780")
    assert "6780" not in repr(match) and "us_ssn" in repr(match)
