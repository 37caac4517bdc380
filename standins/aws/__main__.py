"""Serve the AWS stand-in on its own: ``python -m standins.aws --settings FILE.json``
(moto on 9102, then the bootstrap, Cognito Identity on 9100, the S3 front on 9101,
the STS front on 9103)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from werkzeug.serving import make_server

from ..requestlog import RequestHandler
from . import bootstrap, create_identity_app, create_s3_app, create_sts_app, start_moto
from .settings import SettingsError, parse_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m standins.aws",
                                     description="Local Cognito Identity and S3 over moto.")
    parser.add_argument("--settings", required=True, type=Path,
                        help="JSON file with the pool, bucket and providers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--identity-port", type=int, default=9100)
    parser.add_argument("--s3-port", type=int, default=9101)
    parser.add_argument("--moto-port", type=int, default=9102)
    parser.add_argument("--sts-port", type=int, default=9103)
    parser.add_argument("--site-env", type=Path,
                        help="write the site's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                        "here (mode 0600), for the app's environment")
    options = parser.parse_args(argv)
    try:
        settings = parse_settings(json.loads(options.settings.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, SettingsError) as problem:
        print(f"aws stand-in: {options.settings}: {problem}", file=sys.stderr)
        return 2
    moto, moto_url = start_moto(options.host, options.moto_port)
    site_key = bootstrap(settings, moto_url)
    if options.site_env:
        options.site_env.touch(mode=0o600)
        options.site_env.chmod(0o600)  # an existing file too, before the secret goes in
        options.site_env.write_text(f"AWS_ACCESS_KEY_ID={site_key.access_key_id}\n"
                                    f"AWS_SECRET_ACCESS_KEY={site_key.secret_access_key}\n",
                                    encoding="utf-8")
    identity = create_identity_app(settings, moto_url, [site_key])
    servers = [make_server(options.host, port, app, threaded=True,
                           request_handler=RequestHandler) for port, app in (
        (options.identity_port, identity),
        (options.s3_port, create_s3_app(settings, moto_url, identity)),
        (options.sts_port, create_sts_app(settings, moto_url, identity)))]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"AWS stand-in: Cognito Identity http://{options.host}:{options.identity_port}, "
          f"S3 http://{options.host}:{options.s3_port}, "
          f"STS http://{options.host}:{options.sts_port}, moto {moto_url}; the site's IAM "
          f"user {site_key.user_name} has access key {site_key.access_key_id}"
          + (f" (secret in {options.site_env})" if options.site_env else ""), flush=True)
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers[1:]:
            server.shutdown()
        moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
