"""The success envelope is built by hand for speed; it must be what Flask's own JSON would answer."""

from datetime import datetime, timezone

from analytics.web.api.responses import ok


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
