"""Telling a client that speaks another Socket.IO parser, in terms it understands.

A client built with ``socket.io-msgpack-parser`` sends every packet as one binary
message holding a msgpack map (``{type, nsp, data, id?}``); this hub speaks the default
parser (JSON text). Closing the connection on the first such message leaves the client
reconnecting forever, without a word. Instead the hub answers the CONNECT with a
CONNECT_ERROR *encoded in msgpack*, so the client's ``connect_error`` says what is wrong
and the client stops (a CONNECT_ERROR from the server is final in socket.io-client).

The few msgpack bytes needed are written here (a map of short strings and one small int);
no msgpack library is required.
"""

from __future__ import annotations

_MAP_PREFIXES = frozenset(range(0x80, 0x90)) | {0xDE, 0xDF}  # fixmap, map16, map32
_NSP_KEY = b"\xa3nsp"


def looks_like_msgpack(message: bytes) -> bool:
    """Whether a binary message that is no attachment looks like a msgpack packet."""
    return bool(message) and message[0] in _MAP_PREFIXES and _NSP_KEY in message[:64]


def msgpack_namespace(message: bytes) -> str:
    """The ``nsp`` of a msgpack packet when it is a short string, else ``/``."""
    at = message.find(_NSP_KEY)
    if at < 0:
        return "/"
    start = at + len(_NSP_KEY)
    if start < len(message) and 0xA0 <= message[start] <= 0xBF:
        size = message[start] & 0x1F
        raw = message[start + 1:start + 1 + size]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return "/"
        if text.startswith("/") and len(raw) == size:
            return text
    return "/"


def _str(value: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) < 32:
        return bytes([0xA0 | len(raw)]) + raw
    if len(raw) < 256:
        return bytes([0xD9, len(raw)]) + raw
    return bytes([0xDA]) + len(raw).to_bytes(2, "big") + raw[:65535]


def msgpack_connect_error(namespace: str, message: str) -> bytes:
    """``{"type": 4, "nsp": namespace, "data": {"message": message}}`` in msgpack."""
    return (
        b"\x83" + _str("type") + b"\x04"
        + _str("nsp") + _str(namespace)
        + _str("data") + b"\x81" + _str("message") + _str(message)
    )
