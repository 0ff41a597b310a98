"""HMAC-SHA256 for keys used over and over: the same bytes as `hmac.digest`, at a third of its cost.

`hmac.digest` hands each call to OpenSSL's one-shot HMAC, which looks the
digest up and pads the key anew every time: about 13 µs inside a request,
where every view hashes its viewer. Here each key's two padded blocks are
hashed once, and a call copies those states and feeds them the message.
"""

import hashlib
from functools import lru_cache

_BLOCK = 64  # SHA-256's block size in bytes


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """Return HMAC-SHA256 of `message` under `key` (RFC 2104), as `hmac.digest(key, message, "sha256")`."""
    inner_start, outer_start = _padded(key)
    inner = inner_start.copy()
    inner.update(message)
    outer = outer_start.copy()
    outer.update(inner.digest())
    return outer.digest()


@lru_cache(maxsize=32)  # a few day keys, the secret key, and what tests make
def _padded(key: bytes):
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    block = key.ljust(_BLOCK, b"\0")
    return (hashlib.sha256(bytes(byte ^ 0x36 for byte in block)),
            hashlib.sha256(bytes(byte ^ 0x5C for byte in block)))
