"""Everything that speaks HTTP: the blueprints (JSON API, dashboard, admin, health) and their helpers."""
