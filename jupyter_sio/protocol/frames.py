"""Outbound packets encoded once and written many times.

A broadcast to a thousand sockets must not be encoded a thousand times. An
:class:`Outgoing` holds the Engine.IO messages of one packet (the text message plus any
binary attachments) and builds, on first use and then caches:

- ``ws_frame``: the complete unmasked WebSocket frames as one ``bytes`` (server frames are
  never masked, so the bytes are the same for every recipient without compression);
- ``poll_text``: the packet's long-polling form.

Each recipient then costs one buffer write.
"""

from __future__ import annotations

import base64

from .eio_codec import RECORD_SEPARATOR
from .ws_codec import ws_frame

__all__ = ["CLOSE", "NOOP", "PING", "Outgoing", "ws_frame"]


class Outgoing:
    """One outbound packet in its Engine.IO form, shared by all its recipients.

    Args:
        text: the Engine.IO text message (type digit included), e.g. ``'42["tick",1]'``.
        attachments: raw binary Engine.IO messages that follow the text one.
        key: conflation key; a newer packet with the same key replaces a queued older one.
        volatile: drop instead of queueing when the recipient is congested.
    """

    __slots__ = (
        "_poll_text",
        "_ws_frame",
        "attachments",
        "key",
        "size",
        "text",
        "text_bytes",
        "volatile",
    )

    def __init__(
        self,
        text: str,
        attachments: list[bytes] | tuple[bytes, ...] = (),
        *,
        key: str | None = None,
        volatile: bool = False,
    ) -> None:
        self.text = text
        # Encoding now (not per recipient) also surfaces unencodable text, e.g. a lone
        # surrogate, to the emitter as a UnicodeEncodeError instead of a dead socket later.
        self.text_bytes = text.encode("utf-8")
        self.attachments = tuple(attachments)
        self.key = key
        self.volatile = volatile
        self.size = len(self.text_bytes) + sum(len(a) for a in self.attachments)
        self._ws_frame: bytes | None = None
        self._poll_text: str | None = None

    @property
    def ws_frame(self) -> bytes:
        frame = self._ws_frame
        if frame is None:
            frame = ws_frame(self.text_bytes, binary=False)
            if self.attachments:
                frame += b"".join(ws_frame(a, binary=True) for a in self.attachments)
            self._ws_frame = frame
        return frame

    @property
    def poll_text(self) -> str:
        text = self._poll_text
        if text is None:
            text = self.text
            if self.attachments:
                text += "".join(
                    RECORD_SEPARATOR + "b" + base64.b64encode(a).decode("ascii")
                    for a in self.attachments
                )
            self._poll_text = text
        return text

    @classmethod
    def binary(cls, data: bytes, *, key: str | None = None, volatile: bool = False) -> Outgoing:
        """A binary Engine.IO message on its own (plain Engine.IO, or a packet of the
        msgpack parser: no text message first). ``binary_data`` keeps the bytes."""
        item = cls.__new__(cls)
        item.text, item.text_bytes, item.attachments = "", bytes(data), ()
        item.key, item.volatile, item.size = key, volatile, len(data)
        item._ws_frame = ws_frame(bytes(data), binary=True)
        item._poll_text = "b" + base64.b64encode(data).decode("ascii")
        return item

    def rekeyed(self, key: str) -> Outgoing:
        """The same packet under another conflation key (nothing re-encoded): replayed
        history must not conflate with the live value of its key."""
        copy = Outgoing.__new__(Outgoing)
        copy.text, copy.text_bytes, copy.attachments = self.text, self.text_bytes, self.attachments
        copy.key, copy.volatile, copy.size = key, self.volatile, self.size
        copy._ws_frame, copy._poll_text = self._ws_frame, self._poll_text
        return copy

    def __repr__(self) -> str:
        return (
            f"Outgoing({self.text[:40]!r}, attachments={len(self.attachments)}, key={self.key!r})"
        )


#: Control packets are tiny and the same for every connection: build them once.
PING = Outgoing("2")
NOOP = Outgoing("6")
CLOSE = Outgoing("1")
