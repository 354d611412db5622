"""Integrations of opensspi with other libraries: HTTP clients and servers.

- :mod:`opensspi.integrations.requests` — ``SspiAuth`` for requests;
- :mod:`opensspi.integrations.httpx` — ``SspiAuth`` for httpx (sync and async clients);
- :mod:`opensspi.integrations.wsgi` and :mod:`opensspi.integrations.asgi` — middleware that
  authenticates HTTP clients with opensspi's acceptors;
- :mod:`opensspi.integrations.http` — what they share, free of I/O.

requests and httpx are optional: each module imports its library when it is imported itself.
"""
