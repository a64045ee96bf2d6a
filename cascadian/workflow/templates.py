"""`${node_id.path}` templates in node configs, resolved against upstream outputs.

- `${fetch.items.0.id}`: outputs["fetch"], then key "items", index 0, key "id".
- `${variables.name}`: the workflow's variables (when `variables` is passed to
  `resolve`, this root wins over a node that happens to be called "variables").
- A string that is exactly one template becomes the referenced value unchanged
  (objects stay objects, numbers stay numbers). A template inside a longer string
  is formatted: JSON for objects and lists, str() otherwise.
- `$${` is a literal `${`. Node ids used in templates cannot contain dots.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from cascadian.errors import NodeError

VARIABLES: Final = "variables"

# Alternation: an escape `$${` is consumed before it can start a template.
_TOKEN = re.compile(r"\$\$\{|\$\{([^{}]*)\}")
_WHOLE = re.compile(r"\$\{([^{}]*)\}")


class TemplateError(NodeError):
    """A template refers to a node without output or to a path that does not exist."""


class _Missing(enum.Enum):
    MISSING = "MISSING"


MISSING: Final = _Missing.MISSING


def get_path(value: Any, path: str) -> Any:
    """Follow a dotted path of dict keys and list indexes; MISSING when absent."""
    for segment in path.split("."):
        value = _step(value, segment)
        if value is MISSING:
            return MISSING
    return value


def _step(value: Any, segment: str) -> Any:
    if isinstance(value, dict):
        return value.get(segment, MISSING)
    if isinstance(value, list):
        index = _index(segment)
        return value[index] if index is not None and -len(value) <= index < len(value) else MISSING
    return MISSING


def _index(segment: str) -> int | None:
    digits = segment.removeprefix("-")
    # Bounded before int(): a long digit string costs time, and past 4,300 digits raises.
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        return None
    return int(segment)


def has_template(value: Any) -> bool:
    """Whether any string in a nested config holds a template (an escaped `$${` is
    not one)."""
    return any(True for _ in references(value))


def references(value: Any) -> Iterator[tuple[str, str]]:
    """Yield (template, root) for every template in a nested config; root is a node id
    or "variables"."""
    for text in _strings(value):
        for match in _TOKEN.finditer(text):
            if match.group(1) is not None:
                yield match.group(0), match.group(1).strip().split(".", 1)[0]


def resolve(
    value: Any, outputs: Mapping[str, Any], *, variables: Mapping[str, Any] | None = None
) -> Any:
    """Return a copy of `value` with every template replaced; raises TemplateError."""
    if isinstance(value, str):
        return _resolve_string(value, outputs, variables)
    if isinstance(value, dict):
        return {key: resolve(item, outputs, variables=variables) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, outputs, variables=variables) for item in value]
    return value


def _resolve_string(
    text: str, outputs: Mapping[str, Any], variables: Mapping[str, Any] | None
) -> Any:
    if "${" not in text:
        return text
    whole = _WHOLE.fullmatch(text)
    if whole:
        return _lookup(whole.group(1), outputs, variables)

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"
        found = _lookup(match.group(1), outputs, variables)
        if isinstance(found, dict | list):
            return json.dumps(found, default=str)
        return str(found)

    return _TOKEN.sub(substitute, text)


def _lookup(
    expression: str, outputs: Mapping[str, Any], variables: Mapping[str, Any] | None
) -> Any:
    reference = expression.strip()
    template = "${" + reference + "}"
    if not reference:
        raise TemplateError(f"template {template} is empty; expected ${{node_id.path}}")
    root, *segments = reference.split(".")
    if root == VARIABLES and variables is not None:
        value: Any = variables
    elif root in outputs:
        value = outputs[root]
    else:
        raise TemplateError(
            f"template {template}: node {root!r} has no output (it has not run or was skipped)"
        )
    walked = root
    for segment in segments:
        found = _step(value, segment)
        if found is MISSING:
            raise TemplateError(f"template {template}: {_describe_miss(value, segment, walked)}")
        value, walked = found, f"{walked}.{segment}"
    return value


def _describe_miss(value: Any, segment: str, walked: str) -> str:
    if isinstance(value, dict):
        return f"{walked} has no key {segment!r}"
    if isinstance(value, list):
        return f"{walked} has no index {segment} (it has {len(value)} items)"
    return f"{walked} is {type(value).__name__}, not an object or list, so it has no {segment!r}"


def _strings(value: Any) -> Iterator[str]:
    # Iterative so deeply nested configs cannot exhaust the stack.
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            yield current
        elif isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
