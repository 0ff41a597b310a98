"""Routing that remembers: a path routed once is not routed again.

Werkzeug routes a path with a variable part (a video id) through a regular
expression, a sort and a call per path segment: a tenth of a cached stats
answer's instructions. A video site asks the same paths again and again
(its popular videos' views and counts), and the rules never change once
the app serves, so the outcome of each (path, method) is kept, for at most
ROUTES_HELD short paths (then all are dropped and kept anew). Only a match
is kept: a path werkzeug cannot route (404, 405) or redirects is routed
afresh each time, as before.

The key holds everything werkzeug's match reads from a request: the domain
part it matches against, the path, the method and whether it is a websocket.
"""

from flask.ctx import RequestContext

ROUTES_HELD = 4096
# Longer paths are routed each time: held paths cost memory, and no route of ours is this long with a valid id.
PATH_HELD_MAX = 160


class RoutedRequestContext(RequestContext):
    """Flask's request context, matching the request's path against `app.routed` before the URL map."""

    def match_request(self) -> None:
        adapter = self.url_adapter
        path = adapter.path_info
        if len(path) > PATH_HELD_MAX:
            super().match_request()
            return
        domain = adapter.server_name if adapter.map.host_matching or adapter.subdomain is None else adapter.subdomain
        key = (domain, path, adapter.default_method, adapter.websocket)
        routed = self.app.routed
        found = routed.get(key)
        request = self.request
        if found is None:
            super().match_request()
            if request.routing_exception is not None:
                return
            if len(routed) >= ROUTES_HELD:
                routed.clear()
            routed[key] = (request.url_rule, request.view_args)
            request.view_args = dict(request.view_args)  # the held copy stays as matched
        else:
            request.url_rule, view_args = found
            request.view_args = dict(view_args)  # a url_value_preprocessor may pop from it
