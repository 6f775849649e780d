"""The event contract for services not written in Python: JSON Schema and AsyncAPI.

``cmm schema export DIR`` writes

- ``<EventType>.schema.json`` for every event type (JSON Schema 2020-12), generated from the
  pydantic models of ``domain.events``, so the contract has one source;
- ``event.schema.json``: any event (one of the above, chosen by ``type``);
- ``asyncapi.json``: an AsyncAPI 3.0 document describing the events topic (one message per
  event type, keyed by ``person_ref`` or log key) and the dead-letter topic.

JSON Schema cannot say everything the models check: where it can, the generated schema is
tightened (``person_ref`` required or forbidden by event type, country codes as an enum);
the rules that need several fields (e.g. ``industry`` only for forced labour,
``recorded_at`` not before ``occurred_at``) are listed in each schema's description. The
consumer validates with the models, so a message that passes the schema but breaks such a
rule lands in the dead-letter topic with the reason.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import domain.events as contract
from domain.countries import COUNTRIES

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING_VERSION = "0.5.0"

# Rules the models check that JSON Schema cannot express, by event type ("*" for all).
CROSS_FIELD_RULES: dict[str, list[str]] = {
    "*": [
        "recorded_at must not be before occurred_at",
        "occurred_at and recorded_at lie in [1990-01-01, 2100-01-01) and carry a UTC offset",
        "the token of person_ref must not be all digits (it may be a CPR or phone number)",
        "recorded_at must not be later than the consumer's clock plus a small skew "
        "(5 minutes by default)",
        "types are strict: an integer is written without a fraction or exponent (30, not "
        "30.0, which JSON Schema would count as an integer), and no value is converted "
        '(not true to 1, not "30" to 30, not "no" to false)',
        "a JSON object must not name the same key twice",
    ],
    "AssessmentDecided": [
        "exploitation is required when outcome is 'victim'",
        "industry is required when exploitation is 'forced_labour', and allowed only then",
        "authority is 'cmm' when legal_residence is true, 'immigration_service' when false",
    ],
    "SupportStatusChanged": [
        "status 'none' is a report category and cannot be recorded",
        "return_support is only allowed when status is 'return_supported_cmm'",
    ],
    "CorrectionRecorded": [
        "person_ref is required when correcting a case event, and not allowed for log events",
        "replacement is required for action 'replace' and must be a valid payload of "
        "target_type; not allowed for action 'retract'",
    ],
}

_COUNTRY_FIELDS = ("citizenship", "destination")


def event_models() -> dict[str, type[BaseModel]]:
    """The envelope model of every event type, by type name."""
    models: dict[str, type[BaseModel]] = {}
    for name in contract.EVENT_TYPES:
        model = getattr(contract, name)
        assert issubclass(model, BaseModel), name
        models[name] = model
    return models


def _rules(name: str) -> str:
    rules = [*CROSS_FIELD_RULES["*"], *CROSS_FIELD_RULES.get(name, [])]
    return "Also checked by the consumer: " + "; ".join(rules) + "."


def _tighten(name: str, schema: dict[str, Any], defs: dict[str, Any]) -> None:
    """Add what the models check in validators but the generated schema leaves open."""
    properties = schema["properties"]
    ref = properties["person_ref"]["anyOf"][0]
    if name in contract.CASE_EVENT_TYPES:
        properties["person_ref"] = {**ref, "description": "Pseudonym of the person."}
        schema["required"] = [*schema["required"], "person_ref"]
    elif name in contract.LOG_EVENT_TYPES:
        properties["person_ref"] = {
            "type": "null",
            "description": f"Not allowed: a {name} is not about one person.",
        }
    countries = sorted(COUNTRIES)
    for definition in defs.values():
        for field_name in _COUNTRY_FIELDS:
            prop = definition.get("properties", {}).get(field_name)
            if prop is None:
                continue
            if "anyOf" in prop:
                prop["anyOf"][0] = {"type": "string", "enum": countries}
            else:
                prop.pop("minLength", None)
                prop.pop("maxLength", None)
                prop["enum"] = countries
    schema["description"] = (
        (schema.get("description") or f"The {name} event.").strip() + "\n\n" + _rules(name)
    )


def event_schema(name: str) -> dict[str, Any]:
    """A standalone JSON Schema (2020-12) of one event type."""
    model = event_models()[name]
    schema = model.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    _tighten(name, schema, defs)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:cmm-ledger:event:{name}:v{contract.SCHEMA_VERSION}",
        **schema,
    }


def any_event_schema() -> dict[str, Any]:
    """Any event: one of the event types, chosen by ``type``."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:cmm-ledger:event:v{contract.SCHEMA_VERSION}",
        "title": "CMM Ledger event",
        "description": "One event of the contract; the 'type' field says which.",
        "oneOf": [{"$ref": f"{name}.schema.json"} for name in contract.EVENT_TYPES],
    }


def _component_schemas() -> tuple[dict[str, Any], dict[str, str]]:
    """Every event model with its shared definitions, as AsyncAPI component schemas;
    and the component name of each event type."""
    models = event_models()
    refs, top = models_json_schema(
        [(model, "validation") for model in models.values()],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = copy.deepcopy(top.get("$defs", {}))
    names: dict[str, str] = {}
    for name, model in models.items():
        ref = refs[(model, "validation")]["$ref"]
        component = ref.rsplit("/", 1)[-1]
        names[name] = component
        _tighten(name, schemas[component], schemas)
    return schemas, names


def asyncapi_document(
    events_topic: str = "cmm.events",
    dead_letter_topic: str = "cmm.events.dead-letter",
    bootstrap: str = "127.0.0.1:19092",
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the events topic and its dead-letter topic."""
    schemas, names = _component_schemas()
    messages: dict[str, Any] = {}
    for name in contract.EVENT_TYPES:
        case = name in contract.CASE_EVENT_TYPES
        messages[name] = {
            "name": name,
            "title": name,
            "summary": schemas[names[name]].get("description", "").split("\n")[0],
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/EventHeaders"},
            "payload": {"$ref": f"#/components/schemas/{names[name]}"},
            "bindings": {
                "kafka": {
                    "key": {
                        "type": "string",
                        "description": (
                            "person_ref: one person's events share a partition and keep their order"
                            if case
                            else "person_ref for a case correction, else the log key "
                            "(hotline/<year>, outreach/<place>/<year>, corrections/<year>)"
                        ),
                    },
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "A message that broke the contract",
        "summary": "The original key, value and headers, with the reason in the headers.",
        "contentType": "application/octet-stream",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"type": "string", "description": "The original message value, as sent."},
    }
    schemas["EventHeaders"] = {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": list(contract.EVENT_TYPES)},
            "schema_version": {"type": "string", "const": str(contract.SCHEMA_VERSION)},
        },
        "description": "Set by the ledger's producer client; optional for others.",
    }
    schemas["DeadLetterHeaders"] = {
        "type": "object",
        "required": [
            "cmm.dlq.reason",
            "cmm.dlq.topic",
            "cmm.dlq.partition",
            "cmm.dlq.offset",
            "cmm.dlq.group",
        ],
        "properties": {
            "cmm.dlq.reason": {"type": "string", "description": "Why it was refused, by field."},
            "cmm.dlq.topic": {"type": "string", "description": "The topic it was read from."},
            "cmm.dlq.partition": {"type": "string", "description": "Its partition (decimal)."},
            "cmm.dlq.offset": {"type": "string", "description": "Its offset (decimal)."},
            "cmm.dlq.group": {"type": "string", "description": "The consumer group."},
        },
        "additionalProperties": {"type": "string"},
        "description": "The original message's headers are kept beside these.",
    }
    event_refs = [{"$ref": f"#/channels/events/messages/{name}"} for name in contract.EVENT_TYPES]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CMM Ledger events",
            "version": str(contract.SCHEMA_VERSION),
            "description": (
                "Events recorded by the centre against human trafficking and its partners. "
                "Messages are compact JSON, one event each, validated by the producer client "
                "and again by the ledger's consumer; person_ref is always a pseudonym."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": bootstrap,
                "protocol": "kafka",
                "description": "The broker of infra/servers/kafka.sh and docker-compose.yml.",
            }
        },
        "channels": {
            "events": {
                "address": events_topic,
                "title": "Events",
                "description": "Every event, keyed by person_ref or log key.",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
                "bindings": {
                    "kafka": {"topic": events_topic, "bindingVersion": KAFKA_BINDING_VERSION}
                },
            },
            "deadLetter": {
                "address": dead_letter_topic,
                "title": "Dead letters",
                "description": "Messages of the events topic that broke the contract.",
                "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
                "bindings": {
                    "kafka": {
                        "topic": dead_letter_topic,
                        "bindingVersion": KAFKA_BINDING_VERSION,
                    }
                },
            },
        },
        "operations": {
            "publishEvent": {
                "action": "send",
                "title": "Publish an event",
                "description": "Producers: idempotent, acks=all, key as the message says.",
                "channel": {"$ref": "#/channels/events"},
                "messages": event_refs,
            },
            "consumeEvents": {
                "action": "receive",
                "title": "Store events (cmm consume)",
                "channel": {"$ref": "#/channels/events"},
                "messages": event_refs,
            },
            "deadLetter": {
                "action": "send",
                "title": "Park a broken message (cmm consume)",
                "channel": {"$ref": "#/channels/deadLetter"},
                "messages": [{"$ref": "#/channels/deadLetter/messages/DeadLetter"}],
            },
        },
        "components": {"schemas": schemas, "messages": messages},
    }


def _write(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf8")


def export(
    directory: Path,
    events_topic: str = "cmm.events",
    dead_letter_topic: str = "cmm.events.dead-letter",
) -> list[Path]:
    """Write every schema and the AsyncAPI document to ``directory``; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in contract.EVENT_TYPES:
        path = directory / f"{name}.schema.json"
        _write(path, event_schema(name))
        written.append(path)
    path = directory / "event.schema.json"
    _write(path, any_event_schema())
    written.append(path)
    path = directory / "asyncapi.json"
    _write(path, asyncapi_document(events_topic, dead_letter_topic))
    written.append(path)
    return written
