"""gunicorn settings for Federation Lab in production.

    gunicorn -c deploy/gunicorn.conf.py "webapp:create_production_app()"

(``fedlab serve`` runs exactly that, after checking the configuration once.)
The factory is ``create_production_app``, not ``create_app``: each worker then
refuses what only a lab may do (webapp/production.py), as serve does. The app
reads its own configuration (``FEDLAB_CONFIG``, ``FEDLAB_*``); this file is
only about serving it.
"""

import multiprocessing
import os

#: Where to listen; behind a proxy, the proxy's upstream address.
bind = os.environ.get("FEDLAB_BIND", "0.0.0.0:8000")

# Each worker is a process; sessions live in the store (Redis in production),
# so any worker, on any instance, can serve any request.
MAX_WORKERS = 12
workers = int(os.environ.get("FEDLAB_WORKERS", min(2 * multiprocessing.cpu_count() + 1,
                                                   MAX_WORKERS)))
# Threads per worker: a request waits on a provider or AWS (network), not on CPU.
worker_class = "gthread"
threads = int(os.environ.get("FEDLAB_THREADS", 4))

# A request may wait for a provider (http_timeout, 5 s) and for AWS (no try
# starts two aws.timeout, 10 s, after its first: webapp.aws.REQUEST_WAIT_TIMEOUTS)
# in turn; 30 s leaves room and still kills a stuck worker.
timeout = 30
# On SIGTERM, in-flight requests (a sign-in's token exchange) get this long.
graceful_timeout = 20
# Seconds an idle keep-alive connection stays open. Behind a load balancer that
# reuses upstream connections, set it above the balancer's idle timeout (an ALB's
# is 60 s: FEDLAB_KEEPALIVE=65), or the balancer may send on a closing socket.
keepalive = int(os.environ.get("FEDLAB_KEEPALIVE", 5))

# Recycle workers now and then (jitter so they do not all restart at once).
max_requests = 2000
max_requests_jitter = 200

# Requests are small: forms and short JSON, no file ever passes through the app
# (uploads go from the browser straight to S3). The app refuses a body over
# 32 KiB with 413 before reading it, and one without Content-Length (chunked)
# with 411 (webapp/guards.py); gunicorn bounds the rest.
# The request line holds at most a callback's code, state and iss.
limit_request_line = 4094
# A browser sends about 15 headers, a proxy or CDN adds a few more.
limit_request_fields = 50
# One header's size: the Cookie header carries the site's short session cookie
# and whatever else the domain sets.
limit_request_field_size = 8190

# X-Forwarded-* are the app's business: its ProxyFix trusts exactly
# trusted_proxies hops (FEDLAB_TRUSTED_PROXIES). gunicorn must not interpret
# them as well (by default it believes X-Forwarded-Proto from loopback), so it
# trusts no peer and maps no scheme header; the headers still reach the app.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}

# Logs to stderr, for the container runtime or journald.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("FEDLAB_GUNICORN_LOG_LEVEL", "info")
# %(U)s is the path WITHOUT the query string: the callback's query carries the
# authorization code and state, and no URL with a code or token may be logged.
# No Referer either (it may hold a full same-origin URL), no cookies.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

# gunicorn 24+ opens a control socket under $HOME by default; two instances on
# one host would share it, and nothing here uses it. (Older versions ignore it.)
control_socket_disable = True
