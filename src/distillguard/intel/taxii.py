"""A read-only TAXII 2.1 server (Starlette) with one collection of our exported STIX objects.

Endpoints (TAXII 2.1 §4–5): discovery `/taxii2/`, API root `/{root}/`, `collections/`, one collection,
its `objects/` (filters `added_after`, `limit`, `next`, `match[id|type|version|spec_version]`, envelope
with `more`/`next` and the `X-TAXII-Date-Added-*` headers), one object, its `versions/`, and `manifest/`.
Every request needs HTTP Basic credentials or a bearer token; writes are refused with 403. An address
that failed to authenticate `auth_failures` times within `auth_failure_window_s` gets 429 until the window
has passed, whatever it sends.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import stix2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InputError
from ..schema import FieldError, parse_ts
from . import vocab

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"


@dataclass(frozen=True)
class TaxiiConfig:
    """Who may read, and how the server names itself.

    >>> TaxiiConfig(users={"partner": "s3cret"}).api_root
    'api1'
    """

    users: dict[str, str] = field(default_factory=dict)
    tokens: frozenset[str] = frozenset()
    title: str = "DistillGuard TAXII 2.1"
    api_root: str = "api1"
    collection_title: str = "DistillGuard distillation campaigns"
    provider: str = "DistillGuard operator"
    page_size: int = 100
    auth_failures: int = 20  # per client address and window before 429 (0: no limit)
    auth_failure_window_s: float = 60.0

    @property
    def collection_id(self) -> str:
        """The collection's stable id (uuid5 of the provider)."""
        return vocab.stix_id("x", self.provider, "taxii-collection").split("--", 1)[1]


@dataclass(frozen=True)
class StoredObject:
    """One STIX object version in the collection, with the time it was added."""

    obj: dict[str, Any]
    date_added: datetime

    @property
    def version(self) -> str:
        """The object's version: its `modified` (or `created`) time, or date_added for SCOs."""
        return str(self.obj.get("modified") or self.obj.get("created") or _ts(self.date_added))


def load_objects(paths: Sequence[str | Path], loaded_at: datetime) -> list[StoredObject]:
    """Objects of STIX bundle files, validated with stix2; date_added is `modified` (`loaded_at` for SCOs)."""
    seen: dict[tuple[str, str], StoredObject] = {}
    for p in paths:
        try:
            bundle = stix2.parse(Path(p).read_text(encoding="utf-8"), allow_custom=True)
        except (OSError, ValueError, stix2.exceptions.STIXError) as e:
            raise InputError(f"{p}: not a readable STIX 2.1 bundle ({e}); export one with `intel export`") from e
        for o in getattr(bundle, "objects", None) or [bundle]:
            d = json.loads(o.serialize()) if hasattr(o, "serialize") else dict(o)
            stamp = d.get("modified") or d.get("created")
            added = parse_ts(stamp) if stamp else loaded_at
            so = StoredObject(d, added)
            seen[(d["id"], so.version)] = so
    return sorted(seen.values(), key=lambda s: (s.date_added, s.obj["id"], s.version))


def create_app(objects: Sequence[StoredObject], config: TaxiiConfig) -> ASGIApp:
    """The TAXII 2.1 ASGI app serving `objects`, behind authentication."""
    api = TaxiiApi(list(objects), config)
    root = f"/{config.api_root}"
    coll = f"{root}/collections/{{cid}}"
    routes = [
        Route("/taxii2/", api.discovery),
        Route(f"{root}/", api.api_root),
        Route(f"{root}/collections/", api.collections),
        Route(f"{coll}/", api.collection),
        Route(f"{coll}/objects/", api.get_objects, methods=["GET", "POST", "DELETE"]),
        Route(f"{coll}/objects/{{oid}}/", api.get_object, methods=["GET", "DELETE"]),
        Route(f"{coll}/objects/{{oid}}/versions/", api.versions),
        Route(f"{coll}/manifest/", api.manifest),
    ]
    return Authenticate(Starlette(routes=routes), config)


class Authenticate:
    """ASGI middleware: HTTP Basic (users) or bearer token (tokens); anything else gets a TAXII 401."""

    def __init__(self, app: ASGIApp, config: TaxiiConfig) -> None:
        from ..gateway.authguard import AuthFailures

        self.app = app
        self.config = config
        self.failures = AuthFailures(config.auth_failures, config.auth_failure_window_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope["client"][0] if scope.get("client") else "?"
            wait = self.failures.retry_after(client)
            if wait:
                response = _error(429, "Too Many Requests", "too many failed authentications from this address")
                response.headers["Retry-After"] = str(round(wait))
                await response(scope, receive, send)
                return
            if not self._allowed(Request(scope).headers.get("authorization", "")):
                self.failures.failed(client)
                response = _error(401, "Unauthorized", "give HTTP Basic credentials or a bearer token")
                response.headers["WWW-Authenticate"] = 'Basic realm="DistillGuard TAXII"'
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _allowed(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return any(hmac.compare_digest(value.strip(), t) for t in self.config.tokens)
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except ValueError:
                return False
            expected = self.config.users.get(user)
            return expected is not None and hmac.compare_digest(password, expected)
        return False


class TaxiiApi:
    """Request handlers over an immutable list of object versions."""

    def __init__(self, objects: list[StoredObject], config: TaxiiConfig) -> None:
        self.objects = objects
        self.c = config

    async def discovery(self, request: Request) -> Response:
        """Server discovery: the one API root."""
        base = str(request.base_url).rstrip("/")
        root = f"{base}/{self.c.api_root}/"
        return _ok(request, {"title": self.c.title, "description": "Read-only sharing of detected LLM "
                             "distillation campaigns.", "default": root, "api_roots": [root]})

    async def api_root(self, request: Request) -> Response:
        """API root information."""
        return _ok(request, {"title": self.c.title, "versions": [TAXII], "max_content_length": 10_485_760})

    async def collections(self, request: Request) -> Response:
        """The collections list (one collection)."""
        return _ok(request, {"collections": [self._collection()]})

    async def collection(self, request: Request) -> Response:
        """One collection's information."""
        return self._check(request) or _ok(request, self._collection())

    async def get_objects(self, request: Request) -> Response:
        """Objects of the collection (an envelope), filtered and paginated."""
        if request.method != "GET":
            return _error(403, "Forbidden", "this collection is read-only (can_write is false)")
        bad = self._check(request)
        if bad:
            return bad
        return self._page(request, self._select(request), lambda s: s.obj, "objects")

    async def get_object(self, request: Request) -> Response:
        """One object (all versions that match `match[version]`), as an envelope."""
        if request.method != "GET":
            return _error(403, "Forbidden", "this collection is read-only (can_write is false)")
        bad = self._check(request)
        if bad:
            return bad
        found = self._select(request, request.path_params["oid"])
        if not found:
            return _error(404, "Not found", f"no object {request.path_params['oid']} in this collection")
        return self._page(request, found, lambda s: s.obj, "objects")

    async def versions(self, request: Request) -> Response:
        """The versions of one object."""
        bad = self._check(request)
        if bad:
            return bad
        found = [s for s in self.objects if s.obj["id"] == request.path_params["oid"]]
        if not found:
            return _error(404, "Not found", f"no object {request.path_params['oid']} in this collection")
        return self._page(request, found, lambda s: s.version, "versions")

    async def manifest(self, request: Request) -> Response:
        """Manifest records of the selected objects."""
        bad = self._check(request)
        if bad:
            return bad
        return self._page(request, self._select(request), lambda s: {
            "id": s.obj["id"], "date_added": _ts(s.date_added), "version": s.version, "media_type": STIX},
            "objects")

    def _collection(self) -> dict[str, Any]:
        return {"id": self.c.collection_id, "title": self.c.collection_title, "can_read": True,
                "can_write": False, "media_types": [STIX]}

    def _check(self, request: Request) -> Response | None:
        if request.path_params.get("cid") != self.c.collection_id:
            return _error(404, "Not found", "no such collection; list them at collections/")
        return None

    def _select(self, request: Request, oid: str | None = None) -> list[StoredObject]:
        q = request.query_params
        out = self.objects
        if oid is not None:
            out = [s for s in out if s.obj["id"] == oid]
        if q.get("added_after"):
            try:
                after = parse_ts(q["added_after"], "added_after")
            except FieldError:
                after = None  # an unreadable filter is ignored rather than failing the whole request
            out = [s for s in out if after is None or s.date_added > after]
        for key, get in (("match[id]", lambda s: s.obj["id"]), ("match[type]", lambda s: s.obj["type"]),
                         ("match[spec_version]", lambda s: s.obj.get("spec_version", "2.1"))):
            if q.get(key):
                wanted = set(q[key].split(","))
                out = [s for s in out if get(s) in wanted]
        return _versions(out, q.get("match[version]", "last"))

    def _page(self, request: Request, items: list[StoredObject], render: Any, key: str) -> Response:
        q = request.query_params
        try:
            start = int(q.get("next", "0"))
            limit = min(int(q.get("limit", self.c.page_size)), self.c.page_size)
        except ValueError:
            return _error(400, "Bad request", "limit and next must be integers")
        page = items[start : start + max(limit, 1)]
        more = start + len(page) < len(items)
        body: dict[str, Any] = {"more": more}
        if more:
            body["next"] = str(start + len(page))
        if page:
            body[key] = [render(s) for s in page]
        headers = {"X-TAXII-Date-Added-First": _ts(page[0].date_added),
                   "X-TAXII-Date-Added-Last": _ts(page[-1].date_added)} if page else {}
        return _ok(request, body, headers)


def _versions(items: list[StoredObject], spec: str) -> list[StoredObject]:
    if spec == "all":
        return items
    by_id: dict[str, list[StoredObject]] = {}
    for s in items:
        by_id.setdefault(s.obj["id"], []).append(s)
    wanted = set(spec.split(","))
    keep: set[int] = set()
    for versions in by_id.values():
        ordered = sorted(versions, key=lambda s: s.version)
        if "last" in wanted:
            keep.add(id(ordered[-1]))
        if "first" in wanted:
            keep.add(id(ordered[0]))
        keep.update(id(s) for s in ordered if s.version in wanted)
    return [s for s in items if id(s) in keep]


def _ok(request: Request, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    accept = request.headers.get("accept", "*/*")
    if not any(a in accept for a in ("application/taxii+json", "*/*", "application/*")):
        return _error(406, "Not acceptable", f"ask for {TAXII}")
    return Response(json.dumps(body), media_type=TAXII, headers=headers)


def _error(status: int, title: str, description: str) -> Response:
    return Response(json.dumps({"title": title, "description": description, "http_status": str(status)}),
                    status_code=status, media_type=TAXII)


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
