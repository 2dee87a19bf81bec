"""PII scrubbing: what is masked, and what must stay (amounts, years, dates, invalid checksums)."""

from __future__ import annotations

import pytest

from models.data.pii import iban_valid, luhn_valid, scrub_text, scrub_texts


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("mail john.doe+bank@example.co.uk now", "mail [EMAIL] now", "email"),
        ("call +44 20 7946 0958 today", "call [PHONE] today", "phone"),
        ("call (555) 123-4567.", "call [PHONE].", "phone"),
        ("call 555-123-4567", "call [PHONE]", "phone"),
        ("mobile 07700900123", "mobile [PHONE]", "phone"),
        ("card 4111 1111 1111 1111 charged", "card [CARD] charged", "card"),
        ("card 4111-1111-1111-1111", "card [CARD]", "card"),
        ("card 5500005555555559", "card [CARD]", "card"),
        ("iban GB82 WEST 1234 5698 7654 32 ok", "iban [IBAN] ok", "iban"),
        ("iban DE89370400440532013000", "iban [IBAN]", "iban"),
    ],
)
def test_masks_each_kind(text: str, expected: str, kind: str) -> None:
    masked, counts = scrub_text(text)
    assert masked == expected
    assert counts[kind] == 1
    assert sum(counts.values()) == 1


@pytest.mark.parametrize(
    "text",
    [
        "I paid 1,250.00 EUR in 2019",
        "a transfer of $1 234 567 and 1.234.567",
        "between 2019-2020, on 2024-01-15, 15/01/2024 and 15.01.2024",
        "transfer of 25000 failed, ref 123456, code 12345678",
        "charged £12.50 twice on 03/04 at 10:30",
        "card 4111111111111112 fails the Luhn check",
        "iban GB82WEST12345698765433 fails mod 97",
        "order ABC1234567890 shipped",
        "100% sure, 3.5 stars",
    ],
)
def test_leaves_plain_numbers_alone(text: str) -> None:
    masked, counts = scrub_text(text)
    assert masked == text
    assert sum(counts.values()) == 0


def test_report_counts_per_kind_and_texts_touched() -> None:
    texts = ["a@b.io and c@d.org", "nothing here", "card 4111111111111111 and +1 555 123 4567"]
    masked, report = scrub_texts(texts)
    assert masked == ["[EMAIL] and [EMAIL]", "nothing here", "card [CARD] and [PHONE]"]
    assert report.counts == {"email": 2, "iban": 0, "card": 1, "phone": 1}
    assert report.texts_touched == 2 and report.texts_total == 3 and report.total == 4
    assert report.to_dict()["total"] == 4


def test_checksums() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")
