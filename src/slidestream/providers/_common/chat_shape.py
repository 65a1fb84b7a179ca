"""The shape of a chat-completion request, and stepping it down when a server refuses it.

Servers differ in the optional fields they take. Structured output (``response_format`` with a
JSON schema, else JSON mode, else nothing), the reply length cap (``max_tokens``, or
``max_completion_tokens`` which reasoning models want) and ``temperature`` (which reasoning
models refuse unless it is the default) are all optional for slidestream. A
:class:`ChatShape` says which of them to send; :meth:`ChatShape.without` gives the next shape
down once a server refused one, and :func:`refused_field` reads a refusal to tell which
field it was about: the error's ``param`` (OpenAI), a pydantic ``loc`` (FastAPI servers), the
field's name in the message, or, for a 400 or 422 about nothing else, the request's shape as a
whole (``""``; structured output is stepped down first, as the field servers lack most).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

__all__ = [
    "OPTIONAL_FIELDS",
    "ChatShape",
    "ErrorInfo",
    "OutputMode",
    "error_info",
    "refused_field",
]

OPTIONAL_FIELDS = ("response_format", "max_completion_tokens", "max_tokens", "temperature")
"""The request fields slidestream can do without, in the order a message is searched for them."""

_FORMAT_WORDS = ("json_schema", "json_object", "structured output", "schema", "grammar", "guided")
_OTHER_PROBLEMS = (
    "context length",
    "context window",
    "maximum context",
    "too long",
    "too many tokens",
    "does not exist",
    "not found",
    "model_not_found",
    "content policy",
    "content management",
    "safety",
    "api key",
    "quota",
    "billing",
)


class OutputMode(enum.Enum):
    """How JSON is asked for, from most to least structured."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    TEXT = "text"

    @classmethod
    def parse(cls, value: bool | str | OutputMode) -> OutputMode:
        """A mode from ``True``/``False``, a mode, or its name (``"off"`` means text).

        Raises:
            ValueError: the name is not a mode.
        """
        if isinstance(value, OutputMode):
            return value
        if isinstance(value, bool):
            return cls.JSON_SCHEMA if value else cls.TEXT
        name = value.strip().lower().replace("-", "_")
        aliases = {"on": "json_schema", "true": "json_schema", "1": "json_schema"}
        aliases |= {"off": "text", "false": "text", "0": "text", "none": "text"}
        try:
            return cls(aliases.get(name, name))
        except ValueError:
            choices = ", ".join(mode.value for mode in cls)
            raise ValueError(f"{value!r} is not an output mode: use {choices} or off") from None


_LOWER = {OutputMode.JSON_SCHEMA: OutputMode.JSON_OBJECT, OutputMode.JSON_OBJECT: OutputMode.TEXT}


@dataclass(frozen=True)
class ChatShape:
    """Which optional fields a request carries.

    Attributes:
        output: how structured output is asked for.
        refused: optional fields the server refused; they are not sent again.
    """

    output: OutputMode = OutputMode.JSON_SCHEMA
    refused: frozenset[str] = frozenset()

    def sends(self, name: str) -> bool:
        """Whether the optional field ``name`` may be sent."""
        return name not in self.refused

    def without(self, name: str) -> ChatShape | None:
        """The shape once the server refused ``name`` (``""``: the shape, unnamed); ``None``
        when there is nothing left to take away."""
        if name in ("response_format", ""):
            lower = _LOWER.get(self.output)
            return None if lower is None else replace(self, output=lower)
        if name in self.refused:
            return None
        return replace(self, refused=self.refused | {name})

    def simpler(self) -> ChatShape:
        """The shape to guess at when a server fails without naming why: structured output
        one step down, else no optional field at all."""
        lower = _LOWER.get(self.output)
        if lower is not None:
            return replace(self, output=lower)
        return replace(self, refused=self.refused | frozenset(OPTIONAL_FIELDS[1:]))

    def describe(self) -> str:
        """``json_schema``, ``json_object`` or ``text``, with the fields left out."""
        left_out = ", ".join(sorted(self.refused))
        return self.output.value + (f" without {left_out}" if left_out else "")


class ErrorInfo(NamedTuple):
    """What an error body says: its message, and the parameter, code and type it names."""

    message: str
    param: str | None = None
    code: int | str | None = None
    type: str | None = None

    @property
    def status(self) -> int | None:
        """The code as an HTTP status, when it is one (vLLM and llama.cpp put it there)."""
        code = self.code
        if isinstance(code, str) and code.isdigit():
            code = int(code)
        return code if isinstance(code, int) and 100 <= code <= 599 else None


def _loc_param(loc: Any) -> str | None:
    if isinstance(loc, (list, tuple)):
        names = [str(part) for part in loc if isinstance(part, str) and part != "body"]
        return names[0] if names else None
    return None


def error_info(body: str | Mapping[str, Any]) -> ErrorInfo:
    """The message, parameter and code of an error body in any of the usual shapes.

    OpenAI's ``{"error": {"message", "type", "param", "code"}}``, vLLM's ``{"object":
    "error", ...}`` (bare or inside ``"error"``), llama.cpp's ``{"error": {"code",
    "message", "type"}}``, FastAPI's ``{"detail": [{"loc", "msg", "type"}]}``, a bare string.
    """
    data: Any = body
    if isinstance(body, str):
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            return ErrorInfo(" ".join(body.split()))
    if not isinstance(data, Mapping):
        return ErrorInfo(str(data))
    error = data.get("error", data)
    if isinstance(error, str):
        return ErrorInfo(error, code=_code(data.get("code")))
    if not isinstance(error, Mapping):
        return ErrorInfo(str(error))
    detail = error.get("detail")
    if isinstance(detail, list) and detail:
        messages = [str(d.get("msg", d)) if isinstance(d, Mapping) else str(d) for d in detail]
        first = detail[0]
        param = _loc_param(first.get("loc")) if isinstance(first, Mapping) else None
        return ErrorInfo("; ".join(messages), param)
    message = error.get("message") or detail or error.get("msg") or json.dumps(error)
    param = error.get("param")
    kind = error.get("type")
    return ErrorInfo(
        str(message),
        str(param) if param else _loc_param(error.get("loc")),
        _code(error.get("code")),
        str(kind) if kind else None,
    )


def _code(value: Any) -> int | str | None:
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def _names(text: str, field: str) -> bool:
    return re.search(rf"(?<![a-z_]){re.escape(field)}(?![a-z_])", text) is not None


def refused_field(status: int, info: ErrorInfo, body: Mapping[str, Any]) -> str | None:
    """Which optional field of ``body`` a refusal is about.

    Returns the field's name; ``""`` for a 400 or 422 that names no field and no other
    problem (the shape as a whole); ``None`` when the refusal is not about the shape (the
    model, the context length, the key, ...) or the request had no optional field.
    """
    sent = [name for name in OPTIONAL_FIELDS if name in body]
    if not sent:
        return None
    if info.param:
        param = info.param.split(".")[0].split("[")[0]
        if param in sent:
            return param
    text = info.message.lower()
    for name in sent:
        if _names(text, name):
            return name
    if "response_format" in sent and any(word in text for word in _FORMAT_WORDS):
        return "response_format"
    if status in (400, 422) and not any(problem in text for problem in _OTHER_PROBLEMS):
        return ""
    return None
