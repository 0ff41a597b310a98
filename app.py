"""The application factory: ``flask --app app …`` and ``gunicorn 'app:create_app()'``."""

import os

from flask import Flask

from analytics.routing import RoutedRequestContext


class Viewtally(Flask):
    """Flask, keeping two answers that never change instead of working them out on every request.

    Whether a view or hook is a coroutine: Flask asks `ensure_sync` of the
    view and every hook on every request, a few microseconds a request. And
    how a path routes: see analytics/routing.py.
    """

    SYNC_FUNCTIONS_HELD = 256  # a function made per request (after_this_request) must not grow it for ever

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync_functions: dict = {}
        self.routed: dict = {}  # analytics/routing.py: the routes of paths already matched

    def request_context(self, environ):
        """Flask's request context, but one that remembers how each path was routed (analytics/routing.py)."""
        return RoutedRequestContext(self, environ)

    def ensure_sync(self, func):
        try:
            return self._sync_functions[func]
        except KeyError:
            if len(self._sync_functions) >= self.SYNC_FUNCTIONS_HELD:
                self._sync_functions.clear()
            sync = self._sync_functions[func] = super().ensure_sync(func)
            return sync
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)


def create_app(test_config: dict | None = None) -> Flask:
    """Build a Viewtally app; `test_config` replaces instance and environment config."""
    from analytics import cli, config, database, extensions, instance_secrets, logs, metrics, scheduler
    from analytics.web import admin, api, dashboard, errors, headers, health, request_guards, session, snippet
    from analytics.clock import Clock
    from analytics.services import screening, stats_cache

    app = Viewtally(__name__, instance_relative_config=True, instance_path=config.instance_path())
    config.load(app, test_config)
    # The database and the generated secrets live here: for this user's eyes only.
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
    logs.init_app(app)
    instance_secrets.init_app(app)
    app.extensions["viewtally.clock"] = Clock(app.config["TIMEZONE"])
    screening.init_app(app)

    database.init_app(app)
    extensions.init_app(app)
    stats_cache.init_app(app)
    request_guards.init_app(app)
    errors.init_app(app)
    scheduler.init_app(app)
    cli.init_app(app)
    session.init_app(app)
    headers.init_app(app)

    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(snippet.bp)
    metrics.init_app(app)  # its table has a row per route
    return app
