"""The bare route: a Flask app with one route and nothing else.

    gunicorn 'bench.peers.bare:app'

What a request costs under the same gunicorn settings when the app does nothing
(no session, no hooks, no template): the floor bench/run.py divides by.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
