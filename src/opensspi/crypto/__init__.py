"""Primitives the packages need and the standard library lacks: MD4 (RFC 1320) and an RC4 wrapper.

MD4 is pure Python because OpenSSL 3 disables it and ``cryptography`` has none; RC4 wraps
``cryptography``'s decrepit ARC4 so the stream state lives in OpenSSL.
"""
