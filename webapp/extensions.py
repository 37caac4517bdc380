"""Extension instances, unbound; ``create_app`` binds them with ``init_app``.

Both keep their per-app state on the app (``app.session_interface``,
``app.extensions``), so one instance serves any number of apps. authlib's
``OAuth`` registry is the exception: it keeps clients on itself, so
:mod:`webapp.oauth` makes one per app instead of living here.
"""

from flask_session import Session
from flask_wtf.csrf import CSRFProtect

server_session = Session()
csrf = CSRFProtect()
