"""The keyed hash behind viewer hashes and rate-limit keys is HMAC-SHA256, byte for byte."""

import hashlib
import hmac

from hypothesis import given, strategies as st

from analytics.hashing import HmacSha256, hmac_sha256


@given(key=st.binary(max_size=200), message=st.binary(max_size=300))
def test_equals_the_standard_hmac(key, message):
    assert hmac_sha256(key, message) == hmac.digest(key, message, hashlib.sha256)
    assert HmacSha256(key).digest(message) == hmac.digest(key, message, hashlib.sha256)


def test_keys_of_every_length_around_the_block_size():
    # Keys longer than SHA-256's 64-byte block are hashed first; shorter ones are padded.
    for length in (0, 1, 31, 32, 63, 64, 65, 128):
        key = bytes(range(length))
        for message in (b"", b"s\0viewer", b"x" * 1000):
            assert hmac_sha256(key, message) == hmac.digest(key, message, hashlib.sha256)


def test_calls_do_not_disturb_each_other():
    # The key's prepared states are copied, never fed: one call leaves nothing for the next.
    first = hmac_sha256(b"day key", b"one")
    hmac_sha256(b"day key", b"another message")
    assert hmac_sha256(b"day key", b"one") == first


def test_a_days_key_is_held_by_the_day_alone(make_app):
    """Forgetting a day's key forgets its prepared hash too: no cache keeps a copy of it."""
    import gc
    import weakref
    from datetime import date

    from analytics.services import viewers
    from conftest import viewer

    app = make_app()
    day, next_day = date(2026, 3, 15), date(2026, 3, 16)
    with app.app_context():
        assert viewers.viewer_hash(viewer(), day) is not None
        held = weakref.ref(app.extensions[viewers._KEYS][day])
        viewers.viewer_hash(viewer(), next_day)
        viewers.forget_keys_except({next_day})
        gc.collect()
        assert held() is None
