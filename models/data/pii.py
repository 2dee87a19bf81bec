"""Mask personal data in texts before training: emails, phone numbers, payment cards, IBANs.

Precision over recall: card numbers must pass the Luhn check, IBANs the ISO 13616 mod-97 check, and
phone numbers need a phone-like shape (a leading +, a bracketed area code, or digit groups with
separators) so that amounts (1,250.00, 1 234 567), years (2019-2020) and dates (2024-01-15) stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

PLACEHOLDERS = {"email": "[EMAIL]", "iban": "[IBAN]", "card": "[CARD]", "phone": "[PHONE]"}
"""Replacement text per kind, in the order kinds are scrubbed."""

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+$€£¥.,/:-])"
    r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,12}(?:[ .-]\d{1,5}){0,5}"
    r"(?![\w%€$£]|[.,/:-]\d)"
)
_THOUSANDS = re.compile(r"^\d{1,3}(?:([ .,])\d{3})(?:\1\d{3})*$")
_DATE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4})$")


@dataclass
class PiiReport:
    """What `scrub_texts` masked."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PLACEHOLDERS, 0))
    """Matches masked per kind: email, iban, card, phone."""
    texts_touched: int = 0
    """Number of texts in which at least one thing was masked."""
    texts_total: int = 0
    """Number of texts scanned."""

    @property
    def total(self) -> int:
        """All masked matches."""
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for DataSplits.meta and run folders)."""
        return {**asdict(self), "total": self.total}


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum used by payment cards."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """True when `text` (spaces allowed) is an IBAN with a valid ISO 13616 mod-97 check."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _mask_cards(text: str) -> tuple[str, int]:
    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return PLACEHOLDERS["card"] if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group()

    return _count_sub(_CARD, replace, text, PLACEHOLDERS["card"])


def _mask_ibans(text: str) -> tuple[str, int]:
    def replace(match: re.Match[str]) -> str:
        return PLACEHOLDERS["iban"] if iban_valid(match.group()) else match.group()

    return _count_sub(_IBAN, replace, text, PLACEHOLDERS["iban"])


def is_phone_like(candidate: str) -> bool:
    """Heuristic: a phone number has 7-15 digits and a phone shape, and is not an amount, year or date."""
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15:
        return False
    if candidate.startswith("+") or "(" in candidate:
        return True
    groups = re.split(r"[ .-]", candidate)
    if len(groups) == 1:  # one run of digits: only a national number with a trunk 0 (07700900123)
        return candidate.startswith("0") and 10 <= len(digits) <= 11
    if _THOUSANDS.match(candidate) or _DATE.match(candidate):
        return False
    return not all(len(g) == 4 and g[:2] in ("19", "20") for g in groups)  # year ranges: 2019-2020


def _mask_phones(text: str) -> tuple[str, int]:
    def replace(match: re.Match[str]) -> str:
        return PLACEHOLDERS["phone"] if is_phone_like(match.group()) else match.group()

    return _count_sub(_PHONE, replace, text, PLACEHOLDERS["phone"])


def _count_sub(pattern: re.Pattern[str], replace: Any, text: str, placeholder: str) -> tuple[str, int]:
    count = 0

    def counting(match: re.Match[str]) -> str:
        nonlocal count
        result = replace(match)
        count += result == placeholder
        return result

    return pattern.sub(counting, text), count


def scrub_text(text: str) -> tuple[str, dict[str, int]]:
    """Mask one text; returns the masked text and the count per kind."""
    email_text, emails = _count_sub(_EMAIL, lambda m: PLACEHOLDERS["email"], text, PLACEHOLDERS["email"])
    iban_text, ibans = _mask_ibans(email_text)
    card_text, cards = _mask_cards(iban_text)
    phone_text, phones = _mask_phones(card_text)
    return phone_text, {"email": emails, "iban": ibans, "card": cards, "phone": phones}


def scrub_texts(texts: Iterable[str]) -> tuple[list[str], PiiReport]:
    """Mask emails, IBANs, card numbers and phone numbers in every text.

    Returns the masked texts (same order) and a `PiiReport` with counts per kind.
    """
    report = PiiReport()
    masked: list[str] = []
    for text in texts:
        clean, counts = scrub_text(str(text))
        masked.append(clean)
        report.texts_total += 1
        report.texts_touched += any(counts.values())
        for kind, count in counts.items():
            report.counts[kind] += count
    return masked, report
