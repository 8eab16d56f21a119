"""Protocol conformance: the official Engine.IO v4 and Socket.IO v5 test suites' cases,
rewritten from the specs as pytest tests, run against every front end.

Run: ``.venv/bin/pytest tests/conformance`` (``-k node`` for the npm reference servers
only, ``-k "native or asgi"`` for ours). The servers are
``examples/conformance/{engineio,socketio}_server.py --frontend native|asgi`` and
``tests/interop/js/conformance_{engineio,socketio}_server.js``.
"""
