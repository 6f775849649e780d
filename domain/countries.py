"""ISO 3166-1 alpha-2 country codes with English and Danish names and regions.

Every officially assigned ISO 3166-1 alpha-2 code (249 codes) is listed, plus
the special code ``XX`` for unknown or stateless citizenship.  Each country is
mapped to one of the world regions used in the statistics of the Danish Centre
against Human Trafficking (Center mod Menneskehandel, CMM).

English names are the common short forms (e.g. "Russia" rather than "Russian
Federation"); Danish names follow common Danish usage.

Region assignment rules:

* ``middle_east``: Bahrain, Iran, Iraq, Israel, Jordan, Kuwait, Lebanon, Oman,
  Palestine, Qatar, Saudi Arabia, Syria, Turkey, United Arab Emirates, Yemen.
  Egypt is Africa and Cyprus is Europe.
* ``europe`` includes Russia, Ukraine, Belarus, Moldova and the Caucasus
  (Armenia, Azerbaijan, Georgia); the Central Asian states are ``asia``.
* ``latin_america``: Mexico, Central and South America and the Caribbean.
* ``north_america``: United States, Canada, Greenland, Bermuda, Saint Pierre
  and Miquelon.
* Dependent territories not covered above follow the UN M49 geographic
  grouping (e.g. British Indian Ocean Territory and French Southern
  Territories -> Africa; Bouvet Island and South Georgia -> Latin America;
  Christmas Island, Cocos Islands and US Minor Outlying Islands -> Oceania).
* Antarctica (``AQ``) has no permanent population and belongs to no region;
  it is mapped to ``unknown``.

EU membership (:func:`is_eu_member`, :func:`eu_members`) is held by year, because
whether a citizen counts as an EU citizen depends on the reporting year.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "COUNTRIES",
    "EU_MEMBERSHIP",
    "UNKNOWN_CODE",
    "Country",
    "Region",
    "country",
    "eu_members",
    "is_eu_member",
    "region_of",
]


class Region(StrEnum):
    """World regions used in the centre's statistics."""

    AFRICA = "africa"
    EUROPE = "europe"
    ASIA = "asia"
    MIDDLE_EAST = "middle_east"
    LATIN_AMERICA = "latin_america"
    NORTH_AMERICA = "north_america"
    OCEANIA = "oceania"
    UNKNOWN = "unknown"

    @property
    def label_en(self) -> str:
        """English label for the region."""
        return _REGION_LABELS_EN[self]

    @property
    def label_da(self) -> str:
        """Danish label for the region."""
        return _REGION_LABELS_DA[self]


_REGION_LABELS_EN: Mapping[Region, str] = MappingProxyType(
    {
        Region.AFRICA: "Africa",
        Region.EUROPE: "Europe",
        Region.ASIA: "Asia",
        Region.MIDDLE_EAST: "Middle East",
        Region.LATIN_AMERICA: "Latin America",
        Region.NORTH_AMERICA: "North America",
        Region.OCEANIA: "Oceania",
        Region.UNKNOWN: "Unknown",
    }
)

_REGION_LABELS_DA: Mapping[Region, str] = MappingProxyType(
    {
        Region.AFRICA: "Afrika",
        Region.EUROPE: "Europa",
        Region.ASIA: "Asien",
        Region.MIDDLE_EAST: "Mellemøsten",
        Region.LATIN_AMERICA: "Latinamerika",
        Region.NORTH_AMERICA: "Nordamerika",
        Region.OCEANIA: "Oceanien",
        Region.UNKNOWN: "Ukendt",
    }
)


@dataclass(frozen=True, slots=True)
class Country:
    """A country (or territory) identified by its ISO 3166-1 alpha-2 code."""

    code: str  # ISO 3166-1 alpha-2, upper case
    name_en: str
    name_da: str
    region: Region


# Special code for unknown or stateless citizenship.  ``XX`` is in the ISO
# 3166-1 user-assigned range (AA, QM-QZ, XA-XZ, ZZ) and will never be given to
# a real country.  The centre records presumed victims whose citizenship is
# unknown (missing documents, unverifiable identity) or who are stateless, and
# these must still be counted in the statistics, so they need a code of their
# own rather than a missing value.
UNKNOWN_CODE = "XX"

_AF = Region.AFRICA
_EU = Region.EUROPE
_AS = Region.ASIA
_ME = Region.MIDDLE_EAST
_LA = Region.LATIN_AMERICA
_NA = Region.NORTH_AMERICA
_OC = Region.OCEANIA
_UN = Region.UNKNOWN

# (code, English short name, Danish name, region)
_DATA: tuple[tuple[str, str, str, Region], ...] = (
    ("AD", "Andorra", "Andorra", _EU),
    ("AE", "United Arab Emirates", "De Forenede Arabiske Emirater", _ME),
    ("AF", "Afghanistan", "Afghanistan", _AS),
    ("AG", "Antigua and Barbuda", "Antigua og Barbuda", _LA),
    ("AI", "Anguilla", "Anguilla", _LA),
    ("AL", "Albania", "Albanien", _EU),
    ("AM", "Armenia", "Armenien", _EU),
    ("AO", "Angola", "Angola", _AF),
    ("AQ", "Antarctica", "Antarktis", _UN),
    ("AR", "Argentina", "Argentina", _LA),
    ("AS", "American Samoa", "Amerikansk Samoa", _OC),
    ("AT", "Austria", "Østrig", _EU),
    ("AU", "Australia", "Australien", _OC),
    ("AW", "Aruba", "Aruba", _LA),
    ("AX", "Åland Islands", "Åland", _EU),
    ("AZ", "Azerbaijan", "Aserbajdsjan", _EU),
    ("BA", "Bosnia and Herzegovina", "Bosnien-Hercegovina", _EU),
    ("BB", "Barbados", "Barbados", _LA),
    ("BD", "Bangladesh", "Bangladesh", _AS),
    ("BE", "Belgium", "Belgien", _EU),
    ("BF", "Burkina Faso", "Burkina Faso", _AF),
    ("BG", "Bulgaria", "Bulgarien", _EU),
    ("BH", "Bahrain", "Bahrain", _ME),
    ("BI", "Burundi", "Burundi", _AF),
    ("BJ", "Benin", "Benin", _AF),
    ("BL", "Saint Barthélemy", "Saint-Barthélemy", _LA),
    ("BM", "Bermuda", "Bermuda", _NA),
    ("BN", "Brunei", "Brunei", _AS),
    ("BO", "Bolivia", "Bolivia", _LA),
    ("BQ", "Bonaire, Sint Eustatius and Saba", "Bonaire, Sint Eustatius og Saba", _LA),
    ("BR", "Brazil", "Brasilien", _LA),
    ("BS", "Bahamas", "Bahamas", _LA),
    ("BT", "Bhutan", "Bhutan", _AS),
    ("BV", "Bouvet Island", "Bouvetøen", _LA),
    ("BW", "Botswana", "Botswana", _AF),
    ("BY", "Belarus", "Hviderusland", _EU),
    ("BZ", "Belize", "Belize", _LA),
    ("CA", "Canada", "Canada", _NA),
    ("CC", "Cocos (Keeling) Islands", "Cocosøerne", _OC),
    ("CD", "Democratic Republic of the Congo", "Den Demokratiske Republik Congo", _AF),
    ("CF", "Central African Republic", "Den Centralafrikanske Republik", _AF),
    ("CG", "Republic of the Congo", "Republikken Congo", _AF),
    ("CH", "Switzerland", "Schweiz", _EU),
    ("CI", "Côte d'Ivoire", "Elfenbenskysten", _AF),
    ("CK", "Cook Islands", "Cookøerne", _OC),
    ("CL", "Chile", "Chile", _LA),
    ("CM", "Cameroon", "Cameroun", _AF),
    ("CN", "China", "Kina", _AS),
    ("CO", "Colombia", "Colombia", _LA),
    ("CR", "Costa Rica", "Costa Rica", _LA),
    ("CU", "Cuba", "Cuba", _LA),
    ("CV", "Cabo Verde", "Kap Verde", _AF),
    ("CW", "Curaçao", "Curaçao", _LA),
    ("CX", "Christmas Island", "Juleøen", _OC),
    ("CY", "Cyprus", "Cypern", _EU),
    ("CZ", "Czechia", "Tjekkiet", _EU),
    ("DE", "Germany", "Tyskland", _EU),
    ("DJ", "Djibouti", "Djibouti", _AF),
    ("DK", "Denmark", "Danmark", _EU),
    ("DM", "Dominica", "Dominica", _LA),
    ("DO", "Dominican Republic", "Den Dominikanske Republik", _LA),
    ("DZ", "Algeria", "Algeriet", _AF),
    ("EC", "Ecuador", "Ecuador", _LA),
    ("EE", "Estonia", "Estland", _EU),
    ("EG", "Egypt", "Egypten", _AF),
    ("EH", "Western Sahara", "Vestsahara", _AF),
    ("ER", "Eritrea", "Eritrea", _AF),
    ("ES", "Spain", "Spanien", _EU),
    ("ET", "Ethiopia", "Etiopien", _AF),
    ("FI", "Finland", "Finland", _EU),
    ("FJ", "Fiji", "Fiji", _OC),
    ("FK", "Falkland Islands", "Falklandsøerne", _LA),
    ("FM", "Micronesia", "Mikronesien", _OC),
    ("FO", "Faroe Islands", "Færøerne", _EU),
    ("FR", "France", "Frankrig", _EU),
    ("GA", "Gabon", "Gabon", _AF),
    ("GB", "United Kingdom", "Storbritannien", _EU),
    ("GD", "Grenada", "Grenada", _LA),
    ("GE", "Georgia", "Georgien", _EU),
    ("GF", "French Guiana", "Fransk Guyana", _LA),
    ("GG", "Guernsey", "Guernsey", _EU),
    ("GH", "Ghana", "Ghana", _AF),
    ("GI", "Gibraltar", "Gibraltar", _EU),
    ("GL", "Greenland", "Grønland", _NA),
    ("GM", "Gambia", "Gambia", _AF),
    ("GN", "Guinea", "Guinea", _AF),
    ("GP", "Guadeloupe", "Guadeloupe", _LA),
    ("GQ", "Equatorial Guinea", "Ækvatorialguinea", _AF),
    ("GR", "Greece", "Grækenland", _EU),
    (
        "GS",
        "South Georgia and the South Sandwich Islands",
        "South Georgia og De Sydlige Sandwichøer",
        _LA,
    ),
    ("GT", "Guatemala", "Guatemala", _LA),
    ("GU", "Guam", "Guam", _OC),
    ("GW", "Guinea-Bissau", "Guinea-Bissau", _AF),
    ("GY", "Guyana", "Guyana", _LA),
    ("HK", "Hong Kong", "Hongkong", _AS),
    ("HM", "Heard Island and McDonald Islands", "Heard- og McDonaldøerne", _OC),
    ("HN", "Honduras", "Honduras", _LA),
    ("HR", "Croatia", "Kroatien", _EU),
    ("HT", "Haiti", "Haiti", _LA),
    ("HU", "Hungary", "Ungarn", _EU),
    ("ID", "Indonesia", "Indonesien", _AS),
    ("IE", "Ireland", "Irland", _EU),
    ("IL", "Israel", "Israel", _ME),
    ("IM", "Isle of Man", "Isle of Man", _EU),
    ("IN", "India", "Indien", _AS),
    (
        "IO",
        "British Indian Ocean Territory",
        "Det Britiske Territorium i Det Indiske Ocean",
        _AF,
    ),
    ("IQ", "Iraq", "Irak", _ME),
    ("IR", "Iran", "Iran", _ME),
    ("IS", "Iceland", "Island", _EU),
    ("IT", "Italy", "Italien", _EU),
    ("JE", "Jersey", "Jersey", _EU),
    ("JM", "Jamaica", "Jamaica", _LA),
    ("JO", "Jordan", "Jordan", _ME),
    ("JP", "Japan", "Japan", _AS),
    ("KE", "Kenya", "Kenya", _AF),
    ("KG", "Kyrgyzstan", "Kirgisistan", _AS),
    ("KH", "Cambodia", "Cambodja", _AS),
    ("KI", "Kiribati", "Kiribati", _OC),
    ("KM", "Comoros", "Comorerne", _AF),
    ("KN", "Saint Kitts and Nevis", "Saint Kitts og Nevis", _LA),
    ("KP", "North Korea", "Nordkorea", _AS),
    ("KR", "South Korea", "Sydkorea", _AS),
    ("KW", "Kuwait", "Kuwait", _ME),
    ("KY", "Cayman Islands", "Caymanøerne", _LA),
    ("KZ", "Kazakhstan", "Kasakhstan", _AS),
    ("LA", "Laos", "Laos", _AS),
    ("LB", "Lebanon", "Libanon", _ME),
    ("LC", "Saint Lucia", "Saint Lucia", _LA),
    ("LI", "Liechtenstein", "Liechtenstein", _EU),
    ("LK", "Sri Lanka", "Sri Lanka", _AS),
    ("LR", "Liberia", "Liberia", _AF),
    ("LS", "Lesotho", "Lesotho", _AF),
    ("LT", "Lithuania", "Litauen", _EU),
    ("LU", "Luxembourg", "Luxembourg", _EU),
    ("LV", "Latvia", "Letland", _EU),
    ("LY", "Libya", "Libyen", _AF),
    ("MA", "Morocco", "Marokko", _AF),
    ("MC", "Monaco", "Monaco", _EU),
    ("MD", "Moldova", "Moldova", _EU),
    ("ME", "Montenegro", "Montenegro", _EU),
    ("MF", "Saint Martin (French part)", "Saint-Martin", _LA),
    ("MG", "Madagascar", "Madagaskar", _AF),
    ("MH", "Marshall Islands", "Marshalløerne", _OC),
    ("MK", "North Macedonia", "Nordmakedonien", _EU),
    ("ML", "Mali", "Mali", _AF),
    ("MM", "Myanmar", "Myanmar", _AS),
    ("MN", "Mongolia", "Mongoliet", _AS),
    ("MO", "Macao", "Macao", _AS),
    ("MP", "Northern Mariana Islands", "Nordmarianerne", _OC),
    ("MQ", "Martinique", "Martinique", _LA),
    ("MR", "Mauritania", "Mauretanien", _AF),
    ("MS", "Montserrat", "Montserrat", _LA),
    ("MT", "Malta", "Malta", _EU),
    ("MU", "Mauritius", "Mauritius", _AF),
    ("MV", "Maldives", "Maldiverne", _AS),
    ("MW", "Malawi", "Malawi", _AF),
    ("MX", "Mexico", "Mexico", _LA),
    ("MY", "Malaysia", "Malaysia", _AS),
    ("MZ", "Mozambique", "Mozambique", _AF),
    ("NA", "Namibia", "Namibia", _AF),
    ("NC", "New Caledonia", "Ny Kaledonien", _OC),
    ("NE", "Niger", "Niger", _AF),
    ("NF", "Norfolk Island", "Norfolkøen", _OC),
    ("NG", "Nigeria", "Nigeria", _AF),
    ("NI", "Nicaragua", "Nicaragua", _LA),
    ("NL", "Netherlands", "Nederlandene", _EU),
    ("NO", "Norway", "Norge", _EU),
    ("NP", "Nepal", "Nepal", _AS),
    ("NR", "Nauru", "Nauru", _OC),
    ("NU", "Niue", "Niue", _OC),
    ("NZ", "New Zealand", "New Zealand", _OC),
    ("OM", "Oman", "Oman", _ME),
    ("PA", "Panama", "Panama", _LA),
    ("PE", "Peru", "Peru", _LA),
    ("PF", "French Polynesia", "Fransk Polynesien", _OC),
    ("PG", "Papua New Guinea", "Papua Ny Guinea", _OC),
    ("PH", "Philippines", "Filippinerne", _AS),
    ("PK", "Pakistan", "Pakistan", _AS),
    ("PL", "Poland", "Polen", _EU),
    ("PM", "Saint Pierre and Miquelon", "Saint-Pierre og Miquelon", _NA),
    ("PN", "Pitcairn", "Pitcairn", _OC),
    ("PR", "Puerto Rico", "Puerto Rico", _LA),
    ("PS", "Palestine", "Palæstina", _ME),
    ("PT", "Portugal", "Portugal", _EU),
    ("PW", "Palau", "Palau", _OC),
    ("PY", "Paraguay", "Paraguay", _LA),
    ("QA", "Qatar", "Qatar", _ME),
    ("RE", "Réunion", "Réunion", _AF),
    ("RO", "Romania", "Rumænien", _EU),
    ("RS", "Serbia", "Serbien", _EU),
    ("RU", "Russia", "Rusland", _EU),
    ("RW", "Rwanda", "Rwanda", _AF),
    ("SA", "Saudi Arabia", "Saudi-Arabien", _ME),
    ("SB", "Solomon Islands", "Salomonøerne", _OC),
    ("SC", "Seychelles", "Seychellerne", _AF),
    ("SD", "Sudan", "Sudan", _AF),
    ("SE", "Sweden", "Sverige", _EU),
    ("SG", "Singapore", "Singapore", _AS),
    (
        "SH",
        "Saint Helena, Ascension and Tristan da Cunha",
        "Sankt Helena, Ascension og Tristan da Cunha",
        _AF,
    ),
    ("SI", "Slovenia", "Slovenien", _EU),
    ("SJ", "Svalbard and Jan Mayen", "Svalbard og Jan Mayen", _EU),
    ("SK", "Slovakia", "Slovakiet", _EU),
    ("SL", "Sierra Leone", "Sierra Leone", _AF),
    ("SM", "San Marino", "San Marino", _EU),
    ("SN", "Senegal", "Senegal", _AF),
    ("SO", "Somalia", "Somalia", _AF),
    ("SR", "Suriname", "Surinam", _LA),
    ("SS", "South Sudan", "Sydsudan", _AF),
    ("ST", "Sao Tome and Principe", "São Tomé og Príncipe", _AF),
    ("SV", "El Salvador", "El Salvador", _LA),
    ("SX", "Sint Maarten (Dutch part)", "Sint Maarten", _LA),
    ("SY", "Syria", "Syrien", _ME),
    ("SZ", "Eswatini", "Eswatini", _AF),
    ("TC", "Turks and Caicos Islands", "Turks- og Caicosøerne", _LA),
    ("TD", "Chad", "Tchad", _AF),
    ("TF", "French Southern Territories", "De Franske Sydlige Territorier", _AF),
    ("TG", "Togo", "Togo", _AF),
    ("TH", "Thailand", "Thailand", _AS),
    ("TJ", "Tajikistan", "Tadsjikistan", _AS),
    ("TK", "Tokelau", "Tokelau", _OC),
    ("TL", "Timor-Leste", "Østtimor", _AS),
    ("TM", "Turkmenistan", "Turkmenistan", _AS),
    ("TN", "Tunisia", "Tunesien", _AF),
    ("TO", "Tonga", "Tonga", _OC),
    ("TR", "Türkiye", "Tyrkiet", _ME),
    ("TT", "Trinidad and Tobago", "Trinidad og Tobago", _LA),
    ("TV", "Tuvalu", "Tuvalu", _OC),
    ("TW", "Taiwan", "Taiwan", _AS),
    ("TZ", "Tanzania", "Tanzania", _AF),
    ("UA", "Ukraine", "Ukraine", _EU),
    ("UG", "Uganda", "Uganda", _AF),
    (
        "UM",
        "United States Minor Outlying Islands",
        "USA's mindre øbesiddelser",
        _OC,
    ),
    ("US", "United States", "USA", _NA),
    ("UY", "Uruguay", "Uruguay", _LA),
    ("UZ", "Uzbekistan", "Usbekistan", _AS),
    ("VA", "Holy See (Vatican City)", "Vatikanstaten", _EU),
    ("VC", "Saint Vincent and the Grenadines", "Saint Vincent og Grenadinerne", _LA),
    ("VE", "Venezuela", "Venezuela", _LA),
    ("VG", "British Virgin Islands", "De Britiske Jomfruøer", _LA),
    ("VI", "United States Virgin Islands", "De Amerikanske Jomfruøer", _LA),
    ("VN", "Vietnam", "Vietnam", _AS),
    ("VU", "Vanuatu", "Vanuatu", _OC),
    ("WF", "Wallis and Futuna", "Wallis og Futuna", _OC),
    ("WS", "Samoa", "Samoa", _OC),
    ("YE", "Yemen", "Yemen", _ME),
    ("YT", "Mayotte", "Mayotte", _AF),
    ("ZA", "South Africa", "Sydafrika", _AF),
    ("ZM", "Zambia", "Zambia", _AF),
    ("ZW", "Zimbabwe", "Zimbabwe", _AF),
    # Not an ISO country: unknown or stateless citizenship (see UNKNOWN_CODE).
    (UNKNOWN_CODE, "Unknown", "Ukendt", _UN),
)


def _build(data: tuple[tuple[str, str, str, Region], ...]) -> Mapping[str, Country]:
    table: dict[str, Country] = {}
    for code, name_en, name_da, region in data:
        if code in table:
            raise ValueError(f"duplicate country code: {code!r}")
        table[code] = Country(code=code, name_en=name_en, name_da=name_da, region=region)
    return MappingProxyType(table)


COUNTRIES: Mapping[str, Country] = _build(_DATA)
"""All countries keyed by ISO 3166-1 alpha-2 code (read-only), including ``XX``."""

del _AF, _EU, _AS, _ME, _LA, _NA, _OC, _UN


def country(code: str) -> Country:
    """Return the country for an upper-case ISO 3166-1 alpha-2 code.

    Lookup is case-sensitive: ``"dk"`` is not accepted.

    Raises:
        KeyError: if ``code`` is not a known code.
    """
    try:
        return COUNTRIES[code]
    except KeyError:
        raise KeyError(f"unknown ISO 3166-1 alpha-2 country code: {code!r}") from None


def region_of(code: str) -> Region:
    """Return the statistics region for a country code.

    Raises:
        KeyError: if ``code`` is not a known code.
    """
    return country(code).region


# EU membership: (first year a member, first year no longer one). Year granularity is what the
# annual report needs: a state counts for the whole year it joined (Croatia from 1 July 2013
# counts for 2013; the 2012 report uses the EU-27 of 2012, without Croatia). The United Kingdom
# left on 31 January 2020 and counts up to 2019. A plain dict, not a proxy: the projection asks
# once per case.
_EU_MEMBERSHIP: dict[str, tuple[int, int | None]] = {
    **dict.fromkeys(("BE", "DE", "FR", "IT", "LU", "NL"), (1958, None)),
    **dict.fromkeys(("DK", "IE"), (1973, None)),
    "GB": (1973, 2020),
    "GR": (1981, None),
    **dict.fromkeys(("ES", "PT"), (1986, None)),
    **dict.fromkeys(("AT", "FI", "SE"), (1995, None)),
    **dict.fromkeys(("CY", "CZ", "EE", "HU", "LT", "LV", "MT", "PL", "SI", "SK"), (2004, None)),
    **dict.fromkeys(("BG", "RO"), (2007, None)),
    "HR": (2013, None),
}

EU_MEMBERSHIP: Mapping[str, tuple[int, int | None]] = MappingProxyType(_EU_MEMBERSHIP)
"""EU member states by code (read-only): (first year a member, first year no longer one or
``None``), counted by whole calendar years."""


def is_eu_member(code: str, year: int) -> bool:
    """Whether ``code`` was an EU member state in ``year`` (``False`` for unknown codes)."""
    span = _EU_MEMBERSHIP.get(code)
    if span is None:
        return False
    joined, left = span
    return joined <= year and (left is None or year < left)


def eu_members(year: int) -> frozenset[str]:
    """The codes of the EU member states in ``year``."""
    return frozenset(code for code in _EU_MEMBERSHIP if is_eu_member(code, year))
