"""S3 pages as AWS Amplify Storage lays them out: ``/storage/<level>``.

``public/`` for everyone, ``protected/{identityId}/`` readable by every
signed-in identity and writable by its owner, ``private/{identityId}/`` for
its owner only: keys use the Identity Pool's identity id, never a user pool
``sub``, because that is what ``${cognito-identity.amazonaws.com:sub}`` in the
role's policy means. S3 itself enforces the policy with the visitor's own
credentials; object bytes never pass through this app (presigned GET for
downloads, presigned POST straight from the browser for uploads).

Each listing offers only what the visitor's role may do there: Upload and Delete
are decided from that role's own statements (:func:`webapp.policies.allows`, the
documents S3 enforces), so bob on alice's protected files sees neither. S3 still
decides: a forged request is refused by S3 and explained. A level the visitor
cannot use yet (signed out; a guest on protected or private) shows the next step
in place, sign in or continue as guest, rather than S3's refusal as an error page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from . import aws, federation, guests, policies, roles, sessions, signals, visitor
from .config import settings
from .errors import FedlabError, Guide, sign_in_offer
from .records import AwsState
from .visitor import Need, Tab, Visitor

bp = Blueprint("storage", __name__, url_prefix="/storage")

PAGE_SIZE = 100
#: Presigned links are short-lived: they are bearer rights to the object.
DOWNLOAD_SECONDS = 60
UPLOAD_SECONDS = 300
IDENTITY_ID = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d:[0-9a-f-]{36}$")
#: The shape of an S3 continuation token (opaque, base64 or hex): anything else in
#: ``after=`` was not S3's, and is refused before S3 is asked.
PAGE_TOKEN = re.compile(r"^[A-Za-z0-9+/=_-]{1,1024}$")
FILENAME = re.compile(r"^[\w][\w .()+-]{0,199}$")
#: A MIME type as a browser names a file's (the refusal repeats only such a name).
MIME_TYPE = re.compile(r"^[\w.+-]{1,64}/[\w.+-]{1,64}$")
#: A file name that stands for every new file under a prefix when asking whether the
#: role may upload there: the statements name prefixes (``public/*``), never files.
ANY_NEW_FILE = "new-file"


@dataclass(frozen=True)
class StoredFile:
    key: str
    name: str
    size: int
    modified: int
    #: Whether the visitor's role may delete it (S3 decides; the page offers no more).
    deletable: bool


LABELS = {"public": "Public", "protected": "Protected", "private": "Private"}


def need(level: str) -> Need:
    """Guests get the unauthenticated role, which reads ``public/`` only."""
    return Need.AWS_IDENTITY if level == "public" else Need.SIGN_IN


def tabs(level: str, who: Visitor) -> list[Tab]:
    """Every level, the current one marked, each this visitor cannot use yet saying
    what would open it, in the header's words."""
    return [Tab(LABELS[lvl], url_for("storage.listing", level=lvl), current=lvl == level,
                locked=who.lock(need(lvl)))
            for lvl in policies.LEVELS]


def title(level: str, who: Visitor, others: bool = False) -> str:
    """A short heading: whose files, at which level (the prefix is shown below it)."""
    if level == "public":
        return "Public files"
    if others:
        return "Another identity's protected files"
    return f"Your {level} files" if who.signed_in else f"{LABELS[level]} files"


def next_step(level: str, who: Visitor) -> tuple[str, int]:
    """A level this visitor cannot use yet, asking AWS nothing: the tabs, what the
    level is, and the way on (the public files' "Continue as guest" comes back to
    them); the status as :attr:`webapp.errors.Guide.status` says."""
    here = url_for("storage.listing", level=level)
    if level == "public":
        guide = Guide(heading="Browse the public files as a guest, or sign in",
                      lead="Continue as a guest to read them, or sign in with one of the "
                           "providers: you come back here.",
                      next_path=here, offer_guest=True,
                      guest_action=url_for("storage.guest"), sign_in_needed=False)
    else:
        guide = Guide(heading=f"Sign in to use your {level} files",
                      lead="Sign in with one of the providers: you come back here.",
                      next_path=here,
                      guest_identity=guests.guest_identity_id())
    return sign_in_offer(guide, "storage/next_step.html", level=level, visitor=who,
                         title=title(level, who), tabs=tabs(level, who))


def prefix_for(level: str, state: AwsState, owner: str | None = None) -> str:
    """The key prefix of a level: Amplify's layout, with the identity id."""
    if level == "public":
        return "public/"
    if level == "protected" and owner:
        if not IDENTITY_ID.fullmatch(owner):
            raise FedlabError("bad_request")
        return f"protected/{owner}/"
    if level in ("protected", "private"):
        return f"{level}/{state.identity_id}/"
    abort(404)


def level_context(level: str) -> tuple[AwsState, str, Any]:
    federation.require_enabled()
    if level not in policies.LEVELS:
        abort(404)
    state = federation.ensure_fresh_credentials()
    owner = request.values.get("owner") or None
    return state, prefix_for(level, state, owner), aws.client("s3", state.credentials)


def denied(error: FedlabError, level: str, resource: str,
           state: AwsState) -> FedlabError:
    """Add the statement that would have allowed it (the site's signed-in role's, for
    that level), so the page can teach it, and the provider the credentials came
    from (a guest's have none)."""
    if state.provider:
        error.details.setdefault("provider", state.provider)
    if error.code == "s3_access_denied":
        bucket = settings().aws.bucket
        error.details.update(resource=resource,
                             needed=policies.statements_for_level(
                                 bucket, level, role_name=policies.AUTHENTICATED_ROLE_NAME))
    return error


@bp.get("")
def index() -> Response:
    return redirect(url_for("storage.listing", level="public"))


@bp.get("/<level>")
def listing(level: str) -> str | tuple[str, int]:
    federation.require_enabled()
    if level not in policies.LEVELS:
        abort(404)
    who = visitor.current()
    if not who.can_use(need(level)):
        # No credentials can list this: say what would, in place.
        return next_step(level, who)
    state, prefix, s3 = level_context(level)
    bucket = settings().aws.bucket
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE_SIZE}
    # Where a page token that is not S3's (ours to see, or S3's to say) sends the visitor.
    first_page = url_for("storage.listing", level=level)
    after = request.args.get("after")
    if after:
        if not PAGE_TOKEN.fullmatch(after):
            raise FedlabError("bad_page_token", listing=first_page)
        params["ContinuationToken"] = after
    try:
        with aws.errors_explained("ListObjectsV2"):
            page = s3.list_objects_v2(**params)
    except FedlabError as e:
        if e.code == "bad_page_token":  # S3: "The continuation token provided is incorrect"
            e.details["listing"] = first_page
        raise denied(e, level, f"s3://{bucket}/{prefix}", state) from None
    role_name = roles.role_name(state.role_arn)
    granted = policies.role_statements(bucket, role_name, guest=state.guest)

    def may(action: str, key: str) -> bool:
        return policies.allows(granted, action, policies.object_arn(bucket, key),
                               state.identity_id)

    objects = [StoredFile(key=o["Key"], name=o["Key"][len(prefix):], size=o["Size"],
                          modified=int(o["LastModified"].timestamp()),
                          deletable=may("s3:DeleteObject", o["Key"]))
               for o in page.get("Contents", [])]
    owner = request.args.get("owner") or None
    others = level == "protected" and owner is not None and owner != state.identity_id
    return render_template(
        "storage/listing.html", level=level, prefix=prefix, objects=objects, state=state,
        next_token=page.get("NextContinuationToken"), owner=owner, others=others,
        title=title(level, who, others), tabs=tabs(level, who),
        may_upload=may("s3:PutObject", prefix + ANY_NEW_FILE),
        statements=policies.statements_for_level(bucket, level, guest=state.guest,
                                                 role_name=role_name),
        role_name=role_name, known_role=policies.knows_role(role_name),
    )


@bp.post("/guest")
def guest() -> Response:
    """"Continue as guest" from the public tab: the same guest identity the
    credentials page gives, and back to the public files it was asked from."""
    federation.require_enabled()
    if sessions.current_auth() is None:
        g.setdefault("aws_calls", [])  # federation records the calls it makes here
        federation.guest_credentials()
    return redirect(url_for("storage.listing", level="public"))


def object_key(level: str, state: dict[str, Any], prefix: str) -> str:
    key = request.values.get("key", "")
    if not key.startswith(prefix) or not FILENAME.fullmatch(key[len(prefix):]):
        raise FedlabError("bad_request")
    return key


@bp.get("/<level>/download")
def download(level: str) -> Response:
    state, prefix, s3 = level_context(level)
    key = object_key(level, state, prefix)
    # Signed locally with the visitor's credentials: no AWS call, no bytes here.
    url = s3.generate_presigned_url("get_object", ExpiresIn=DOWNLOAD_SECONDS, Params={
        "Bucket": settings().aws.bucket, "Key": key,
        "ResponseContentDisposition": f'attachment; filename="{key.rsplit("/", 1)[-1]}"'})
    return redirect(url)


@bp.post("/<level>/upload")
def upload(level: str) -> Response:
    """A presigned POST for one file: S3 checks its size and type, not this app."""
    state, prefix, s3 = level_context(level)
    upload_settings = settings().aws
    body = request.get_json(silent=True)
    if not isinstance(body, dict):  # JSON, but a list, a string, true...
        body = {}
    name, content_type = str(body.get("name", "")), str(body.get("type", ""))
    if not FILENAME.fullmatch(name):
        return jsonify(error="Use a file name of letters, digits, spaces and . ( ) + - _"), 400
    if content_type not in upload_settings.upload_content_types:
        allowed = ", ".join(upload_settings.upload_content_types)
        named = content_type if MIME_TYPE.fullmatch(content_type) else "unknown"
        return jsonify(error=f"Files of type {named} are not accepted; "
                             f"allowed: {allowed}"), 400
    key = prefix + name
    post = s3.generate_presigned_post(
        Bucket=upload_settings.bucket, Key=key, ExpiresIn=UPLOAD_SECONDS,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type},
                    ["content-length-range", 1, upload_settings.max_upload_bytes]],
    )
    signals.storage_changed.send(current_app._get_current_object(), action="upload-url",
                                 level=level, identity_id=state.identity_id)
    return jsonify(url=post["url"], fields=post["fields"], key=key,
                   max_bytes=upload_settings.max_upload_bytes)


@bp.post("/<level>/delete")
def delete(level: str) -> Response:
    state, prefix, s3 = level_context(level)
    key = object_key(level, state, prefix)
    bucket = settings().aws.bucket
    try:
        with aws.errors_explained("DeleteObject"):
            s3.delete_object(Bucket=bucket, Key=key)
    except FedlabError as e:
        raise denied(e, level, f"s3://{bucket}/{key}", state) from None
    signals.storage_changed.send(current_app._get_current_object(), action="delete",
                                 level=level, identity_id=state.identity_id)
    flash(f"Deleted {key.rsplit('/', 1)[-1]}.")
    # Back to the listing the form was on; owner only where it means something
    # (protected, checked by prefix_for), and quoted: never raw into Location.
    owner = request.values.get("owner") if level == "protected" else None
    return redirect(url_for("storage.listing", level=level, owner=owner or None))
