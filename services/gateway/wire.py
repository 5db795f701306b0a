"""JSON on the wire (amounts as exact decimals like ``10.000``, never via ``float``) and reading answers back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from . import errors

M = TypeVar("M", bound=BaseModel)


def dumps(value: Any) -> bytes:
    """Compact JSON where a ``Decimal`` is written verbatim as a number (``Decimal("10.000")`` → ``10.000``)."""
    return _encode(value).encode("utf-8")


def _encode(value: Any) -> str:
    if value is None or isinstance(value, bool | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send non-finite amount {value}")
        return format(value, "f")  # fixed notation keeps the trailing zeros: 10.000
    if isinstance(value, float):
        raise TypeError("floats are never sent to the gateway; use int minor units or Decimal")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def data_object(
    envelope: dict[str, Any], key: str | None, method: str, path: str, ids: dict[str, str]
) -> dict[str, Any]:
    """``envelope["data"]`` (or ``envelope["data"][key]``) as a dict, else InvalidResponse."""
    data = envelope.get("data")
    if key is not None and isinstance(data, dict):
        data = data.get(key)
    if not isinstance(data, dict):
        what = f"data.{key}" if key else "data"
        raise errors.InvalidResponse(f"The answer has no {what} object", method=method, path=path, ids=ids)
    return data


def parse_model(model: type[M], data: Any, method: str, path: str, ids: dict[str, str]) -> M:
    """Validate ``data`` into ``model``; a shape we cannot read becomes InvalidResponse."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "body"
        raise errors.InvalidResponse(
            f"The answer has an unexpected {loc}: {first['msg']}", method=method, path=path, ids=ids
        ) from None
