"""The success envelope is built by hand for speed; it must be what Flask's own JSON would answer."""

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings, strategies as st

from analytics.services.counts import Counts
from analytics.web.api.responses import counts_json, ok, ok_counts


def test_success_envelope_is_flasks_json_byte_for_byte(make_app):
    app = make_app()
    data = {"videoId": "intro", "b": [1, "é", None], "when": datetime(2026, 1, 1, tzinfo=timezone.utc), "a": 1.5}
    with app.test_request_context():
        ours, flasks = ok(data), app.json.response({"success": True, "data": data})
        assert ours.get_data() == flasks.get_data()
        assert ours.headers == flasks.headers
        assert ours.status_code == 200 and ok(data, 201).status_code == 201


def test_debug_mode_answers_indented_json_as_flask_does(make_app):
    app = make_app()
    app.debug = True
    with app.test_request_context():
        answer = ok({"videoId": "intro"}, 201)
        assert answer.status_code == 201
        assert answer.get_data() == app.json.response({"success": True, "data": {"videoId": "intro"}}).get_data()
        assert b"\n  " in answer.get_data()


COUNTS = st.builds(
    Counts,
    video_id=st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    views_today=st.integers(0, 2**63 - 1), views_month=st.integers(0, 2**63 - 1),
    views_total=st.integers(0, 2**63 - 1), uniques_today=st.integers(0, 2**63 - 1),
)
# The heads the view route sends, and one with characters JSON must escape.
HEADS = st.sampled_from([
    {},
    {"counted": True, "message": "View tracked successfully"},
    *({"counted": False, "message": f"View not counted ({reason})", "reason": reason}
      for reason in ("duplicate", "bot", "prefetch", "excluded")),
    {"message": 'quote " and é'},
])


@given(counts=COUNTS, head=HEADS)
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_counts_answer_is_the_success_envelope_byte_for_byte(app, counts, head):
    with app.test_request_context():
        ours, general = ok_counts(counts, **head), ok({**head, **counts_json(counts)})
        assert ours.get_data() == general.get_data()
        assert ours.headers == general.headers and ours.status_code == 200


def test_counts_answer_in_debug_mode_is_indented_as_flask_does(app):
    app.debug = True
    counts = Counts("intro", 1, 2, 3, 1)
    with app.test_request_context():
        answer = ok_counts(counts, counted=True)
        expected = app.json.response({"success": True, "data": {"counted": True, **counts_json(counts)}})
        assert answer.get_data() == expected.get_data()


def test_ids_and_heads_out_of_the_common_run_answer_as_the_envelope(app):
    counts = Counts('a"b\\é', 1, 2, 3, 1)
    with app.test_request_context():
        assert ok_counts(counts).get_data() == ok(counts_json(counts)).get_data()
        # True and 1 are one key to a cache but not one JSON value: each keeps its own.
        plain = Counts("intro", 1, 2, 3, 1)
        for counted in (True, 1, True):
            assert ok_counts(plain, counted=counted).get_data() == ok(
                {"counted": counted, **counts_json(plain)}).get_data()
