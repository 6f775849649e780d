"""Tests for domain.countries."""

from __future__ import annotations

import re
from types import MappingProxyType

import pytest

from domain.countries import (
    COUNTRIES,
    EU_MEMBERSHIP,
    Country,
    Region,
    country,
    eu_members,
    is_eu_member,
    region_of,
)


def test_at_least_all_iso_codes_present() -> None:
    assert len(COUNTRIES) >= 249


@pytest.mark.parametrize(
    ("code", "region"),
    [
        ("NG", Region.AFRICA),
        ("RO", Region.EUROPE),
        ("TH", Region.ASIA),
        ("BR", Region.LATIN_AMERICA),
        ("IQ", Region.MIDDLE_EAST),
        ("SK", Region.EUROPE),
        ("US", Region.NORTH_AMERICA),
        ("EG", Region.AFRICA),
        ("CY", Region.EUROPE),
        ("TR", Region.MIDDLE_EAST),
        ("UA", Region.EUROPE),
        ("GE", Region.EUROPE),
        ("KZ", Region.ASIA),
        ("MX", Region.LATIN_AMERICA),
        ("GL", Region.NORTH_AMERICA),
        ("AU", Region.OCEANIA),
        ("XX", Region.UNKNOWN),
    ],
)
def test_known_regions(code: str, region: Region) -> None:
    assert region_of(code) is region
    assert country(code).region is region


def test_country_fields() -> None:
    dk = country("DK")
    assert dk == Country(code="DK", name_en="Denmark", name_da="Danmark", region=Region.EUROPE)


def test_unknown_citizenship_code() -> None:
    xx = country("XX")
    assert (xx.name_en, xx.name_da, xx.region) == ("Unknown", "Ukendt", Region.UNKNOWN)


@pytest.mark.parametrize("code", ["ZZ", "dk", "", "DNK"])
def test_unknown_code_raises(code: str) -> None:
    expected = f"unknown ISO 3166-1 alpha-2 country code: {code!r}"
    with pytest.raises(KeyError) as excinfo:
        country(code)
    assert excinfo.value.args == (expected,)
    with pytest.raises(KeyError, match=re.escape(expected)):
        region_of(code)


def test_codes_are_two_upper_case_letters_and_unique() -> None:
    codes = list(COUNTRIES)
    assert len(codes) == len(set(codes))
    for code, entry in COUNTRIES.items():
        assert re.fullmatch(r"[A-Z]{2}", code), code
        assert entry.code == code
        assert entry.name_en
        assert entry.name_da
        assert isinstance(entry.region, Region)


def test_countries_is_read_only() -> None:
    assert isinstance(COUNTRIES, MappingProxyType)
    with pytest.raises(TypeError):
        COUNTRIES["QQ"] = country("DK")  # type: ignore[index]


def test_every_region_has_labels() -> None:
    for region in Region:
        assert region.label_en
        assert region.label_da
    assert Region.MIDDLE_EAST.label_da == "Mellemøsten"
    assert Region.LATIN_AMERICA.label_en == "Latin America"


def test_eu_members_follow_the_year() -> None:
    eu27 = eu_members(2012)
    assert len(eu27) == 27
    assert "HR" not in eu27
    assert {"BG", "DK", "GB", "RO"} <= eu27
    assert eu_members(2013) == eu27 | {"HR"}
    assert eu_members(2020) == eu_members(2013) - {"GB"}


@pytest.mark.parametrize("year", [1957, 1958, 2003, 2004, 2012, 2013, 2019, 2020])
def test_is_eu_member_agrees_with_eu_members(year: int) -> None:
    members = eu_members(year)
    assert {code for code in COUNTRIES if is_eu_member(code, year)} == members
    assert not is_eu_member("ZZ", year)


def test_eu_members_are_european_countries_and_read_only() -> None:
    assert all(region_of(code) is Region.EUROPE for code in EU_MEMBERSHIP)
    assert isinstance(EU_MEMBERSHIP, MappingProxyType)
