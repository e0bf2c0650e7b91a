"""Every exception jupyter_sio raises, rooted at :class:`SioError`.

::

    SioError
    ├── ProtocolError                a peer or our own code broke the wire protocol
    │   ├── LocalProtocolError       asked to send something invalid (our or the caller's bug)
    │   └── RemoteProtocolError      the peer sent something invalid; ``hint`` says the answer
    ├── ConnectionRefused            raised by connect middleware to refuse a client (CONNECT_ERROR)
    ├── Disconnected                 the socket is gone; pending acks settle with this
    ├── AckTimeout (+ TimeoutError)  no acknowledgement within the deadline
    ├── BufferFull                   a reliable emit found no room in a recipient's outbound buffer
    ├── PayloadTooLarge (+ ValueError)  a packet exceeds ``max_payload`` / attachment caps
    ├── UnknownNamespace (+ LookupError)  the hub has no such namespace
    ├── UnknownSocket (+ LookupError)  no socket with that id is connected
    ├── Forbidden (+ PermissionError)  the identity lacks the permission (e.g. kernel powers)
    ├── HandlerError                 the handler that answered raised; ``type`` is its class name
    └── ConfigError (+ ValueError)   a setting has an impossible value

Errors that happen in the hub on a kernel's behalf cross the kernel link as
``{type, message}`` and are raised in the cell as the same class (:func:`from_wire`).

Builtin names are never shadowed: a connect handler may also raise the builtin
:class:`ConnectionRefusedError`, which is treated like :class:`ConnectionRefused`.
"""

from __future__ import annotations

from typing import Any


class SioError(Exception):
    """Root of every jupyter_sio error."""


class ProtocolError(SioError):
    """The Engine.IO / Socket.IO protocol was broken."""


class LocalProtocolError(ProtocolError):
    """We were asked to produce a packet that the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow.

    ``hint`` is the Engine.IO close reason or HTTP error code the I/O layer should answer with.
    """

    def __init__(self, message: str, *, hint: str = "parse error") -> None:
        super().__init__(message)
        self.hint = hint


class ConnectionRefused(SioError):
    """Refuse a connecting client from middleware; ``message`` and ``data`` reach the client.

    The client receives a CONNECT_ERROR packet ``{"message": message, "data": data}``, which
    ``socket.io-client`` exposes as ``err.message`` and ``err.data`` in ``connect_error``.
    """

    def __init__(self, message: str = "Connection refused", data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class Disconnected(SioError):
    """The socket (or the whole connection) is disconnected; ``reason`` says why."""

    def __init__(self, reason: str = "disconnected") -> None:
        super().__init__(reason)
        self.reason = reason


class AckTimeout(SioError, TimeoutError):
    """An acknowledgement did not arrive before its deadline."""


class BufferFull(SioError):
    """A reliable emit could not be queued: the recipient's outbound buffer stayed full.

    Raise ``max_buffer_packets`` / ``max_buffer_bytes`` or ``send_timeout``, emit with
    ``volatile=True`` (drop when congested) or with a ``key`` (keep only the newest value).
    """


class PayloadTooLarge(SioError, ValueError):
    """A packet is larger than ``max_payload`` or carries too many binary attachments."""


class ConfigError(SioError, ValueError):
    """A configuration value is out of range; the message names the setting."""


class UnknownNamespace(SioError, LookupError):
    """The hub has no namespace of that name (and no dynamic namespace matches it)."""


class UnknownSocket(SioError, LookupError):
    """No socket with that id is connected (it left, or never existed)."""


class Forbidden(SioError, PermissionError):
    """The connection's identity may not do this (the message says which permission)."""


class HandlerError(SioError):
    """The handler that answered a request raised; ``type`` names the exception's class."""

    def __init__(self, message: str, kind: str = "Exception") -> None:
        super().__init__(message)
        self.type = kind


_WIRE: dict[str, type[SioError]] = {
    cls.__name__: cls
    for cls in (
        AckTimeout,
        BufferFull,
        Disconnected,
        PayloadTooLarge,
        UnknownNamespace,
        UnknownSocket,
        Forbidden,
        RemoteProtocolError,
        LocalProtocolError,
        ConfigError,
    )
}


def from_wire(error: dict[str, Any]) -> SioError:
    """The exception a ``{type, message}`` error from the link stands for."""
    name = str(error.get("type", "SioError"))
    message = str(error.get("message", ""))
    cls = _WIRE.get(name)
    if cls is None:
        return HandlerError(f"{name}: {message}", name)
    return cls(message)
