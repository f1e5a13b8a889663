"""The fast path's adversarial socket suite (see conftest.py and _server.py)."""
