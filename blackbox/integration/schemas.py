"""Validates messages against the contract's JSON Schemas in protocols/schemas."""
import json
import os

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "protocols", "schemas")


def _load():
    resources, by_name = [], {}
    for name in os.listdir(SCHEMAS):
        with open(os.path.join(SCHEMAS, name)) as f:
            schema = json.load(f)
        resources.append((schema["$id"], Resource.from_contents(schema)))
        by_name[name.removesuffix(".schema.json")] = schema
    registry = Registry().with_resources(resources)
    return {name: Draft202012Validator(schema, registry=registry) for name, schema in by_name.items()}


VALIDATORS = _load()


def validate(schema: str, message) -> None:
    """Raises jsonschema.ValidationError when `message` (text or parsed) breaks the schema."""
    if isinstance(message, (str, bytes)):
        message = json.loads(message)
    VALIDATORS[schema].validate(message)
