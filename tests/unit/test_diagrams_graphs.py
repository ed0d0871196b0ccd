"""The pure diagram builders: state in, graph out, and the text each diagram says."""

from __future__ import annotations

from pathlib import Path

from labkit import layers
from labkit.diagrams import Diagram, graphs
from labkit.envs import load_env

REPO = Path(__file__).resolve().parents[2]

SIM_HOSTS = {
    "network": {"cidr": "10.64.0.0/24", "gateway": "10.64.0.1"},
    "hosts": [
        {
            "name": "controller",
            "address": "10.64.0.2",
            "roles": ["controller", "worker"],
            "cpus": 8,
            "ram_gb": 16.0,
            "disk_gb": 250.0,
            "services": [
                {"name": "mariadb", "state": "running"},
                {"name": "keystone", "state": "stopped"},
            ],
        },
        {"name": "worker1", "address": "10.64.0.3", "roles": ["worker"], "services": []},
    ],
}

CATALOG = [
    {
        "type": "identity",
        "name": "keystone",
        "endpoints": [
            {"interface": "admin", "url": "http://c:5000/v3/", "region_id": "RegionOne"},
            {"interface": "public", "url": "http://c:5000/v3/", "region_id": "RegionOne"},
            {"interface": "internal", "url": "http://c:5000/v3/", "region": "RegionOne"},
        ],
    },
    {
        "type": "image",
        "name": "glance",
        "endpoints": [{"interface": "public", "url": "http://c:9292", "region_id": "RegionOne"}],
    },
]


def test_layers_are_seven_resting_on_each_other() -> None:
    g = graphs.layers(beyond=False)
    assert [n for n, _ in sorted(g.nodes(data="number"), key=lambda nd: nd[1])] == [
        "hosts",
        "base",
        "keystone",
        "glance",
        "compute",
        "networking",
        "projects",
    ]
    assert g.has_edge("keystone", "base") and g.has_edge("base", "hosts")
    assert g.edges["keystone", "base"]["relation"] == "rests on"


def test_layers_highlight_dims_the_others_and_accepts_aliases() -> None:
    g = graphs.layers(highlight="identity")
    assert g.graph["highlight"] == ["keystone"]
    assert g.nodes["keystone"]["state"] == "highlight"
    assert g.nodes["glance"]["state"] == "dim"


def test_layers_without_highlight_dim_only_beyond() -> None:
    g = graphs.layers()
    assert g.nodes["keystone"]["state"] == "normal"
    assert g.nodes["cinder"]["state"] == "beyond"
    assert not any(g.has_edge("cinder", n) for n in g)


def test_layers_mark_installed_layers() -> None:
    g = graphs.layers(installed=["base", "keystone"])
    assert g.nodes["base"]["installed"] and g.nodes["keystone"]["installed"]
    assert not g.nodes["glance"]["installed"]
    assert not g.nodes["hosts"]["installed"]  # nothing to install: never marked


def test_layers_highlight_lab_adds_the_plate() -> None:
    g = graphs.layers(highlight="sim")
    assert g.nodes["lab"]["state"] == "highlight"
    assert g.has_edge("hosts", "lab")


def test_layers_text_points_at_highlight_with_note() -> None:
    text = str(Diagram(graphs.layers(highlight="keystone", note="wrong password")))
    assert ">>3 Identity: Keystone" in text
    assert text.endswith(">> wrong password")


def test_topology_from_sim_hosts() -> None:
    g = graphs.topology(SIM_HOSTS)
    assert g.nodes["router"]["short"] == ".1"
    assert g.nodes["host:controller"]["short"] == ".2"
    assert g.nodes["host:controller"]["services"] == [
        ("keystone", "stopped"),
        ("mariadb", "running"),
    ]
    assert set(g.neighbors("network")) == {"router", "host:controller", "host:worker1"}
    text = graphs.describe(g)
    assert "controller 10.64.0.2 (controller + worker), 8 CPU, 16 GB RAM" in text
    assert "keystone stopped, mariadb" in text


def test_topology_from_env_matches_seed() -> None:
    env = load_env(REPO / "envs" / "sim.yaml")
    g = graphs.topology(graphs.state_from_env(env))
    assert g.graph["cidr"] == "10.64.0.0/24"
    assert [d["label"] for _, d in g.nodes(data=True) if d["kind"] == "host"] == [
        "controller",
        "worker1",
    ]
    assert g.graph["guest_pool"] == ["10.64.0.100", "10.64.0.199"]


def test_topology_with_a_guest() -> None:
    state = {
        **SIM_HOSTS,
        "guests": [{"name": "server1", "address": "10.64.0.100", "host": "worker1"}],
    }
    g = graphs.topology(state)
    assert g.has_edge("guest:server1:10.64.0.100", "host:worker1")
    assert "guest server1 .100 on worker1" in graphs.describe(g)


def test_topology_with_the_provider_network_and_rules() -> None:
    state = {
        **SIM_HOSTS,
        "bridges": ["controller", "worker1"],
        "dhcp": {"controller": "10.64.0.100"},
        "guests": [
            {
                "name": "server1",
                "address": "10.64.0.105",
                "host": "worker1",
                "status": "ACTIVE",
                "port_status": "ACTIVE",
                "groups": ["default"],
                "rules": ["tcp/22 from 0.0.0.0/0"],
            },
            {"name": "closed", "address": "10.64.0.106", "host": "worker1", "groups": ["x"]},
        ],
    }
    text = graphs.describe(graphs.topology(state))
    assert "controller: Linux bridge, dnsmasq .100" in text
    assert "guest server1 .105  (ACTIVE, port ACTIVE) on worker1\n    in: tcp/22 from" in text
    assert "guest closed .106 on worker1\n    in: nothing from outside its groups" in text


def test_catalog_orders_interfaces_public_internal_admin() -> None:
    g = graphs.catalog(CATALOG, scope="project demo")
    assert list(g.successors("token")) == ["service:identity", "service:image"]
    interfaces = [g.nodes[e]["interface"] for e in g.successors("service:identity")]
    assert interfaces == ["public", "internal", "admin"]
    assert g.nodes["endpoint:identity:internal:RegionOne"]["region"] == "RegionOne"
    assert "keystone (identity)" in graphs.describe(g)


def test_empty_catalog_says_unscoped() -> None:
    assert "unscoped" in graphs.describe(graphs.catalog([]))


def test_request_flow_skips_control_calls_and_numbers_hops() -> None:
    events = [
        {
            "id": 3,
            "source": "client",
            "target": "keystone",
            "action": "POST /v3/auth/tokens",
            "status": "201",
            "kind": "http",
        },
        {
            "id": 1,
            "source": "client",
            "target": "sim",
            "action": "GET /_sim/health",
            "status": "200",
            "kind": "http",
        },
        {
            "id": 4,
            "source": "keystone",
            "target": "mariadb",
            "action": "SELECT user",
            "status": "",
            "kind": "db",
        },
    ]
    g = graphs.request_flow(events)
    assert [m["action"] for m in graphs.messages(g)] == ["POST /v3/auth/tokens", "SELECT user"]
    assert [g.nodes[n]["order"] for n in ("client", "keystone", "mariadb")] == [0, 1, 2]
    assert "1. client -> keystone: POST /v3/auth/tokens -> 201" in graphs.describe(g)
    assert len(graphs.request_flow(events, include_control=True).edges) == 3


def test_notebook_arc_is_a_chain_in_order() -> None:
    g = graphs.notebook_arc()
    names = [nb.name for nb in layers.NOTEBOOKS]
    assert [u for u, _ in g.edges()] == names[:-1]
    assert g.nodes["02-keystone"]["layer"] == "keystone"


def test_graph_builders_do_not_import_matplotlib() -> None:
    # Building and describing must stay cheap: matplotlib is for drawing only.
    import subprocess
    import sys

    code = (
        "import sys; from labkit.diagrams import graphs; graphs.describe(graphs.layers());"
        "sys.exit('matplotlib' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
