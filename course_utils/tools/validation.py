"""Whether a parsed call fits the schema of the tool it names, and what to tell the model if not.

The yes/no decision, and which argument is at fault, is `jsonschema`'s: the arguments are
validated against the tool's `parameters` schema as a whole, so every rule a schema can state
(a `minimum`, the items of a tuple, the values of a dict, nested objects...) is enforced, not
only the types and enums a hand-written checker would cover. The sentence the model reads is
written here (`_describe`, `_signature`): it names the argument, what it must be, what came, and
how to call the tool, and its wording is what lesson 06 shows and the tests pin.
"""
from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from functools import cache

from jsonschema.exceptions import UnknownType, ValidationError, best_match
from jsonschema.validators import Draft202012Validator, extend, validator_for

from .errors import ToolCallError
from .schemas import ToolSchemaError, function_schemas

__all__ = ["UnknownTool", "InvalidArguments", "validate_call"]


class UnknownTool(ToolCallError):
    """The call names a tool that was not offered."""


class InvalidArguments(ToolCallError):
    """Missing, unexpected or mistyped arguments."""


# --- From a tool's schema to standard JSON schema ---------------------------------------------

# Keywords whose value is a schema, a list of schemas, or a map of names to schemas: where a
# "nullable" can stand below the top of a schema (e.g. list[int | None]).
_ONE_SCHEMA = ("items", "additionalProperties", "contains", "not", "if", "then", "else",
               "unevaluatedItems", "unevaluatedProperties", "propertyNames")
_SCHEMA_LIST = ("prefixItems", "anyOf", "oneOf", "allOf")
_SCHEMA_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def _standard(spec):
    """`spec` with every `"nullable": true` turned into an `anyOf` that admits null.

    The quirk: get_json_schema writes `Optional[X]` as OpenAPI's `"nullable": true`, a keyword
    that JSON schema does not have; jsonschema would ignore it and reject the `None` that the
    Python function accepts.
    """
    if not isinstance(spec, dict):  # `true`/`false` are schemas too
        return spec
    standard = {}
    for key, value in spec.items():
        if key in _ONE_SCHEMA:
            standard[key] = [_standard(v) for v in value] if isinstance(value, list) else _standard(value)
        elif key in _SCHEMA_LIST and isinstance(value, list):
            standard[key] = [_standard(v) for v in value]
        elif key in _SCHEMA_MAP and isinstance(value, dict):
            standard[key] = {name: _standard(v) for name, v in value.items()}
        else:
            standard[key] = value
    if standard.pop("nullable", False) is True:
        return {"anyOf": [{"type": "null"}, standard]}
    return standard


def _is_integer(_checker, value) -> bool:
    # bool is a subclass of int in Python, but true is not a number in JSON.
    return isinstance(value, int) and not isinstance(value, bool)


@cache
def _strict_integers(validator_class: type) -> type:
    """`validator_class`, except that 1.0 is not an integer.

    JSON schema counts a number with a zero fraction as an integer, so a function typed `int`
    would be handed the float 1.0; a tool call must write an integer as one.
    """
    checker = validator_class.TYPE_CHECKER.redefine("integer", _is_integer)
    return extend(validator_class, type_checker=checker)


def _schema_errors(parameters: dict, arguments: dict) -> list[ValidationError]:
    # A Python function raises TypeError on a keyword it does not take, so an argument the
    # schema does not list is an error even where the schema would allow extra properties.
    schema = {**_standard(parameters), "additionalProperties": False}
    validator_class = _strict_integers(validator_for(schema, default=Draft202012Validator))
    return list(validator_class(schema).iter_errors(arguments))


# --- The sentences the model reads ------------------------------------------------------------


def _describe(spec: dict) -> str:
    """A schema in words: "string", "one of [...]", "array of integer or null"."""
    if "enum" in spec:
        return "one of " + json.dumps(spec["enum"])
    if "anyOf" in spec:
        return " or ".join(_describe(option) for option in spec["anyOf"])
    types = spec.get("type", "any value")
    text = " or ".join(types) if isinstance(types, list) else types
    if isinstance(spec.get("items"), dict):
        text += " of " + _describe(spec["items"])
    return text + (" or null" if spec.get("nullable") else "")


def _signature(name: str, parameters: dict) -> str:
    """How to call the tool: `get_weather(city (string, required))`."""
    properties = parameters.get("properties", {})
    required = set(parameters.get("required", []))
    args = [f"{arg} ({_describe(spec)}{', required' if arg in required else ''})"
            for arg, spec in properties.items()]
    return f"{name}({', '.join(args)})"


# The keywords `_describe` spells out; a failure of any other (minimum, prefixItems, an object's
# own properties...) adds jsonschema's own reason, or "must be integer, got -1" would not say why.
_DESCRIBED = {"type", "enum", "anyOf", "items"}


def _reason(error: ValidationError) -> str:
    below_argument = list(error.absolute_schema_path)[2:]  # past "properties", <argument>
    if all(key in _DESCRIBED for key in below_argument if isinstance(key, str)):
        return ""
    where = f"at {error.json_path.removeprefix('$.')}: " if len(error.absolute_path) > 1 else ""
    return f" ({where}{error.message})"


# --- The check --------------------------------------------------------------------------------


def validate_call(call: dict, tools: Sequence[Callable | dict] | dict[str, dict]) -> None:
    """Raise `UnknownTool` or `InvalidArguments` unless `call` fits one of the tools' schemas.

    `tools` is a list of functions or schemas, or (to skip rebuilding them for every call) a
    dict of function schemas by name. The first problem is reported, in this order: an unknown
    tool, an unexpected argument, a missing required one, then each argument in the call's order.
    """
    schemas = tools if isinstance(tools, dict) else function_schemas(tools)
    name, arguments = call["name"], call["arguments"]
    if name not in schemas:
        close = difflib.get_close_matches(name, list(schemas), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownTool(f"Error: unknown tool {name!r}.{hint} Available tools: {', '.join(schemas)}.")
    parameters = schemas[name].get("parameters", {})
    try:
        errors = _schema_errors(parameters, arguments)
    except UnknownType as error:  # a hand-written schema such as {"type": "any"}: the tool's fault
        raise ToolSchemaError(f"{name}: its schema uses the type {error.type!r}, which JSON schema does not "
                              "have; use string, number, integer, boolean, array, object or null") from None
    if not errors:
        return
    properties = parameters.get("properties", {})
    usage = f"Call it as {_signature(name, parameters)}."
    about_all: dict[str, ValidationError] = {}  # errors about the arguments object itself
    for error in errors:
        if not error.path:
            about_all.setdefault(error.validator, error)
    if "additionalProperties" in about_all:
        arg = next(arg for arg in arguments if arg not in properties)
        raise InvalidArguments(f"Error: {name} has no argument {arg!r}. {usage}")
    if "required" in about_all:
        arg = next(arg for arg in about_all["required"].validator_value if arg not in arguments)
        raise InvalidArguments(f"Error: {name} is missing the required argument {arg!r}. {usage}")
    by_argument: dict[str, list[ValidationError]] = {}
    for error in errors:
        if error.path:
            by_argument.setdefault(error.path[0], []).append(error)
    for arg, value in arguments.items():
        if arg in by_argument:
            # best_match looks inside anyOf (an Optional argument) for the deepest failure.
            reason = _reason(best_match(by_argument[arg]))
            raise InvalidArguments(
                f"Error: {name} argument {arg!r} must be {_describe(properties.get(arg, {}))}, "
                f"got {json.dumps(value)}{reason}. {usage}"
            )
    # A rule about the arguments together (say minProperties), which no one argument breaks.
    raise InvalidArguments(f"Error: {name} arguments do not fit its schema ({errors[0].message}). {usage}")
