"""Extension instances, unbound; ``create_app`` binds them with ``init_app``.

CSRFProtect keeps its per-app state on the app (``app.extensions``), so one
instance serves any number of apps. authlib's ``OAuth`` registry keeps clients
on itself, so :mod:`webapp.oauth` makes one per app instead of living here;
and the session interface is built per app by :mod:`webapp.sessions`, because
it seals records with that app's key (flask-session's ``Session`` would only
pick a backend from configuration).
"""

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
