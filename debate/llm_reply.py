"""What a model must send back and how its reply is read: the strictness of a JSON schema
(`strict_compatible`), the first JSON object in a reply (`extract_json`), that object
validated (`parse_reply`), and an invalid reply as echoed back for its one repair.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

#: Characters of an invalid reply sent back in the repair request, at most.
_REPAIR_ECHO_CHARS = 4000


def strict_compatible(schema: Mapping[str, Any]) -> bool:
    """Whether `schema` meets OpenAI's strict structured-output rules: the root is an object,
    every object lists all its properties as required and has ``additionalProperties: false``
    (nested objects in arrays and anyOf branches included), and no ``$ref``/``oneOf``."""
    if schema.get("type") != "object":
        return False

    def ok(node: Any) -> bool:
        if isinstance(node, list):
            return all(ok(n) for n in node)
        if not isinstance(node, Mapping):
            return True
        if "$ref" in node or "oneOf" in node or "allOf" in node:
            return False
        types = node.get("type")
        is_object = types == "object" or (isinstance(types, list) and "object" in types)
        if is_object:
            props = node.get("properties")
            if not isinstance(props, Mapping) or node.get("additionalProperties") is not False:
                return False
            if set(node.get("required") or ()) != set(props):
                return False
            if not all(ok(v) for v in props.values()):
                return False
        return all(ok(v) for k, v in node.items() if k in ("items", "anyOf"))

    return ok(schema)


_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)


def extract_json(reply: str) -> Any:
    """Return the first JSON object in `reply`, ignoring code fences and surrounding prose.

    Reasoning blocks (``<think>…</think>``) are dropped first; fenced blocks are tried before the
    bare text; raw control characters inside strings are tolerated. Raises ValueError with a
    short reason when there is no JSON object to be found.
    """
    text = _THINK.sub("", reply)
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder(strict=False)
    first_error: str | None = None
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                obj, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError as exc:
                if first_error is None:
                    first_error = f"invalid JSON ({exc.msg}, character {exc.pos})"
            else:
                if isinstance(obj, dict):
                    return obj
            start = candidate.find("{", start + 1)
    raise ValueError(first_error or "no JSON object found in the reply")


def _validation_reason(exc: ValidationError, limit: int = 3) -> str:
    """Summarise a pydantic error in one short line: ``where: what; …``."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "the reply"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def parse_reply(reply: str, model_cls: type[M], char_limit: int | None = None) -> M:
    """Parse and validate `reply` as `model_cls`; raise ValueError with a short reason if not.

    With `char_limit`, the model's ``text`` field (or the whole reply when the model has no
    string ``text``) must not be longer than that many characters.
    """
    obj = extract_json(reply)
    try:
        parsed = model_cls.model_validate(obj)
    except ValidationError as exc:
        raise ValueError(_validation_reason(exc)) from None
    if char_limit is not None:
        n = _measured_length(parsed, reply)
        if n > char_limit:
            raise ValueError(f"your text has {n} characters, the limit is {char_limit}")
    return parsed


def _measured_length(parsed: BaseModel, reply: str) -> int:
    """Length that a char limit applies to: the ``text`` field if there is one, else the reply."""
    text = getattr(parsed, "text", None)
    return len(text) if isinstance(text, str) else len(reply)


#: A quote that ends a JSON string: not preceded by an odd number of backslashes.
_CLOSING_QUOTE = re.compile(r'(?:^|[^\\])(?:\\\\)*"')
#: What marks a free text closed by `close_cut`.
CUT_MARK = " [… cut at the token limit]"


def close_cut(reply: str, field: str) -> str | None:
    """`reply`, cut (at max_tokens) inside the string value of `field`, closed so that it can
    parse: the string and the object are ended. None when the reply is not open inside a
    `field` string (then the cut lost something else, and the reply stays invalid). Only
    right for a `field` that the schema puts last, so that nothing else is missing."""
    text = re.sub(r"\\(u[0-9a-fA-F]{0,3})?$", "", reply)  # a cut escape sequence
    opened = list(re.finditer(rf'"{re.escape(field)}"\s*:\s*"', text))
    if not opened or _CLOSING_QUOTE.search(text[opened[-1].end() - 1 :], 1):
        return None
    return text + '"}'


def kind_name(model_cls: type[BaseModel]) -> str:
    """'Argument' -> 'argument', 'JudgeAnswer' -> 'judge answer' (for error messages); a
    private subclass (a reader's variant of Argument) is named by its public base."""
    name = next(c.__name__ for c in model_cls.__mro__ if not c.__name__.startswith("_"))
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


def echo(reply: str, limit: int = _REPAIR_ECHO_CHARS) -> str:
    """An invalid reply as sent back for repair: never more than `limit` characters."""
    if len(reply) <= limit:
        return reply
    return reply[:limit] + f"\n[… {len(reply) - limit} more characters cut]"
