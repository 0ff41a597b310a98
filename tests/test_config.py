"""Configuration layers, checks, and the secrets generated into instance/."""

import logging
import multiprocessing
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from analytics import config
from analytics.config import ConfigError
from app import create_app

ROOT = Path(__file__).resolve().parent.parent


def bare_app(instance) -> Flask:
    instance.mkdir(exist_ok=True)
    return Flask("config_test", instance_path=str(instance), instance_relative_config=True)


def test_defaults_when_nothing_is_set(instance, monkeypatch):
    for key in list(os.environ):
        if key.startswith("FLASK_"):
            monkeypatch.delenv(key)
    app = bare_app(instance)
    config.load(app)
    assert app.config["STATS_CACHE_SECONDS"] == 30
    assert app.config["CACHE_TYPE"] == "SimpleCache"
    assert app.config["TIMEZONE"] == "UTC"
    assert app.config["SCHEDULER_ENABLED"] is True
    assert app.config["RATELIMIT_ENABLED"] is True
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert app.config["TRACK_RATE_LIMIT"] == "120 per minute"
    assert app.config["STATS_RATE_LIMIT"] == "600 per minute"
    assert app.config["MAX_CONTENT_LENGTH"] == 16 * 1024
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///analytics.db"


def test_instance_config_then_environment(instance, monkeypatch):
    app = bare_app(instance)
    (instance / "config.py").write_text('TIMEZONE = "Europe/Paris"\nSTATS_CACHE_SECONDS = 5\n')
    monkeypatch.setenv("FLASK_STATS_CACHE_SECONDS", "12")
    monkeypatch.setenv("FLASK_SCHEDULER_ENABLED", "false")
    monkeypatch.setenv("FLASK_ADMIN_TOKEN", "1234567890123456")
    monkeypatch.setenv("FLASK_TRACK_RATE_LIMIT", "10 per second")
    config.load(app)
    assert app.config["TIMEZONE"] == "Europe/Paris"
    assert app.config["STATS_CACHE_SECONDS"] == 12
    assert app.config["SCHEDULER_ENABLED"] is False
    assert app.config["ADMIN_TOKEN"] == "1234567890123456"
    assert app.config["TRACK_RATE_LIMIT"] == "10 per second"


def test_test_config_ignores_the_environment(instance, monkeypatch):
    monkeypatch.setenv("FLASK_TIMEZONE", "Asia/Tokyo")
    app = bare_app(instance)
    config.load(app, {"STATS_CACHE_SECONDS": "3"})
    assert app.config["TIMEZONE"] == "UTC"
    assert app.config["STATS_CACHE_SECONDS"] == 3


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("TIMEZONE", "Mars/Olympus", "IANA"),
        ("TIMEZONE", "", "IANA"),
        ("TRACK_RATE_LIMIT", "lots", "rate limit"),
        ("STATS_RATE_LIMIT", "5 per fortnight", "rate limit"),
        ("STATS_CACHE_SECONDS", "-1", "whole number"),
        ("STATS_CACHE_SECONDS", "ten", "whole number"),
        ("SCHEDULER_ENABLED", "maybe", "true or false"),
        ("SQLALCHEMY_DATABASE_URI", "mysql://x/y", "SQLite or PostgreSQL"),
        ("SQLALCHEMY_DATABASE_URI", "postgresql+psycopg2://u@h/db", "driver is psycopg"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("SQLITE_SYNCHRONOUS", "OFF", "NORMAL or FULL"),
    ],
)
def test_unusable_values_stop_start_up_with_a_clear_message(instance, key, value, words):
    with pytest.raises(ConfigError, match=words):
        config.load(bare_app(instance), {key: value})


def test_a_postgresql_url_without_a_driver_uses_psycopg_3(instance):
    """psycopg 3 waits cooperatively under the gevent worker; SQLAlchemy's default driver would not."""
    app = bare_app(instance)
    config.load(app, {"SQLALCHEMY_DATABASE_URI": "postgresql://viewtally@db.internal:5432/stats"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://viewtally@db.internal:5432/stats"


@pytest.mark.parametrize("key, value, message", [
    ("CACHE_TYPE", "Nope", "Error: CACHE_TYPE 'Nope' names no cache backend"),
    ("STATS_CACHE_SECONDS", "-5", "Error: STATS_CACHE_SECONDS must be a whole number, 0 or more, not -5"),
])
def test_a_flask_command_with_a_bad_setting_says_so_in_one_line(instance, key, value, message):
    env = {**os.environ, f"FLASK_{key}": value}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "videos", "list"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(message)
    assert "Traceback" not in done.stderr


def test_a_new_instance_folder_is_private(instance):
    create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/a.db"})
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700


def test_secrets_are_generated_once_into_instance_with_mode_0600(instance, caplog):
    with caplog.at_level(logging.WARNING, logger="analytics.instance_secrets"):
        first = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/a.db"})
    token_file = instance / "admin_token"
    token = token_file.read_text().strip()
    assert len(token) >= 40
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600
    assert first.config["ADMIN_TOKEN"] == token
    assert first.config["SECRET_KEY"] == (instance / "secret_key").read_text().strip()
    logged = caplog.text
    assert str(token_file) in logged
    assert token not in logged and first.config["SECRET_KEY"] not in logged
    second = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/a.db"})
    assert (second.config["ADMIN_TOKEN"], second.config["SECRET_KEY"]) == (token, first.config["SECRET_KEY"])


def test_the_generated_token_opens_the_admin_endpoints(instance):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/a.db"})
    token = (instance / "admin_token").read_text().strip()
    client = app.test_client()
    assert client.post("/api/analytics/reset/daily").status_code == 401
    assert client.post("/api/analytics/reset/daily", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def _start_app(instance: str, queue) -> None:
    os.environ["VIEWTALLY_INSTANCE_PATH"] = instance
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/a.db"})
    queue.put((app.config["ADMIN_TOKEN"], app.config["SECRET_KEY"]))


def test_processes_starting_together_agree_on_one_token_and_one_schema(instance):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_start_app, args=(str(instance), queue)) for _ in range(6)]
    for process in processes:
        process.start()
    results = {queue.get(timeout=60) for _ in processes}
    for process in processes:
        process.join(30)
    assert [process.exitcode for process in processes] == [0] * 6
    assert results == {((instance / "admin_token").read_text().strip(), (instance / "secret_key").read_text().strip())}


@pytest.mark.parametrize("raw", ["null", "true", "1e3", "[1]", '"quoted"'])
def test_secrets_from_the_environment_are_taken_exactly_as_written(instance, monkeypatch, raw):
    # The same kind of JSON, long enough for an ADMIN_TOKEN.
    token = {"null": "[null,null,null,null]", "true": "[true,true,true,true]", "1e3": "1e3000000000000000",
             "[1]": "[1,1,1,1,1,1,1,1,1]", '"quoted"': '"quoted-and-long!"'}[raw]
    monkeypatch.setenv("FLASK_ADMIN_TOKEN", token)
    monkeypatch.setenv("FLASK_SECRET_KEY", raw)
    app = bare_app(instance)
    config.load(app)
    assert (app.config["ADMIN_TOKEN"], app.config["SECRET_KEY"]) == (token, raw)


@pytest.mark.parametrize("zone", ["posix/Europe/Paris", "right/UTC"])
def test_a_zone_the_scheduler_cannot_use_stops_start_up(instance, zone):
    # zoneinfo finds these files in the system's zone folder; pytz, which the scheduler uses, does not.
    with pytest.raises(ConfigError, match="IANA"):
        config.load(bare_app(instance), {"TIMEZONE": zone})


@pytest.mark.parametrize(
    "key, value",
    [("CACHE_TYPE", "Bogus"), ("RATELIMIT_STORAGE_URI", "bogus://x")],
)
def test_a_backend_that_cannot_be_built_is_a_config_error_naming_the_key(instance, key, value):
    with pytest.raises(ConfigError, match=key):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/a.db", key: value})


def test_the_readme_and_the_config_module_list_every_key_with_its_default():
    readme = (ROOT / "README.md").read_text()
    table = dict(re.findall(r"^\| `([A-Z_]+)` \| `?([^|`]*?)`? \|", readme, flags=re.MULTILINE))
    for key, default in config.DEFAULTS.items():
        assert key in table, f"{key} is missing from the README's table"
        assert key in config.__doc__, f"{key} is missing from the config module's table"
        if default is not None and not isinstance(default, bool):
            assert table[key] == str(default), f"{key}: README says {table[key]!r}, code {default!r}"
