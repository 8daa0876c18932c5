"""Masking of personal data in probe transcripts before they are stored as evidence.

Every message and response the probe runner stores goes through :func:`mask`, which is
:mod:`assay.privacy`'s scanner with partial masks: e-mail addresses, phone numbers, payment
cards, IBANs, SSNs, IP addresses, dates of birth and secrets keep only enough to tell which
value leaked.

>>> mask("Write to dana.whitfield@example.com, card 4111 1111 1111 1111.")
'Write to d***@e***.com, card **** **** **** 1111.'
"""

from __future__ import annotations

from assay.privacy import mask_text


def mask(text: str) -> str:
    """``text`` with every kind of personal data :mod:`assay.privacy` finds partially masked."""
    return mask_text(text, "partial")
