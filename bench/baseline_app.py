"""The baseline: a bare Flask app answering small JSON, served exactly like Viewtally."""

from flask import Flask, jsonify


def create_app() -> Flask:
    app = Flask(__name__)

    @app.route("/hello", methods=["GET", "POST"])
    def hello():
        return jsonify(success=True, data={"message": "hello"})

    return app
