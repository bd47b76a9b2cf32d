"""Compact JSON text, as mockd sends it: the one encoder of replies, ``ctx.send({...})`` and
``mockd.testing``'s ``push``."""
import json

__all__ = ["dumps_json", "loads_json"]


# json.dumps() with any non-default option builds a JSONEncoder, and every encode() a C encoder,
# on each call: about half the cost of a small reply. Both are built once here. No circular
# reference check (``markers`` None, so nothing is shared between calls): a compiled value is
# a tree, and a cycle from elsewhere still fails, with RecursionError instead of ValueError.
_compact_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
try:
    from json.encoder import c_make_encoder as _c_make_encoder
    from json.encoder import encode_basestring as _encode_str
except ImportError:  # pragma: no cover - a Python without the C accelerator
    _c_make_encoder = None
if _c_make_encoder is not None:
    _iterencode = _c_make_encoder(None, _compact_encoder.default, _encode_str, None, ":", ",",
                                  False, False, True)

    def dumps_json(value):
        """Compact JSON, non-ASCII kept as is (a text frame is UTF-8 anyway)."""
        return "".join(_iterencode(value, 0))
else:  # pragma: no cover
    def dumps_json(value):
        """Compact JSON, non-ASCII kept as is (a text frame is UTF-8 anyway)."""
        return _compact_encoder.encode(value)


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def loads_json(data):
    """``json.loads`` without Python's extensions ``NaN``, ``Infinity`` and ``-Infinity``: what
    mockd took as JSON it sends on, and a strict parser (JavaScript's ``JSON.parse``, the
    protocol packs' clients) refuses them. Raises ``ValueError`` for them, as for any bad JSON."""
    return json.loads(data, parse_constant=_no_constant)
