"""Notebook 08's data and map: every later layer is complete and consistent with the small map
of notebook 00, its catalog types are the ones the service-types authority gives its project,
its links have the Zed Install Guide's shape, and the drawing says which layers are installed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import networkx as nx
import pytest
from matplotlib.figure import Figure
from os_service_types import ServiceTypes

from labkit import beyond
from labkit import layers as layer_map
from labkit.diagrams import graphs, render
from labkit.errors import RegistryMiss
from labkit.lab import Lab

REPO = Path(__file__).resolve().parents[2]
GUIDE = re.compile(r"^https://docs\.openstack\.org/([a-z-]+)/zed/install/([a-z0-9-]+\.html)?$")
ZED_PAGE = re.compile(
    r"^https://docs\.openstack\.org/[a-z-]+/zed/(install|admin|configuration)/[a-z0-9/-]+\.html$"
)
DEBIAN_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]+$")
# Types the Zed guides register that the service-types authority does not list, with the
# project that serves them.
NOT_IN_AUTHORITY = {"cloudformation": "heat", "metric": "gnocchi"}
MINIMAL_INSTALLED = ["base", "keystone", "glance", "placement", "networking", "nova-controller"]


@pytest.mark.parametrize("layer", beyond.LATER, ids=lambda x: x.key)
def test_every_layer_brings_processes_named_as_debian_packages(layer: beyond.LaterLayer) -> None:
    assert layer.processes
    for process in layer.processes:
        assert DEBIAN_NAME.match(process.name), process.name
        assert process.where and process.does
    assert layer.adds and layer.summary and layer.seed_says and layer.changes


@pytest.mark.parametrize("layer", beyond.LATER, ids=lambda x: x.key)
def test_every_layer_links_its_zed_install_guide(layer: beyond.LaterLayer) -> None:
    assert GUIDE.match(layer.guide.url), layer.guide.url
    for page in layer.pages:
        assert ZED_PAGE.match(page.url) or GUIDE.match(page.url), page.url
        assert page.title


@pytest.mark.parametrize("layer", beyond.LATER, ids=lambda x: x.key)
def test_catalog_types_belong_to_the_layers_projects(layer: beyond.LaterLayer) -> None:
    """Each type is one the authority gives a project of this layer (or a known exception);
    a layer without a type says why."""
    if not layer.catalog_types:
        assert layer.catalog_note
    authority = ServiceTypes()
    projects = {m.group(1) for link in (layer.guide, *layer.pages) if (m := GUIDE.match(link.url))}
    projects |= {word.lower() for word in layer.name.replace(",", " ").split()}
    for kind in layer.catalog_types:
        project = authority.get_project_name(kind) or NOT_IN_AUTHORITY[kind]
        assert project in projects, (kind, project, projects)


def test_the_small_map_and_this_one_agree() -> None:
    keys = {layer.key for layer in beyond.LATER}
    assert {layer.key for layer in layer_map.BEYOND} <= keys
    assert len(keys) == len(beyond.LATER)


def test_needs_name_known_layers_without_cycles() -> None:
    minimal = {layer.key for layer in layer_map.LAYERS}
    later = nx.DiGraph()
    for layer in beyond.LATER:
        assert layer.group in beyond.GROUPS and layer.seed_layer in (2, 3, 4)
        for key in layer.needs:
            assert key in minimal or key in beyond.MINIMAL_NAMES or beyond.get(key)
            later.add_edge(layer.key, key)
    assert nx.is_directed_acyclic_graph(later)
    assert all(beyond.select(group) for group in beyond.GROUPS)


def test_a_miss_lists_the_valid_names() -> None:
    with pytest.raises(RegistryMiss) as miss:
        beyond.select("cinderella")
    assert "cinderella" in str(miss.value) and "storage" in str(miss.value)
    assert "cinder" in str(miss.value)


def test_in_sim_reads_the_rooms() -> None:
    assert beyond.in_sim("compute")
    assert not any(beyond.in_sim(layer.key) for layer in beyond.LATER)


def test_describe_names_the_installed_layers() -> None:
    text = graphs.describe(graphs.beyond(MINIMAL_INSTALLED))
    assert re.search(r"3 Identity: Keystone +installed", text)
    assert re.search(r"6 Networking & access +installed", text)
    # nova-compute is missing: the compute layer is not in place yet
    assert re.search(r"5 Compute: Nova \+ Placement +not installed yet", text)
    assert re.search(r"1 Hosts & network +\(no installer: 01-hosts\)", text)
    assert "Cinder -- block storage [volumev3]" in text
    assert "Horizon -- dashboard [no catalog entry]" in text


def test_the_graph_links_each_later_layer_to_what_it_builds_on() -> None:
    g = graphs.beyond()
    assert g.edges["cinder", "compute"]["relation"] == "builds on"
    assert ("magnum", "heat") in g.edges
    assert all(d["state"] != "installed" for _, d in g.nodes(data=True) if d["kind"] == "minimal")


def test_highlight_a_section_marks_its_layers() -> None:
    g = graphs.beyond(highlight="storage")
    assert g.graph["highlight"] == ["cinder", "manila", "swift"]
    assert ">>Cinder" in graphs.describe(g) and ">>Heat" not in graphs.describe(g)


def test_the_map_draws_headless() -> None:
    fig = render.draw(graphs.beyond(MINIMAL_INSTALLED, highlight="cinder", note="a note"))
    assert isinstance(fig, Figure)
    assert "matplotlib.pyplot" not in sys.modules


def test_tables() -> None:
    overview = str(beyond.table())
    assert "Horizon: dashboard" in overview and "none: a client of the catalog" in overview
    assert "volumev3 (official type: block-storage)" in overview
    assert "https://docs.openstack.org/cinder/zed/install/" in overview
    storage = beyond.changes("storage")
    rows = sum(len(x.changes) + len(x.processes) + 2 for x in beyond.select("storage"))
    assert len(storage.rows) == rows
    assert "cinder-volume (storage node): makes LVM volumes" in str(storage)
    assert storage.rows[0][:2] == ("Cinder", "adds")
    assert "[cinder] os_region_name = RegionOne" in str(storage)
    assert str(beyond.changes("heat")).startswith("Heat: orchestration")
    assert "rabbit_quorum_queue" in str(beyond.production_table())
    assert "retired" in str(beyond.deployment_tools_table())


def test_the_lab_draws_the_map_from_its_installed_layers(tmp_path: Path) -> None:
    lab = Lab.from_env(REPO / "envs" / "sim.yaml", state_root=tmp_path)
    text = str(lab.draw_beyond())
    assert "not installed yet" in text
    assert not re.search(r" {2,}installed$", text, re.MULTILINE)
    assert len(lab.beyond_table("networking").rows) == 3
    cloud = Lab.from_env(REPO / "envs" / "mycloud.yaml", state_root=tmp_path)
    assert "an existing cloud" in str(cloud.draw_beyond())
