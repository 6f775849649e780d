"""Code lists: every coded value the centre records, in one place.

Each code list is a ``StrEnum`` whose value is the stable code that goes on the wire, into the
event store and into published tables. Codes are never renamed or reused; a retired code stays
here. Each member also carries an English and a Danish label for reports.

Where IOM's Counter Trafficking Data Collaborative (CTDC) / HTCDS or Eurostat have a category,
the code says which one in ``CTDC_TYPE_OF_EXPLOITATION`` so the centre can report to them too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import GetCoreSchemaHandler

CODE_LIST_VERSION = "2026.2"
"""2026.2 (contract version 2): exploitation ``undetermined``, gender ``unknown``, age bands
``0-14`` and ``15-17`` in place of ``0-17`` and an ``unknown`` band, assessment kinds, and the
groups and bands the annual report, Eurostat (crim_thb), GRETA and UNODC count by. The band
``0-17`` was a report category, never a code on the wire (events carry the exact age), so
every stored year reads in the new bands."""


class Coded(StrEnum):
    """A code with an English and a Danish label: ``Member = ("code", "English", "Dansk")``."""

    label_en: str
    label_da: str

    def __new__(cls, code: str, label_en: str = "", label_da: str = "") -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.label_en = label_en or code.replace("_", " ")
        member.label_da = label_da or member.label_en
        return member

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> Any:
        """pydantic's enum schema, serialized to JSON as the member's string itself: the
        default reads ``.value``, a Python property, for every coded field of every event
        written (about a tenth of encoding an event); ``str()`` of a ``StrEnum`` member is
        its value, in C."""
        return {**handler(source), "serialization": {"type": "to-string", "when_used": "json"}}

    @classmethod
    def codes(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)

    @classmethod
    def parse(cls, code: Any) -> Self:
        """The member for ``code``, or a ValueError that names the list and the valid codes."""
        try:
            return cls(code)
        except ValueError:
            valid = ", ".join(cls.codes())
            raise ValueError(
                f"unknown {cls.__name__} code {code!r}; expected one of: {valid}"
            ) from None


class Source(Coded):
    """The organisation that reported the event."""

    CMM = ("cmm", "Centre against Human Trafficking", "Center mod Menneskehandel")
    POLICE = ("police", "Police", "Politiet")
    IMMIGRATION_SERVICE = ("immigration_service", "Immigration Service", "Udlændingestyrelsen")
    HOTLINE = ("hotline", "Hotline", "Hotline")
    NGO_OUTREACH = ("ngo_outreach", "NGO outreach team", "NGO opsøgende team")
    HEALTH_SERVICE = ("health_service", "Health service", "Sundhedstilbud")
    PARTNER = ("partner", "Other partner", "Anden samarbejdspartner")


class Channel(Coded):
    """How the person first came into contact with the centre or its partners."""

    POLICE = ("police", "Police", "Politiet")
    STREET_OUTREACH = ("street_outreach", "Street outreach", "Gadeopsøgende arbejde")
    MASSAGE_CLINIC = ("massage_clinic", "Massage clinic outreach", "Opsøgende på klinikker")
    PRISON = ("prison", "Prison", "Fængsel")
    MEETING_PLACE = ("meeting_place", "Meeting place", "Værested")
    MOBILE_HEALTH = ("mobile_health", "Mobile health service", "Mobil sundhedsklinik")
    ASYLUM_SYSTEM = ("asylum_system", "Asylum system", "Asylsystemet")
    PARTNER_REFERRAL = (
        "partner_referral",
        "Partner referral (union, NGO)",
        "Henvisning fra partner",
    )
    HOTLINE = ("hotline", "Hotline", "Hotline")
    SELF_REFERRAL = ("self_referral", "Self-referral", "Selvhenvendelse")
    UNKNOWN = ("unknown", "Unknown", "Ukendt")

    @property
    def group(self) -> ChannelGroup:
        if self is Channel.POLICE:
            return ChannelGroup.POLICE
        if self in _OUTREACH_CHANNELS:
            return ChannelGroup.OUTREACH
        return ChannelGroup.PARTNERS_AND_OTHER


class ChannelGroup(Coded):
    """The three groups the annual report uses for contact channels."""

    POLICE = ("police", "Police", "Politiet")
    OUTREACH = ("outreach", "Outreach", "Opsøgende arbejde")
    PARTNERS_AND_OTHER = ("partners_and_other", "Partners and other", "Partnere og andre")


_OUTREACH_CHANNELS = frozenset(
    {
        Channel.STREET_OUTREACH,
        Channel.MASSAGE_CLINIC,
        Channel.PRISON,
        Channel.MEETING_PLACE,
        Channel.MOBILE_HEALTH,
    }
)


class Place(Coded):
    """Named outreach sites and places of contact the centre reports on."""

    STREET_COPENHAGEN = ("street_copenhagen", "Street, Copenhagen", "Gaden, København")
    STREET_ODENSE = ("street_odense", "Street, Odense", "Gaden, Odense")
    MASSAGE_CLINICS = ("massage_clinics", "Massage clinics", "Massageklinikker")
    MEETING_PLACE_VESTERBRO = (
        "meeting_place_vesterbro",
        "Meeting place, Vesterbro",
        "Værested, Vesterbro",
    )
    DROP_IN_FREDERICIA = ("drop_in_fredericia", "Drop-in, Fredericia", "Værested, Fredericia")
    MOBILE_HEALTH = ("mobile_health", "Mobile health service", "Mobil sundhedsklinik")
    PRISONS = ("prisons", "Prisons", "Fængsler")
    POLICE_STATION = ("police_station", "Police", "Politiet")
    ASYLUM_CENTRE = ("asylum_centre", "Asylum centre", "Asylcenter")
    OTHER = ("other", "Other", "Andet")


class Authority(Coded):
    """Who assesses: the Immigration Service for people without legal residence (asylum
    seekers, irregular migrants); the centre for people with legal residence."""

    IMMIGRATION_SERVICE = ("immigration_service", "Immigration Service", "Udlændingestyrelsen")
    CMM = ("cmm", "Centre against Human Trafficking", "Center mod Menneskehandel")


class Outcome(Coded):
    VICTIM = ("victim", "Assessed as a victim", "Vurderet som offer")
    NOT_VICTIM = ("not_victim", "Not assessed as a victim", "Ikke vurderet som offer")


class ExploitationForm(Coded):
    """Primary form of exploitation (CTDC typeOfExploit; one per person)."""

    SEXUAL_EXPLOITATION = (
        "sexual_exploitation",
        "Prostitution / sexual exploitation",
        "Prostitution",
    )
    FORCED_LABOUR = ("forced_labour", "Forced labour", "Tvangsarbejde")
    FORCED_CRIMINALITY = ("forced_criminality", "Forced criminality", "Tvungen kriminalitet")
    FORCED_MARRIAGE = ("forced_marriage", "Forced marriage", "Tvangsægteskab")
    ORGAN_REMOVAL = ("organ_removal", "Organ removal", "Organhandel")
    OTHER = ("other", "Other", "Andet")
    UNDETERMINED = (
        "undetermined",
        "Undetermined (not yet determined)",
        "Uafklaret",
    )

    @property
    def group(self) -> ExploitationGroup:
        """The group the annual report publishes this form in."""
        return _EXPLOITATION_GROUPS[self]


class ExploitationGroup(Coded):
    """The groups of forms the annual report publishes (from 2019): forced labour and
    forced criminality are one figure."""

    SEXUAL_EXPLOITATION = (
        "sexual_exploitation",
        "Prostitution / sexual exploitation",
        "Prostitution",
    )
    FORCED_LABOUR_AND_CRIMINALITY = (
        "forced_labour_and_criminality",
        "Forced labour and forced criminality",
        "Tvangsarbejde og tvungen kriminalitet",
    )
    OTHER_FORMS = ("other_forms", "Other forms of exploitation", "Andre udnyttelsesformer")
    UNDETERMINED = ("undetermined", "Undetermined", "Uafklaret")


_EXPLOITATION_GROUPS: dict[ExploitationForm, ExploitationGroup] = {
    ExploitationForm.SEXUAL_EXPLOITATION: ExploitationGroup.SEXUAL_EXPLOITATION,
    ExploitationForm.FORCED_LABOUR: ExploitationGroup.FORCED_LABOUR_AND_CRIMINALITY,
    ExploitationForm.FORCED_CRIMINALITY: ExploitationGroup.FORCED_LABOUR_AND_CRIMINALITY,
    ExploitationForm.FORCED_MARRIAGE: ExploitationGroup.OTHER_FORMS,
    ExploitationForm.ORGAN_REMOVAL: ExploitationGroup.OTHER_FORMS,
    ExploitationForm.OTHER: ExploitationGroup.OTHER_FORMS,
    ExploitationForm.UNDETERMINED: ExploitationGroup.UNDETERMINED,
}
assert set(_EXPLOITATION_GROUPS) == set(ExploitationForm), "every form has its group"


class AssessmentKind(Coded):
    """Which decision an assessment is. A reassessment or an appeal decides the case again:
    it supersedes every earlier assessment of the person, so a changed outcome is the
    process working, not conflicting records. Absent means ``initial``."""

    INITIAL = ("initial", "Initial assessment", "Første vurdering")
    REASSESSMENT = ("reassessment", "Reassessment", "Genvurdering")
    APPEAL = ("appeal", "Decision on appeal", "Afgørelse efter klage")

    @property
    def supersedes(self) -> bool:
        return self is not AssessmentKind.INITIAL


# CTDC has no category for a form not (yet) determined: its records leave the form blank, so
# ``undetermined`` has no entry here.
CTDC_TYPE_OF_EXPLOITATION: dict[ExploitationForm, str] = {
    ExploitationForm.SEXUAL_EXPLOITATION: "isSexualExploit",
    ExploitationForm.FORCED_LABOUR: "isForcedLabour",
    ExploitationForm.FORCED_CRIMINALITY: "isForcedMilitary_or_Criminal",
    ExploitationForm.FORCED_MARRIAGE: "isForcedMarriage",
    ExploitationForm.ORGAN_REMOVAL: "isOrganRemoval",
    ExploitationForm.OTHER: "isOtherExploit",
}


class Industry(Coded):
    """Industry of forced labour (aligned with CTDC typeOfLabour / NACE sections)."""

    CLEANING = ("cleaning", "Cleaning", "Rengøring")
    DOMESTIC_WORK = (
        "domestic_work",
        "Domestic work in private homes",
        "Husligt arbejde i private hjem",
    )
    RESTAURANTS = ("restaurants", "Restaurants", "Restauranter")
    CONSTRUCTION = ("construction", "Construction", "Byggeri")
    MASSAGE_CLINIC_ODD_JOBS = (
        "massage_clinic_odd_jobs",
        "Odd jobs in massage clinics",
        "Diverse arbejde i massageklinikker",
    )
    CANNABIS_PRODUCTION = (
        "cannabis_production",
        "Cannabis (skunk) production",
        "Produktion af skunk",
    )
    AGRICULTURE = ("agriculture", "Agriculture", "Landbrug")
    MANUFACTURING = ("manufacturing", "Manufacturing", "Fremstilling")
    HOSPITALITY = ("hospitality", "Hotels and hospitality", "Hotel og overnatning")
    TRANSPORT = ("transport", "Transport", "Transport")
    FISHING = ("fishing", "Fishing", "Fiskeri")
    RETAIL = ("retail", "Retail", "Detailhandel")
    OTHER = ("other", "Other", "Andet")


class Gender(Coded):
    """Gender as recorded. ``other`` is a person who is neither female nor male (for example
    transgender); ``unknown`` is a gender not recorded, which is not ``other``."""

    FEMALE = ("female", "Female", "Kvinde")
    MALE = ("male", "Male", "Mand")
    OTHER = ("other", "Transgender / other", "Transkønnet / andet")
    UNKNOWN = ("unknown", "Unknown (not recorded)", "Ukendt (ikke oplyst)")


class AgeBand(Coded):
    """Age at identification, in the annual report's bands. Bands are public and fixed;
    ``unknown`` counts persons whose age is not recorded (``age`` null)."""

    A0_14 = ("0-14", "Under 15", "Under 15")
    A15_17 = ("15-17", "15-17", "15-17")
    A18_24 = ("18-24", "18-24", "18-24")
    A25_29 = ("25-29", "25-29", "25-29")
    A30_39 = ("30-39", "30-39", "30-39")
    A40_49 = ("40-49", "40-49", "40-49")
    A50_59 = ("50-59", "50-59", "50-59")
    A60_PLUS = ("60+", "60 and over", "60 og derover")
    UNKNOWN = ("unknown", "Age unknown", "Alder ukendt")

    @classmethod
    def of(cls, age: int | None) -> AgeBand:
        if age is None:
            return cls.UNKNOWN
        if age < 15:
            return cls.A0_14
        if age < 18:
            return cls.A15_17
        if age < 25:
            return cls.A18_24
        if age < 30:
            return cls.A25_29
        if age < 40:
            return cls.A30_39
        if age < 50:
            return cls.A40_49
        if age < 60:
            return cls.A50_59
        return cls.A60_PLUS


class CtdcAgeBroad(Coded):
    """CTDC's ``ageBroad`` bands (the HTCDS), derived from the exact age, for the centre's
    submissions to CTDC; the codes are CTDC's own."""

    A0_8 = ("0--8", "0-8", "0-8")
    A9_17 = ("9--17", "9-17", "9-17")
    A18_20 = ("18--20", "18-20", "18-20")
    A21_23 = ("21--23", "21-23", "21-23")
    A24_26 = ("24--26", "24-26", "24-26")
    A27_29 = ("27--29", "27-29", "27-29")
    A30_38 = ("30--38", "30-38", "30-38")
    A39_47 = ("39--47", "39-47", "39-47")
    A48_PLUS = ("48+", "48 and over", "48 og derover")
    UNKNOWN = ("unknown", "Age unknown", "Alder ukendt")

    @classmethod
    def of(cls, age: int | None) -> CtdcAgeBroad:
        if age is None:
            return cls.UNKNOWN
        for upper, band in _CTDC_UPPER:
            if age <= upper:
                return band
        return cls.A48_PLUS


_CTDC_UPPER: tuple[tuple[int, CtdcAgeBroad], ...] = (
    (8, CtdcAgeBroad.A0_8),
    (17, CtdcAgeBroad.A9_17),
    (20, CtdcAgeBroad.A18_20),
    (23, CtdcAgeBroad.A21_23),
    (26, CtdcAgeBroad.A24_26),
    (29, CtdcAgeBroad.A27_29),
    (38, CtdcAgeBroad.A30_38),
    (47, CtdcAgeBroad.A39_47),
)


class AgeGroup(Coded):
    """Child or adult at identification, as Eurostat (crim_thb), GRETA and UNODC count."""

    CHILD = ("child", "Child (under 18)", "Barn (under 18)")
    ADULT = ("adult", "Adult (18 and over)", "Voksen (18 og derover)")
    UNKNOWN = ("unknown", "Age unknown", "Alder ukendt")

    @classmethod
    def of(cls, age: int | None) -> AgeGroup:
        if age is None:
            return cls.UNKNOWN
        return cls.CHILD if age < 18 else cls.ADULT


class CitizenshipGroup(Coded):
    """Citizenship as Eurostat (crim_thb) groups it: the reporting country's own citizens,
    citizens of another EU member state (in the reporting year), and the rest."""

    DANISH = ("danish", "Danish citizens", "Danske statsborgere")
    OTHER_EU = ("other_eu", "Citizens of another EU country", "Statsborgere i andet EU-land")
    NON_EU = ("non_eu", "Citizens of a non-EU country", "Statsborgere i et land uden for EU")


class SupportStatus(Coded):
    """A victim's status in the centre's support offer."""

    OFFERED = ("offered", "Support offered", "Tilbudt støtte")
    ACCEPTED = ("accepted", "Accepted support", "Modtaget støtte")
    DECLINED = ("declined", "Declined the offer", "Afslået tilbud")
    LEFT = ("left", "Left the offer", "Forladt tilbud")
    PREPARED_RETURN_IOM = (
        "prepared_return_iom",
        "Prepared return via IOM",
        "Forberedt hjemrejse via IOM",
    )
    RETURN_SUPPORTED_CMM = (
        "return_supported_cmm",
        "Return supported by the centre",
        "Hjemrejse støttet af CMM",
    )
    STAYED_IN_DENMARK = ("stayed_in_denmark", "Stayed in Denmark (EU citizen)", "Blevet i Danmark")
    OTHER = ("other", "Other (e.g. residence permit, case pending)", "Andet")
    NONE = ("none", "No support status recorded", "Ingen status registreret")

    @property
    def is_departure(self) -> bool:
        return self in (SupportStatus.PREPARED_RETURN_IOM, SupportStatus.RETURN_SUPPORTED_CMM)

    @property
    def is_terminal(self) -> bool:
        return self in (
            SupportStatus.DECLINED,
            SupportStatus.LEFT,
            SupportStatus.PREPARED_RETURN_IOM,
            SupportStatus.RETURN_SUPPORTED_CMM,
            SupportStatus.STAYED_IN_DENMARK,
        )


class ReturnSupport(Coded):
    """How much a return supported by the centre gave, compared with a prepared return."""

    EQUAL_TO_PREPARED_RETURN = (
        "equal_to_prepared_return",
        "Support equal to a prepared return",
        "Støtte svarende til forberedt hjemrejse",
    )
    TRAVEL_ONLY = ("travel_only", "Travel support only", "Kun rejsestøtte")


class Accommodation(Coded):
    CRISIS_CENTRE = ("crisis_centre", "Crisis centre", "Krisecenter")
    HOTEL = ("hotel", "Hotel", "Hotel")
    PRIVATE = ("private", "Private", "Privat")
    ASYLUM_CENTRE = ("asylum_centre", "Asylum centre", "Asylcenter")
    OTHER = ("other", "Other", "Andet")


class CallerType(Coded):
    POLICE = ("police", "Police", "Politiet")
    NGO = ("ngo", "NGO", "NGO")
    MUNICIPALITY = ("municipality", "Municipality", "Kommune")
    AUTHORITY = ("authority", "Other authority", "Anden myndighed")
    PRIVATE_PERSON = ("private_person", "Private person", "Privatperson")
    PERSON_CONCERNED = ("person_concerned", "The person concerned", "Den berørte person")
    OTHER = ("other", "Other", "Andet")


class CallReason(Coded):
    PERSON_IN_POLICE_CUSTODY = (
        "person_in_police_custody",
        "Person in police custody",
        "Person anholdt af politiet",
    )
    UPCOMING_POLICE_ACTION = (
        "upcoming_police_action",
        "Upcoming police action",
        "Forestående politiaktion",
    )
    FOLLOW_UP_OR_QUESTIONS = (
        "follow_up_or_questions",
        "Follow-up or questions",
        "Opfølgning eller spørgsmål",
    )
    SUSPICION = ("suspicion", "Report of a suspicion", "Mistanke om menneskehandel")
    ADVICE = ("advice", "Advice", "Rådgivning")
    OTHER = ("other", "Other", "Andet")


class Aggregation(StrEnum):
    """How an outreach measure combines over the logs of a year."""

    SUM = "sum"
    MIN = "min"
    MAX = "max"


class OutreachMeasure(Coded):
    """What an outreach log counts. Distinct-person measures (``distinct_persons``,
    ``new_persons``, ``nationalities``) are reported by the team for the log's whole period, so
    a team logs them once per period, not per shift."""

    SHIFTS = ("shifts", "Shifts", "Vagter")
    VISITS = ("visits", "Visits", "Besøg")
    PERSONS_OBSERVED = ("persons_observed", "Persons observed", "Observerede personer")
    NEW_PERSONS = ("new_persons", "New persons", "Nye personer")
    PERSONAL_CONTACTS = ("personal_contacts", "Personal contacts", "Personlige kontakter")
    PERSONS_CONTACTED = ("persons_contacted", "Persons personally contacted", "Personer kontaktet")
    DISTINCT_PERSONS = ("distinct_persons", "Distinct persons", "Forskellige personer")
    NATIONALITIES = ("nationalities", "Nationalities", "Nationaliteter")
    USES = ("uses", "Uses (visits by users)", "Besøg af brugere")
    HEALTH_SERVICE_USES = ("health_service_uses", "Health service uses", "Brug af sundhedstilbud")
    HEALTH_EXAMINATIONS = ("health_examinations", "Health examinations", "Helbredsundersøgelser")
    ABORTION_REFERRALS = ("abortion_referrals", "Abortion referrals", "Henvisninger til abort")
    HEALTH_USES_PER_PERSON_MIN = (
        "health_uses_per_person_min",
        "Health service uses per person, fewest",
        "Brug af sundhedstilbud pr. person, færrest",
    )
    HEALTH_USES_PER_PERSON_MAX = (
        "health_uses_per_person_max",
        "Health service uses per person, most",
        "Brug af sundhedstilbud pr. person, flest",
    )

    @property
    def aggregation(self) -> Aggregation:
        if self is OutreachMeasure.HEALTH_USES_PER_PERSON_MIN:
            return Aggregation.MIN
        if self is OutreachMeasure.HEALTH_USES_PER_PERSON_MAX:
            return Aggregation.MAX
        return Aggregation.SUM


class Period(Coded):
    """The period one outreach log covers."""

    SESSION = (
        "session",
        "One shift, visit or opening day",
        "En vagt, et besøg eller en åbningsdag",
    )
    WEEK = ("week", "One week", "En uge")
    MONTH = ("month", "One month", "En måned")
    YEAR = ("year", "One year", "Et år")


class CorrectionAction(Coded):
    RETRACT = ("retract", "Retracted", "Trukket tilbage")
    REPLACE = ("replace", "Replaced", "Erstattet")


class CorrectionReason(Coded):
    """Why an event is corrected: a code, never free text, so no correction can carry a
    name, a CPR number or an address (a short checked note may add what a code cannot)."""

    DATA_ENTRY_ERROR = ("data_entry_error", "Data entry error", "Tastefejl")
    NEW_INFORMATION = ("new_information", "New information", "Nye oplysninger")
    DOCUMENTS_VERIFIED = (
        "documents_verified",
        "Checked against identity documents",
        "Kontrolleret mod identitetspapirer",
    )
    DECISION_WITHDRAWN = ("decision_withdrawn", "Decision withdrawn", "Afgørelse trukket tilbage")
    RECORDED_TWICE = ("recorded_twice", "Recorded twice", "Registreret to gange")
    WRONG_PERSON = (
        "wrong_person",
        "Recorded for the wrong person",
        "Registreret på forkert person",
    )
    RESENT = ("resent", "Sent again as a new event", "Sendt igen som en ny hændelse")
    OTHER = ("other", "Other", "Andet")


class CaseFlag(Coded):
    """Inconsistencies a case worker should look at. Events are never dropped for them."""

    STATUS_BEFORE_ASSESSMENT = (
        "status_before_assessment",
        "Support status recorded before any assessment",
        "Status registreret før vurdering",
    )
    EVENTS_AFTER_DEPARTURE = (
        "events_after_departure",
        "Events dated after the person left Denmark",
        "Hændelser efter udrejse",
    )
    CONFLICTING_ASSESSMENTS = (
        "conflicting_assessments",
        "Assessments with different outcomes",
        "Modstridende vurderinger",
    )
    NO_CONTACT = ("no_contact", "No contact recorded", "Ingen kontakt registreret")
    CORRECTION_TARGET_MISSING = (
        "correction_target_missing",
        "A correction names an event that is not in this case",
        "Rettelse til ukendt hændelse",
    )
