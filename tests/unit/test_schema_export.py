"""The exported contract (JSON Schema per event type, AsyncAPI 3) says what the models say.

Valid events pass their type's schema and the any-event schema; structural mistakes that
the models refuse (a missing or unknown field, a code that does not exist, a person_ref
where none is allowed) are refused by the schemas too. The AsyncAPI document is complete:
every reference resolves, every event type is a message of the events channel.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import domain.events as contract
from bench.bench_postgres import synthetic_events
from domain.contract_schema import JSON_SCHEMA_DIALECT, any_event_schema, event_schema
from domain.envelope import Envelope
from domain.events import CASE_EVENT_TYPES, EVENT_TYPES, InvalidEvent, parse_event, validate_event
from domain.payloads import PAYLOADS, SupportStatusChangedPayload
from domain.rules import checks, rules_of
from infra.schema_export import asyncapi_document, export

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

SCHEMAS = {name: event_schema(name) for name in EVENT_TYPES}

EXAMPLES: list[dict[str, Any]] = [
    *synthetic_events(40, seed=3),
    {
        "event_id": "0190c1d2-0000-7000-8000-0000000000a1",
        "type": "OutreachActivityLogged",
        "schema_version": 1,
        "occurred_at": "2012-03-01T10:00:00Z",
        "recorded_at": "2012-03-02T08:00:00Z",
        "source": "ngo_outreach",
        "payload": {"place": "street_odense", "period": "month", "measures": {"visits": 3}},
    },
    {
        "event_id": "0190c1d2-0000-7000-8000-0000000000a2",
        "type": "DepartedDenmark",
        "schema_version": 1,
        "occurred_at": "2012-05-01T10:00:00Z",
        "recorded_at": "2012-05-02T08:00:00Z",
        "source": "cmm",
        "person_ref": "P-3fa9c2e1b7d4",
        "payload": {"destination": "RO"},
    },
    {
        "event_id": "0190c1d2-0000-7000-8000-0000000000a3",
        "type": "CorrectionRecorded",
        "schema_version": 1,
        "occurred_at": "2012-06-01T10:00:00Z",
        "recorded_at": "2012-06-01T10:00:00Z",
        "source": "hotline",
        "payload": {
            "target_event_id": "0190c1d2-0000-7000-8000-0000000000b1",
            "target_type": "HotlineCallReceived",
            "action": "retract",
        },
    },
]


def _validator(schema: dict[str, Any]) -> Any:
    registry = referencing.Registry().with_resources(
        [
            (f"{name}.schema.json", referencing.Resource.from_contents(s))
            for name, s in SCHEMAS.items()
        ]
    )
    return jsonschema.Draft202012Validator(
        schema, registry=registry, format_checker=jsonschema.FormatChecker()
    )


VALIDATORS = {name: _validator(schema) for name, schema in SCHEMAS.items()}
ANY_EVENT = _validator(any_event_schema())


def _accepted_by_models(event: dict[str, Any]) -> bool:
    try:
        validate_event(event)
    except InvalidEvent:
        return False
    return True


def test_every_event_type_has_a_2020_12_schema() -> None:
    assert set(SCHEMAS) == set(EVENT_TYPES)
    for name, schema in SCHEMAS.items():
        assert schema["$schema"] == JSON_SCHEMA_DIALECT
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["type"]["const"] == name
        assert schema["additionalProperties"] is False


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e["type"])
def test_valid_events_pass_their_schema_and_the_any_event_schema(event: dict[str, Any]) -> None:
    assert _accepted_by_models(event)
    VALIDATORS[event["type"]].validate(event)
    ANY_EVENT.validate(event)


def test_case_events_require_person_ref_and_log_events_refuse_it() -> None:
    case = next(e for e in EXAMPLES if e["type"] in CASE_EVENT_TYPES)
    without = {k: v for k, v in case.items() if k != "person_ref"}
    assert not VALIDATORS[case["type"]].is_valid(without)
    call = next(e for e in EXAMPLES if e["type"] == "HotlineCallReceived")
    assert not VALIDATORS["HotlineCallReceived"].is_valid({**call, "person_ref": "P-3fa9c2e1b7d4"})


def test_country_codes_are_an_enum() -> None:
    departed = next(e for e in EXAMPLES if e["type"] == "DepartedDenmark")
    wrong = copy.deepcopy(departed)
    wrong["payload"]["destination"] = "QQ"
    assert not _accepted_by_models(wrong)
    assert not VALIDATORS["DepartedDenmark"].is_valid(wrong)


def test_rules_the_schema_cannot_express_are_in_the_description() -> None:
    assert "industry" in SCHEMAS["AssessmentDecided"]["description"]
    assert "recorded_at must not be before occurred_at" in SCHEMAS["SupportOffered"]["description"]


def test_the_schema_states_strict_integers_where_json_schema_is_lax() -> None:
    """JSON Schema counts 30.0 as an integer; the contract does not, and says so."""
    schema = SCHEMAS["AssessmentDecided"]
    assert schema["properties"]["schema_version"] == {
        "enum": [1, 2],
        "title": "Schema Version",
        "type": "integer",
    }
    description = schema["description"]
    assert "30.0" in description and "same key twice" in description
    assert "recorded_at must not be later than the consumer's clock" in description


def _stated(model: type[Any]) -> list[str]:
    decorators = model.__pydantic_decorators__
    found = [*decorators.field_validators.values(), *decorators.model_validators.values()]
    return [rule for d in found for rule in rules_of(d.func)]


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_the_rules_in_the_description_are_the_ones_the_validators_state(name: str) -> None:
    """Every rule a validator of the event states is listed, and nothing else: the
    envelope's timestamps, the envelope's validator, reading, the event's own envelope
    validator, its payload's."""
    description = SCHEMAS[name]["description"]
    listed = description.split("\n\nAlso checked by the consumer: ", 1)[1]
    own = [r for r in _stated(getattr(contract, name)) if r not in _stated(Envelope)]
    timestamps = (
        "occurred_at and recorded_at lie in [1990-01-01, 2100-01-01) and carry a UTC offset"
    )
    stated = [
        timestamps,
        *_stated(Envelope),
        *rules_of(parse_event),
        *own,
        *_stated(PAYLOADS[name]),
    ]
    assert listed == "; ".join(stated) + "."


def test_a_rule_changed_in_a_validator_changes_the_export(monkeypatch: pytest.MonkeyPatch) -> None:
    validator = SupportStatusChangedPayload.__pydantic_decorators__.model_validators["_consistent"]
    monkeypatch.setattr(validator.func, "__contract_rules__", ())
    checks("status 'none' cannot be recorded")(validator.func)
    description = event_schema("SupportStatusChanged")["description"]
    assert "status 'none' cannot be recorded." in description
    assert "return_support is only allowed" not in description
    assert "return_support is only allowed" not in event_schema("AssessmentDecided")["description"]


def test_the_person_ref_rule_says_which_tokens_of_digits_are_refused() -> None:
    """8 to 12 digits are refused (CPR and phone numbers); longer ones are tokens."""
    event = next(e for e in EXAMPLES if e["type"] in CASE_EVENT_TYPES)
    for token, refused in (
        ("12345678", True),
        ("123456789012", True),
        ("1234567890123", False),
        ("1234567890ab", False),
    ):
        assert _accepted_by_models({**event, "person_ref": f"P-{token}"}) is not refused
    assert "must not be 8 to 12 digits only" in SCHEMAS["AssessmentDecided"]["description"]


def _mutations(event: dict[str, Any]) -> list[dict[str, Any]]:
    """Structural mistakes the models refuse (each one alone)."""
    mutated = []
    for key in ("event_id", "type", "occurred_at", "source", "payload"):
        mutated.append({k: v for k, v in event.items() if k != key})
    mutated.append({**event, "name": "someone"})
    mutated.append({**event, "source": "neighbour"})
    mutated.append({**event, "schema_version": 3})
    mutated.append({**event, "event_id": "not-a-uuid"})
    mutated.append({**event, "payload": {**event["payload"], "extra": 1}})
    return mutated


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), pick=st.integers(0, 100))
def test_schemas_and_models_agree_on_valid_and_broken_events(seed: int, pick: int) -> None:
    events = list(synthetic_events(20, seed=seed))
    event = events[pick % len(events)]
    assert VALIDATORS[event["type"]].is_valid(event)
    for broken in _mutations(event):
        assert not _accepted_by_models(broken)
        assert not ANY_EVENT.is_valid(broken), broken


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_asyncapi_document_describes_both_topics_and_resolves() -> None:
    document = asyncapi_document("cmm.events", "cmm.events.dead-letter")
    assert document["asyncapi"] == "3.0.0"
    channels = document["channels"]
    assert channels["events"]["address"] == "cmm.events"
    assert channels["deadLetter"]["address"] == "cmm.events.dead-letter"
    assert set(channels["events"]["messages"]) == set(EVENT_TYPES)
    for ref in _refs(document):
        _resolve(document, ref)
    for operation in document["operations"].values():
        assert operation["channel"]["$ref"].startswith("#/channels/")
        for message in operation["messages"]:
            assert message["$ref"].startswith(operation["channel"]["$ref"] + "/messages/")
    reason = document["components"]["schemas"]["DeadLetterHeaders"]["required"]
    assert "cmm.dlq.reason" in reason
    # The component schemas validate the same events as the standalone ones.
    for event in EXAMPLES[:20]:
        schema = {"$ref": f"#/components/schemas/{event['type']}", **document}
        assert jsonschema.Draft202012Validator(schema).is_valid(event)


def test_cmm_schema_export_writes_every_file(tmp_path: Path) -> None:
    from infra.cli import main

    assert main(["schema", "export", str(tmp_path / "contract")]) == 0
    written = {p.name for p in (tmp_path / "contract").iterdir()}
    assert written == {f"{name}.schema.json" for name in EVENT_TYPES} | {
        "event.schema.json",
        "asyncapi.json",
    }
    assert export(tmp_path / "again") and json.loads(
        (tmp_path / "contract" / "asyncapi.json").read_text()
    ) == json.loads((tmp_path / "again" / "asyncapi.json").read_text())
