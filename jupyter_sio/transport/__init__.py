"""Transports: Engine.IO connections on asyncio (:mod:`.engine`) and the Tornado
request handler that carries them (:mod:`.tornado`)."""
