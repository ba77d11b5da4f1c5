"""The TAXII 2.1 endpoint: a real uvicorn server on loopback, read with taxii2-client and httpx."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import requests
import uvicorn
from click.testing import CliRunner
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from distillguard.cli import main
from distillguard.intel.taxii import TAXII, TaxiiConfig, create_app, load_objects
from waiting import eventually

GOLDEN = Path(__file__).parent / "golden" / "intel_bundle.json"
LOADED = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)
CONFIG = TaxiiConfig(users={"partner": "correct horse"}, tokens=frozenset({"tok-123"}), provider="Provider A",
                     page_size=10)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    objects = load_objects([GOLDEN], LOADED)
    sock = socket.socket()  # bound here and handed to uvicorn: no other process can take the port in between
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(create_app(objects, CONFIG), host="127.0.0.1", port=port,
                                        log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert eventually(lambda: srv.started or not thread.is_alive()) and srv.started, "TAXII server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_taxii2_client_reads_everything(server: str) -> None:
    srv = Server(f"{server}/taxii2/", user="partner", password="correct horse")
    assert srv.title == "DistillGuard TAXII 2.1"
    [root] = srv.api_roots
    assert isinstance(root, ApiRoot) and root.url == f"{server}/api1/"
    assert root.versions == [TAXII]
    [coll] = root.collections
    assert isinstance(coll, Collection) and coll.can_read and not coll.can_write
    assert coll.id == CONFIG.collection_id
    objects = []
    pages = 0
    for envelope in as_pages(coll.get_objects, per_request=10):
        pages += 1
        objects.extend(envelope.get("objects", []))
    expected = len(load_objects([GOLDEN], LOADED))
    assert pages == -(-expected // 10) and len(objects) == expected
    assert len({o["id"] for o in objects}) == expected
    indicators = coll.get_objects(type="indicator")["objects"]
    assert len(indicators) == 6 and {o["type"] for o in indicators} == {"indicator"}
    campaign = next(o for o in objects if o["type"] == "campaign")
    got = coll.get_object(campaign["id"])["objects"]
    assert got == [campaign]
    assert coll.object_versions(campaign["id"])["versions"] == [campaign["modified"]]
    manifest = coll.get_manifest(type="campaign")["objects"]
    assert manifest[0]["id"] == campaign["id"] and manifest[0]["media_type"].startswith("application/stix+json")
    # everything we exported was modified at the frozen export time; SCOs were added at load time
    later = coll.get_objects(added_after="2026-11-22T12:30:00Z")["objects"]
    assert {o["type"] for o in later} == {"ipv4-addr", "ipv6-addr"}


def test_authentication_and_read_only(server: str) -> None:
    with pytest.raises(requests.HTTPError, match="401"):
        Server(f"{server}/taxii2/", user="partner", password="wrong").title  # noqa: B018
    url = f"{server}/api1/collections/"
    with httpx.Client() as c:
        r = c.get(url)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        assert r.json()["http_status"] == "401"
        assert c.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = c.get(url, headers={"Authorization": "Bearer tok-123", "Accept": TAXII})
        assert ok.status_code == 200 and ok.headers["content-type"] == TAXII
        objects_url = f"{url}{CONFIG.collection_id}/objects/"
        auth = {"Authorization": "Bearer tok-123"}
        assert c.post(objects_url, headers=auth, json={"objects": []}).status_code == 403
        assert c.get(objects_url, headers={**auth, "Accept": "text/html"}).status_code == 406
        assert c.get(f"{url}not-a-collection/objects/", headers=auth).status_code == 404
        page = c.get(objects_url, headers=auth, params={"limit": 3}).json()
        assert page["more"] is True and page["next"] == "3" and len(page["objects"]) == 3


def test_serve_refuses_to_run_unauthenticated(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["intel", "serve", str(GOLDEN), "--password-env", "DG_TEST_NO_SUCH_VAR",
                                    "--token-env", "DG_TEST_NO_SUCH_VAR2"])
    assert res.exit_code == 2 and "never runs unauthenticated" in res.output
