"""Version discovery: ``GET /compute`` (200, both versions) and ``GET /compute/v2.1``."""

from __future__ import annotations

from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response, public
from labkit.sim.nova import microversions as mv

routes = Routes()
UPDATED = {"v2.0": "2011-01-21T11:33:21Z", "v2.1": "2013-07-23T11:33:21Z"}


def _v21(call: Call) -> dict[str, object]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": mv.max_version(),
        "min_version": "2.1",
        "updated": UPDATED["v2.1"],
        "links": [{"rel": "self", "href": f"{call.root_url}/v2.1/"}],
    }


@routes.get("/")
@public
def root(call: Call) -> Response:
    v20 = {
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": UPDATED["v2.0"],
        "links": [{"rel": "self", "href": f"{call.root_url}/v2/"}],
    }
    return json_response({"versions": [v20, _v21(call)]})


@routes.get("/v2.1")
@public
def v21(call: Call) -> Response:
    version = _v21(call)
    version["links"] = [
        {"rel": "self", "href": f"{call.root_url}/v2.1/"},
        {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
    ]
    version["media-types"] = [
        {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
    ]
    return json_response({"version": version})


@routes.get("/v2")
@public
def v20(call: Call) -> Response:
    """The legacy v2 endpoint's version document (``GET /compute/v2/``), which the version
    list links to: the v2.1 code behind the old URL, no microversions. Only the document is
    emulated -- the lab's catalog lists v2.1, where every client goes."""
    return json_response(
        {
            "version": {
                "id": "v2.0",
                "status": "SUPPORTED",
                "version": "",
                "min_version": "",
                "updated": UPDATED["v2.0"],
                "links": [
                    {"rel": "self", "href": f"{call.root_url}/v2/"},
                    {
                        "rel": "describedby",
                        "type": "text/html",
                        "href": "http://docs.openstack.org/",
                    },
                ],
                "media-types": [
                    {
                        "base": "application/json",
                        "type": "application/vnd.openstack.compute+json;version=2",
                    }
                ],
            }
        }
    )
