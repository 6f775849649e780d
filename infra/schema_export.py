"""The event contract for services not written in Python: JSON Schema and AsyncAPI.

``cmm schema export DIR`` writes

- ``<EventType>.schema.json`` for every event type (JSON Schema 2020-12) and
  ``event.schema.json`` (any event, chosen by ``type``): ``domain.contract_schema`` builds
  them from the models, with the rules JSON Schema cannot express in each description;
- ``asyncapi.json``: an AsyncAPI 3.0 document describing the events topic (one message per
  event type, keyed by ``person_ref`` or log key) and the dead-letter topic, with the same
  schemas as its components. The topics, their keys and the dead-letter headers are the
  Kafka adapter's, so this document is built here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import domain.events as contract
from domain.contract_schema import any_event_schema, component_schemas, event_schema
from domain.versions import VERSION_NOTES
from infra.safe_files import private_dir, write_text

KAFKA_BINDING_VERSION = "0.5.0"


def asyncapi_document(
    events_topic: str = "cmm.events",
    dead_letter_topic: str = "cmm.events.dead-letter",
    bootstrap: str = "127.0.0.1:19092",
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the events topic and its dead-letter topic."""
    schemas, names = component_schemas("#/components/schemas/{model}")
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
            "schema_version": {
                "type": "string",
                "enum": [str(v) for v in contract.SCHEMA_VERSIONS],
                "description": "The event's own schema_version.",
            },
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
                "and again by the ledger's consumer; person_ref is always a pseudonym. "
                "Versions (schema_version): "
                + " ".join(f"{v}: {note}" for v, note in VERSION_NOTES.items())
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
    write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def export(
    directory: Path,
    events_topic: str = "cmm.events",
    dead_letter_topic: str = "cmm.events.dead-letter",
) -> list[Path]:
    """Write every schema and the AsyncAPI document to ``directory``; the paths written."""
    private_dir(directory)
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
