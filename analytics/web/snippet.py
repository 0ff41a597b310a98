"""The player snippet as pages load it: static/track.js, minified once at start.

The file is written to be read; what other sites' pages fetch on every
load is the same code without its comments and blanks, under 2 KB.
"""

import hashlib
import io
import os

import rjsmin
from flask import Blueprint, current_app, send_file

bp = Blueprint("snippet", __name__)
_MINIFIED = "viewtally.snippet"  # in app.extensions: (the minified bytes, their ETag, the file's mtime)


@bp.record_once
def _minify(state) -> None:
    app = state.app
    path = os.path.join(app.static_folder, "track.js")
    with open(path, encoding="utf-8") as source:
        minified = rjsmin.jsmin(source.read()).encode()
    app.extensions[_MINIFIED] = (minified, hashlib.sha256(minified).hexdigest()[:32], os.path.getmtime(path))


@bp.get("/static/track.js")
def track_js():
    """Answer the minified snippet, cached and revalidated as a static file would be."""
    minified, etag, modified = current_app.extensions[_MINIFIED]
    return send_file(io.BytesIO(minified), mimetype="text/javascript", etag=etag, last_modified=modified,
                     max_age=current_app.get_send_file_max_age("track.js"))
