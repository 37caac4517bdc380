"""The Auth0 Flask quickstart, as people copy it, pointed at the stand-ins' Auth0 tenant.

    gunicorn 'bench.peers.quickstart:app'

The shape is the published sample's (auth0-samples/auth0-python-web-app,
01-Login/server.py): authlib's ``OAuth(app)`` registry, ``oauth.register("auth0",
..., server_metadata_url=...)``, ``/login`` redirecting to authorize, ``/callback``
keeping the whole token response with ``session["user"] = token``, ``/``
rendering ``home.html`` with ``session.get("user")`` pretty-printed by
``json.dumps(..., indent=4)``, and ``/logout`` through Auth0's ``/v2/logout``.
Only what the sample reads from its ``.env`` comes from ``QUICKSTART_*``
variables here (bench/stack.py sets them), so the stand-ins stand in for
``https://{AUTH0_DOMAIN}``.

One module serves both peers: ``QUICKSTART_SESSIONS=redis`` turns on
flask-session with Redis (``SESSION_TYPE = "redis"``, the change its docs show),
anything else keeps Flask's signed cookie sessions, as the sample ships. With one
module, the two differ in where the session lives and in nothing else.
"""

import json
from os import environ as env
from urllib.parse import quote_plus, urlencode

from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, render_template, session, url_for

app = Flask(__name__)
app.secret_key = env["QUICKSTART_SECRET_KEY"]

if env.get("QUICKSTART_SESSIONS") == "redis":
    import redis
    from flask_session import Session

    app.config["SESSION_TYPE"] = "redis"
    app.config["SESSION_REDIS"] = redis.from_url(env["QUICKSTART_REDIS_URL"])
    Session(app)

oauth = OAuth(app)

oauth.register(
    "auth0",
    client_id=env["QUICKSTART_CLIENT_ID"],
    client_secret=env["QUICKSTART_CLIENT_SECRET"],
    client_kwargs={
        "scope": "openid profile email",
    },
    server_metadata_url=f"{env['QUICKSTART_AUTH0_URL']}/.well-known/openid-configuration",
)


@app.route("/login")
def login():
    return oauth.auth0.authorize_redirect(redirect_uri=url_for("callback", _external=True))


@app.route("/callback", methods=["GET", "POST"])
def callback():
    token = oauth.auth0.authorize_access_token()
    session["user"] = token
    return redirect("/")


@app.route("/logout")
def logout():
    session.clear()
    return redirect(
        env["QUICKSTART_AUTH0_URL"]
        + "/v2/logout?"
        + urlencode(
            {"returnTo": url_for("home", _external=True),
             "client_id": env["QUICKSTART_CLIENT_ID"]},
            quote_via=quote_plus,
        )
    )


@app.route("/")
def home():
    return render_template("home.html", session=session.get("user"),
                           pretty=json.dumps(session.get("user"), indent=4))
