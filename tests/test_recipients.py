"""Phone numbers as users type them."""

from __future__ import annotations

import pytest

from custom_components.serwersms.mms.recipients import (
    InvalidPhoneNumberError,
    normalize_phone,
    normalize_phones,
    split_phones,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("500 600 700", "+48500600700"),
        ("500-600-700", "+48500600700"),
        ("+48 500 600 700", "+48500600700"),
        ("0048500600700", "+48500600700"),
        ("48500600700", "+48500600700"),
        ("(+48) 500.600.700", "+48500600700"),
        ("+49 151 2345678", "+491512345678"),
        ("+12345678", "+12345678"),
    ],
)
def test_numbers_are_normalised_to_international_form(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "12ab",
        "050060070",
        "5006007",
        "+0485006007",
        "+1234567",
        "+1234567890123456",
        "0049 151 x",
        "++48500600700",
    ],
)
def test_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumberError) as err:
        normalize_phone(raw)
    assert err.value.number == raw


def test_lists_and_free_text_are_split_and_deduplicated() -> None:
    assert split_phones("500 600 700, 500 600 701;\n+48500600702") == [
        "500 600 700",
        "500 600 701",
        "+48500600702",
    ]
    assert normalize_phones(["500 600 700", "+48500600700, 0048500600701"]) == [
        "+48500600700",
        "+48500600701",
    ]
    assert normalize_phones(" , ;") == []
