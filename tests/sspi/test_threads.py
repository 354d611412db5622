"""Thread safety of the sspi layer.

Windows' documentation calls one context used from several threads at once the caller's error;
DESIGN.md requires that it still never corrupts the context (calls are serialized). Separate
contexts made from one credential handle must work in parallel.
"""

from __future__ import annotations

import struct
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import SecBufferType, SecPkgAttr, SecStatus

THREADS = 4
CALLS = 200


@pytest.fixture(autouse=True)
def eager_switching() -> Iterator[None]:
    """Switch threads as often as possible so that unserialized calls would interleave."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def run_threads(work: Callable[[int], None], count: int = THREADS) -> None:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


def seq_of(signature: bytes) -> int:
    return int(struct.unpack_from("<I", signature, 12)[0])


def test_make_signature_from_many_threads_on_one_context(pair) -> None:
    signed: list[tuple[int, bytes, bytes]] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        mine = []
        for n in range(CALLS):
            payload = b"thread %d call %d" % (index, n)
            desc = SecBufferDesc(
                [SecBuffer(SecBufferType.TOKEN, 16), SecBuffer(SecBufferType.DATA, payload)]
            )
            assert sspi.MakeSignature(pair.client, 0, desc, 0) == SecStatus.SEC_E_OK
            mine.append((seq_of(desc[0].buffer), payload, desc[0].buffer))
        with lock:
            signed.extend(mine)

    run_threads(work)
    total = THREADS * CALLS
    seqs = [s for s, _, _ in signed]
    assert len(set(seqs)) == total
    assert sorted(seqs) == list(range(total))
    # The RC4 stream that encrypts the checksums advanced in the same order as the sequence
    # numbers were handed out: the peer verifies every signature in sequence order.
    for _seq, payload, signature in sorted(signed):
        desc = SecBufferDesc(
            [SecBuffer(SecBufferType.TOKEN, signature), SecBuffer(SecBufferType.DATA, payload)]
        )
        assert sspi.VerifySignature(pair.server, desc, 0).status == SecStatus.SEC_E_OK


def test_encrypt_from_many_threads_on_one_context(pair) -> None:
    sealed: list[tuple[int, bytes, bytes, bytes]] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        mine = []
        for n in range(CALLS // 2):
            payload = b"sealed by %d, message %d" % (index, n)
            desc = SecBufferDesc(
                [SecBuffer(SecBufferType.TOKEN, 16), SecBuffer(SecBufferType.DATA, payload)]
            )
            sspi.EncryptMessage(pair.server, 0, desc, 0)
            mine.append((seq_of(desc[0].buffer), payload, desc[0].buffer, desc[1].buffer))
        with lock:
            sealed.extend(mine)

    run_threads(work)
    assert sorted(s for s, *_ in sealed) == list(range(THREADS * (CALLS // 2)))
    for _seq, payload, token, ciphertext in sorted(sealed):
        desc = SecBufferDesc(
            [SecBuffer(SecBufferType.TOKEN, token), SecBuffer(SecBufferType.DATA, ciphertext)]
        )
        sspi.DecryptMessage(pair.client, desc, 0)
        assert desc[1].buffer == payload


def test_a_handshake_per_thread_sharing_one_credential_handle(ntlm) -> None:
    client_cred, server_cred = ntlm.client_cred(), ntlm.server_cred()
    keys: list[bytes] = []
    lock = threading.Lock()
    rounds = 5

    def work(index: int) -> None:
        for n in range(rounds):
            hs = ntlm.handshake(client_cred=client_cred, server_cred=server_cred)
            assert [r.status for r in hs.client_results] == [
                SecStatus.SEC_I_CONTINUE_NEEDED, SecStatus.SEC_E_OK]
            assert [r.status for r in hs.server_results] == [
                SecStatus.SEC_I_CONTINUE_NEEDED, SecStatus.SEC_E_OK]
            names = sspi.QueryContextAttributes(hs.server, SecPkgAttr.NAMES)
            assert names.user_name == "CORP\\alice"
            payload = b"thread %d round %d" % (index, n)
            desc = SecBufferDesc(
                [SecBuffer(SecBufferType.TOKEN, 16), SecBuffer(SecBufferType.DATA, payload)]
            )
            sspi.EncryptMessage(hs.client, 0, desc, 0)
            sspi.DecryptMessage(hs.server, desc, 0)
            assert desc[1].buffer == payload
            key = sspi.QueryContextAttributes(hs.client, SecPkgAttr.SESSION_KEY).session_key
            with lock:
                keys.append(key)

    run_threads(work, 8)
    assert len(keys) == 8 * rounds
    assert len(set(keys)) == len(keys)  # every context has its own session key
