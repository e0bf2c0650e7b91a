"""Sans-IO core: Engine.IO v4 and Socket.IO v5 as pure code.

Bytes and strings go in, packets and events come out; the current time is always passed in.
Nothing here imports asyncio or Tornado or reads a clock, so every rule of the protocol is
tested without sockets (``tests/protocol``). The I/O layers (``transport/``) are thin.

- :mod:`.engine`  — Engine.IO packets and polling payloads.
- :mod:`.socket`  — Socket.IO packets, binary placeholders, attachment assembly.
- :mod:`.frames`  — pre-encoded outbound packets (built once per broadcast) and WebSocket frames.
- :mod:`.outbox`  — the bounded per-connection outbound buffer and its policies.
- :mod:`.session` — the Engine.IO session state machine: handshake, heartbeat, upgrade, close.
"""
