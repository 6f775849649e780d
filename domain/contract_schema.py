"""The event contract as JSON Schema (2020-12), for services not written in Python.

The schemas are generated from the models of ``domain.events``, so the contract has one
source. JSON Schema cannot say everything the models check: where it can, the generated
schema is tightened (``person_ref`` required or forbidden by event type; country codes
are an enum by their type, ``domain.payloads.Country``). The rules it cannot express (e.g.
``industry`` only for forced labour, ``recorded_at`` not before ``occurred_at``) are listed
in each schema's description, in the words of the validators that check them
(``domain.rules``): a rule changed in a validator changes the export. The consumer
validates with the models, so a message that passes the schema but breaks such a rule is
refused with the reason.

Everything here is pure: writing the files, and the AsyncAPI document of the Kafka topics
around these schemas, are the adapters' (``cmm schema export``).
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import domain.events as contract
from domain.rules import rules_of
from domain.versions import VERSION_NOTES

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def event_models() -> dict[str, type[contract.Envelope]]:
    """The envelope model of every event type, by type name."""
    models: dict[str, type[contract.Envelope]] = {}
    for name in contract.EVENT_TYPES:
        model = getattr(contract, name)
        assert issubclass(model, contract.Envelope), name
        models[name] = model
    return models


def _validator_rules(model: type[BaseModel]) -> list[str]:
    """The rules the model's own validators state, field validators first (inherited
    validators before the model's)."""
    decorators = model.__pydantic_decorators__
    return [
        rule
        for validators in (decorators.field_validators, decorators.model_validators)
        for decorator in validators.values()
        for rule in rules_of(decorator.func)
    ]


def _type_rules(model: type[BaseModel]) -> list[str]:
    """The rules of validators that the fields' types carry, each said of the fields that
    have the type (``{fields}``), in field order."""
    fields_of: dict[str, list[str]] = {}
    for field_name, field in model.model_fields.items():
        for item in field.metadata:
            for rule in rules_of(getattr(item, "func", None)):
                fields_of.setdefault(rule, []).append(field_name)
    return [rule.replace("{fields}", " and ".join(names)) for rule, names in fields_of.items()]


def common_rules() -> list[str]:
    """The rules no event's schema can express, checked for every event: the envelope's
    field types, its validator, and reading (``domain.parsing.parse_event``)."""
    envelope = contract.Envelope
    return [*_type_rules(envelope), *_validator_rules(envelope), *rules_of(contract.parse_event)]


def event_rules(name: str) -> list[str]:
    """The rules of one event type that its schema cannot express, beyond
    :func:`common_rules`: its envelope's own validators, then its payload's."""
    common = set(_validator_rules(contract.Envelope))
    own = [rule for rule in _validator_rules(event_models()[name]) if rule not in common]
    return [*own, *_validator_rules(contract.PAYLOADS[name])]


def _rules(name: str) -> str:
    rules = [*common_rules(), *event_rules(name)]
    return "Also checked by the consumer: " + "; ".join(rules) + "."


def _tighten(name: str, schema: dict[str, Any]) -> None:
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
    schema["description"] = (
        (schema.get("description") or f"The {name} event.").strip() + "\n\n" + _rules(name)
    )


def event_schema(name: str) -> dict[str, Any]:
    """A standalone JSON Schema (2020-12) of one event type."""
    schema = event_models()[name].model_json_schema(mode="validation")
    _tighten(name, schema)
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
        "description": "One event of the contract; the 'type' field says which. Versions "
        "(schema_version): " + " ".join(f"{v}: {note}" for v, note in VERSION_NOTES.items()),
        "oneOf": [{"$ref": f"{name}.schema.json"} for name in contract.EVENT_TYPES],
    }


def component_schemas(ref_template: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Every event model with its shared definitions, as one set of named schemas that
    refer to each other by ``ref_template`` (e.g. ``#/components/schemas/{model}``); and
    the schema name of each event type."""
    models = event_models()
    refs, top = models_json_schema(
        [(model, "validation") for model in models.values()], ref_template=ref_template
    )
    schemas: dict[str, Any] = copy.deepcopy(top.get("$defs", {}))
    names: dict[str, str] = {}
    for name, model in models.items():
        component = refs[(model, "validation")]["$ref"].rsplit("/", 1)[-1]
        names[name] = component
        _tighten(name, schemas[component])
    return schemas, names
