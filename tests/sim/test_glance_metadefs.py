"""Glance's metadata definitions catalog: empty on a guide-built cloud (nobody ran
``glance-manage db_load_metadefs``), but there -- Horizon's launch wizard and "Update
Metadata" list it through python-glanceclient, which first fetches the namespace schema."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture(scope="module")
def demo(glance_lab: Any) -> Any:
    return glance_lab.connect("demo")


def test_the_namespace_list_is_empty_with_glances_links(demo: Any, osc: Any) -> None:
    assert list(demo.image.metadef_namespaces(resource_types="OS::Nova::Flavor")) == []
    listed = osc("image metadef namespace list -f json", cloud="lab-demo")
    assert json.loads(listed.stdout) == []
    # What python-glanceclient sends for Horizon's launch wizard.
    answer = demo.image.get(
        "/metadefs/namespaces?resource_types=OS%3A%3ANova%3A%3AFlavor&limit=1000"
        "&sort_key=namespace&sort_dir=asc"
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["namespaces"] == []
    assert body["schema"] == "/v2/schemas/metadefs/namespaces"
    assert body["first"].startswith("/v2/metadefs/namespaces?")
    assert "resource_types=OS%3A%3ANova%3A%3AFlavor" in body["first"]


def test_the_namespace_schemas(demo: Any) -> None:
    one = demo.image.get_metadef_namespace_schema()
    assert one.name == "namespace"
    assert {"namespace", "visibility", "resource_type_associations"} <= set(one.properties)
    assert one.required == ["namespace"]
    many = demo.image.get_metadef_namespaces_schema()
    assert many.name == "namespaces"
    assert many.properties["namespaces"]["items"]["name"] == "namespace"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=x", "limit param must be an integer"),
        ("limit=-1", "limit param must be positive"),
        ("sort_dir=up", "Invalid sort direction: up"),
    ],
)
def test_bad_paging_is_glances_400(demo: Any, query: str, message: str) -> None:
    answer = demo.image.get(f"/metadefs/namespaces?{query}", raise_exc=False)
    assert answer.status_code == 400
    assert message in answer.text


def test_the_object_property_tag_and_resource_type_schemas(demo: Any) -> None:
    """openstacksdk's metadef schema calls, each answered with Zed's schema: the names
    tempest checks, and schemas that accept what Glance accepts and refuse the rest."""
    import jsonschema

    names = {
        "object": demo.image.get_metadef_object_schema,
        "objects": demo.image.get_metadef_objects_schema,
        "property": demo.image.get_metadef_property_schema,
        "properties": demo.image.get_metadef_properties_schema,
        "tag": demo.image.get_metadef_tag_schema,
        "tags": demo.image.get_metadef_tags_schema,
        "resource_type_association": demo.image.get_metadef_resource_type_schema,
        "resource_type_associations": demo.image.get_metadef_resource_types_schema,
    }
    for name, fetch in names.items():
        assert fetch().name == name
    raw = {
        kind: demo.image.get(f"/schemas/metadefs/{kind}").json()
        for kind in ("object", "property", "properties", "tags")
    }
    good = {"name": "o", "properties": {"p": {"title": "P", "type": "string"}}}
    jsonschema.validate(good, raw["object"])
    for bad in ({"properties": {}}, {"name": "o", "properties": {"p": {"title": "P"}}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, raw["object"])
    assert raw["property"]["required"] == ["title", "type", "name"]
    # a collection of properties is a map keyed by name: its items need no name
    assert raw["properties"]["properties"]["properties"]["type"] == "object"
    assert (
        "name"
        not in raw["properties"]["properties"]["properties"]["additionalProperties"]["required"]
    )
    assert raw["tags"]["properties"]["tags"]["items"]["required"] == ["name"]
    missing = demo.image.get("/schemas/metadefs/nosuch")
    assert missing.status_code == 404
