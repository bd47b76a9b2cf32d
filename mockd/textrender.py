"""How a value becomes text in a template field and in a ``json`` matcher comparison."""
import json

__all__ = ["to_text"]


def to_text(value):
    """Render a value the way a template field renders.

    Strings as-is, ``None`` as ``""``, booleans ``true``/``false``, integral numbers without
    ``.0``, other numbers in their shortest form, objects and arrays as compact JSON.
    """
    cls = value.__class__
    if cls is str:
        return value
    if value is None:
        return ""
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return str(value)
    if cls is float:
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False,
                          default=str)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)
