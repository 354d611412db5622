"""HTTP authentication round trips: opensspi's requests/httpx ``SspiAuth`` against
requests-ntlm and httpx-ntlm (the named peers), over a keep-alive server on 127.0.0.1.

Run from the repository root::

    python bench/http_auth.py [N]

Each side makes N authenticated GETs with one ``requests.Session``/``httpx.Client`` of its own;
the middleware authenticates every request (it keeps no authenticated connections), so every
GET does the whole NTLM 401 dance: NEGOTIATE, CHALLENGE, AUTHENTICATE — against opensspi's WSGI
middleware on the wsgiref keep-alive server of the tests. The server's work is the same
for both; the ratio compares the client sides plus that shared cost, which is what a user sees.
Interleaved rounds, best of three.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import httpx  # noqa: E402
import requests  # noqa: E402

from interop.peers.wsgi_server import hello_app, serve_wsgi  # noqa: E402
from opensspi.integrations import httpx as ox  # noqa: E402
from opensspi.integrations import requests as orq  # noqa: E402
from opensspi.integrations.wsgi import SspiMiddleware  # noqa: E402

USER, PASSWORD = "CORP\\alice", "Passw0rd!"


def best(fn: Callable[[], object], n: int, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return min(times)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    from httpx_ntlm import HttpNtlmAuth as HttpxNtlm
    from requests_ntlm import HttpNtlmAuth as RequestsNtlm

    app = SspiMiddleware(hello_app, packages=["NTLM"], auth_data={"NTLM": {USER: PASSWORD}})
    with serve_wsgi(app) as url:
        ours_auth = orq.SspiAuth(package="NTLM", user=USER, password=PASSWORD)
        theirs_auth = RequestsNtlm(USER, PASSWORD)
        s1, s2 = requests.Session(), requests.Session()

        def ours() -> None:
            assert s1.get(url, auth=ours_auth).status_code == 200

        def theirs() -> None:
            assert s2.get(url, auth=theirs_auth).status_code == 200

        ours_x = ox.SspiAuth(package="NTLM", user=USER, password=PASSWORD)
        theirs_x = HttpxNtlm(USER, PASSWORD)
        c1, c2 = httpx.Client(), httpx.Client()

        def ours_httpx() -> None:
            assert c1.get(url, auth=ours_x).status_code == 200

        def theirs_httpx() -> None:
            assert c2.get(url, auth=theirs_x).status_code == 200

        for name, a, b, peer in (("requests NTLM GET", ours, theirs, "requests-ntlm"),
                                 ("httpx NTLM GET", ours_httpx, theirs_httpx, "httpx-ntlm")):
            a(), b()
            ta, tb = best(a, n), best(b, n)
            print(f"{name:20} opensspi {ta * 1e3:7.2f} ms  {peer} {tb * 1e3:7.2f} ms  "
                  f"ratio {tb / ta:5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
