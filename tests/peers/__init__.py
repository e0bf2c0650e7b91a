"""Interop peers: drivers for the official Socket.IO clients and the interop servers.

- :mod:`tests.peers.node_puppet` drives ``socket.io-client`` (Node) through tests/js/puppet.mjs;
- :mod:`tests.peers.py_client` wraps the python-socketio ``AsyncClient`` behind the same API;
- :mod:`tests.peers.servers` starts the reference (Node) and jupyter_sio servers.
"""
