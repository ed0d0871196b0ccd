"""Pure diagram building: lab state in, a networkx graph out. No drawing here.

Each builder returns a graph whose ``graph["kind"]`` tells :mod:`labkit.diagrams.render`
how to lay it out, and whose node and edge attributes carry everything drawn (labels,
states, colours by name). :func:`describe` turns any of them into the text a terminal,
papermill or nbval shows instead of the picture -- so the tests of a diagram are tests of
what it says.
"""

from __future__ import annotations

import ipaddress
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import networkx as nx

from labkit import beyond as later_map
from labkit import layers as layer_map

State = Mapping[str, Any]
INTERFACES = ("public", "internal", "admin")


# ---- the layer map ---------------------------------------------------------------------------


def layers(
    highlight: str | Iterable[str] | None = None,
    installed: Iterable[str] = (),
    beyond: bool = True,
    lab: bool = False,
    note: str = "",
) -> nx.DiGraph:
    """The seven layers (bottom up), each resting on the one below.

    ``highlight``: layer keys (or aliases/installer names) to point at; the others dim.
    ``installed``: installer names already done (marked on the map). ``note``: a line to
    print beside the highlighted layer (what ``lab.explain`` found).
    """
    wanted = [highlight] if isinstance(highlight, str) else list(highlight or [])
    keys = {found.key for name in wanted if (found := layer_map.find(name)) is not None}
    done = set(installed)
    g = nx.DiGraph(
        kind="layers",
        highlight=sorted(keys),
        note=note,
        title="A minimal OpenStack, layer by layer",
    )
    previous: str | None = None
    shown = layer_map.all_layers(beyond=beyond, lab=lab or "lab" in keys)
    for layer in shown:
        if keys:
            state = "highlight" if layer.key in keys else "dim"
        else:
            state = "beyond" if layer.beyond else "normal"
        is_installed = bool(layer.install_layers) and all(n in done for n in layer.install_layers)
        g.add_node(
            layer.key,
            number=layer.number,
            title=layer.title,
            summary=layer.summary,
            services=list(layer.services),
            ports=[str(p) for p in layer.ports],
            notebook=layer.notebook,
            beyond=layer.beyond,
            state=state,
            installed=is_installed,
        )
        if previous is not None and not layer.beyond:
            g.add_edge(layer.key, previous, relation="rests on")
        if not layer.beyond:
            previous = layer.key
    return g


def notebook_arc() -> nx.DiGraph:
    """The notebooks in order, each coloured by the layer it is about."""
    g = nx.DiGraph(kind="arc", title="The lab, notebook by notebook")
    previous = None
    for index, nb in enumerate(layer_map.NOTEBOOKS):
        g.add_node(
            nb.name, order=index, title=nb.title, teaches=nb.teaches, shows=nb.shows, layer=nb.layer
        )
        if previous:
            g.add_edge(previous, nb.name)
        previous = nb.name
    return g


# ---- topology --------------------------------------------------------------------------------


def state_from_env(
    env: Any, services: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
) -> dict[str, Any]:
    """The shape of the sim's ``/_sim/hosts`` answer, built from an env file's hosts
    (for real hosts, or before the sim runs)."""
    services = services or {}
    return {
        "network": {
            "cidr": env.management_network.cidr,
            "gateway": env.management_network.gateway,
            "guest_pool": list(env.management_network.guest_pool),
        },
        "hosts": [
            {
                "name": h.name,
                "address": h.address,
                "roles": list(h.roles),
                "cpus": h.cpus,
                "ram_gb": h.ram_gb,
                "disk_gb": h.disk_gb,
                "services": list(services.get(h.name, [])),
            }
            for h in env.hosts
        ],
    }


def _short(address: str, cidr: str) -> str:
    """``.2`` for 10.64.0.2 on a /24, as the seed's picture labels hosts."""
    net = ipaddress.ip_network(cidr, strict=False)
    if net.prefixlen >= 24 and ipaddress.ip_address(address) in net:
        return "." + address.rsplit(".", 1)[1]
    return address


def topology(state: State) -> nx.Graph:
    """Management network, router and hosts with the services running on them; once
    Neutron and Nova run, each host's Linux bridge, dnsmasq and the servers on it.

    ``state`` has the shape of ``lab.sim.hosts()``: ``{"network": {"cidr", "gateway"},
    "hosts": [{"name", "address", "roles", "services": [{"name", "state"}]}]}``, optionally
    with ``"bridges"`` (hosts whose Linux bridge agent runs), ``"dhcp"`` (host -> dnsmasq's
    address) and ``"guests"`` (``{"name", "address", "host"}`` plus, from Neutron,
    ``"status"``, ``"port_status"``, ``"groups"``, ``"rules"``: the ingress rules in words).
    """
    network = state["network"]
    cidr = network["cidr"]
    g = nx.Graph(
        kind="topology",
        cidr=cidr,
        title=str(state.get("title") or "The lab's hosts"),
        guest_pool=list(network.get("guest_pool") or []),
    )
    g.add_node("network", kind="network", label=cidr)
    gateway = network.get("gateway")
    if gateway:
        g.add_node(
            "router", kind="router", label="Router", address=gateway, short=_short(gateway, cidr)
        )
        g.add_edge("router", "network", address=gateway)
    bridges = set(state.get("bridges", []))
    dhcp = dict(state.get("dhcp", {}))
    for index, host in enumerate(state["hosts"]):
        services = [(s["name"], s.get("state", "running")) for s in host.get("services", [])]
        g.add_node(
            f"host:{host['name']}",
            kind="host",
            order=index,
            label=host["name"],
            address=host["address"],
            short=_short(host["address"], cidr),
            roles=list(host.get("roles", [])),
            services=sorted(services),
            size=_size(host),
            bridge=host["name"] in bridges,
            dnsmasq=_short(dhcp[host["name"]], cidr) if host["name"] in dhcp else "",
        )
        g.add_edge(f"host:{host['name']}", "network", address=host["address"])
    for guest in state.get("guests", []):
        node = f"guest:{guest['name']}:{guest.get('address', '')}"
        g.add_node(
            node,
            kind="guest",
            label=guest["name"],
            address=guest.get("address", ""),
            short=_short(guest["address"], cidr) if guest.get("address") else "",
            host=guest.get("host", ""),
            status=guest.get("status", ""),
            port_status=guest.get("port_status", ""),
            groups=list(guest.get("groups", [])),
            rules=list(guest.get("rules", [])),
        )
        if guest.get("host"):
            g.add_edge(node, f"host:{guest['host']}", relation="runs on")
        if guest.get("address"):
            g.add_edge(node, "network", address=guest["address"])
    return g


def guest_lines(d: Mapping[str, Any]) -> list[str]:
    """How a guest reads in the topology: its name, address and state, then what its
    security groups let in (only when Neutron told us its port)."""
    head = f"{d['label']} {d['short'] or d['address']}".strip()
    state = [
        x for x in (d.get("status", ""), d.get("port_status") and f"port {d['port_status']}") if x
    ]
    lines = [head + (f"  ({', '.join(state)})" if state else "")]
    if d.get("groups"):
        allowed = d["rules"] or ["nothing from outside its groups"]
        lines += [f"  {'in:' if i == 0 else '   '} {rule}" for i, rule in enumerate(allowed)]
    return lines


def host_guests(g: nx.Graph, host: str) -> list[dict[str, Any]]:
    return sorted(
        (d for _, d in g.nodes(data=True) if d["kind"] == "guest" and d["host"] == host),
        key=lambda d: (d["label"], d["address"]),
    )


def _size(host: Mapping[str, Any]) -> str:
    if "cpus" not in host:
        return ""
    return f"{host['cpus']} CPU, {host['ram_gb']:g} GB RAM, {host['disk_gb']:g} GB disk"


# ---- the catalog -----------------------------------------------------------------------------


def catalog(entries: Sequence[Mapping[str, Any]], scope: str = "") -> nx.DiGraph:
    """A token's catalog: token -> services -> one endpoint per interface.

    ``entries`` is the token's ``catalog`` list as Keystone sends it (service ``type``,
    ``name``, ``endpoints`` with ``interface``, ``url``, ``region``).
    """
    g = nx.DiGraph(
        kind="catalog",
        scope=scope,
        title="The catalog in the token" + (f" ({scope})" if scope else ""),
    )
    g.add_node("token", kind="token", label="token" + (f"\n{scope}" if scope else ""))
    for service in sorted(entries, key=lambda s: (s.get("type", ""), s.get("name", ""))):
        kind = service.get("type", "?")
        sid = f"service:{kind}"
        g.add_node(sid, kind="service", label=service.get("name") or kind, type=kind)
        g.add_edge("token", sid)
        endpoints = sorted(
            service.get("endpoints", []),
            key=lambda e: (
                _interface_rank(e.get("interface", "")),
                e.get("region_id") or e.get("region") or "",
            ),
        )
        for ep in endpoints:
            interface = ep.get("interface", "?")
            region = ep.get("region_id") or ep.get("region") or ""
            eid = f"endpoint:{kind}:{interface}:{region}"
            g.add_node(
                eid, kind="endpoint", interface=interface, url=ep.get("url", ""), region=region
            )
            g.add_edge(sid, eid)
    return g


def _interface_rank(interface: str) -> int:
    return INTERFACES.index(interface) if interface in INTERFACES else len(INTERFACES)


# ---- request flow ----------------------------------------------------------------------------


def request_flow(
    events: Sequence[Mapping[str, Any]],
    include_control: bool = False,
    title: str = "What happened, hop by hop",
    order: Sequence[str] = (),
    by_start: bool = False,
) -> nx.MultiDiGraph:
    """A sequence of hops from the sim's trace: participants, then numbered messages.

    Control-API calls (labkit talking to the sim itself) are left out unless asked for.
    ``order`` puts known participants in that order (others after them, as met);
    ``by_start`` numbers hops by when they started (the trace records them as they end, so a
    call made inside another ends first).
    """
    g = nx.MultiDiGraph(kind="flow", title=title)
    seq = 0
    rank = {name: i for i, name in enumerate(order)}

    def key(e: Mapping[str, Any]) -> tuple[float, int]:
        return (float(e.get("at", 0.0)) if by_start else 0.0, int(e.get("id", 0)))

    if order:
        present = {str(e.get(side, "?")) for e in events for side in ("source", "target")}
        for name in sorted(present, key=lambda n: (rank.get(n, len(rank)), n)):
            g.add_node(name, order=g.number_of_nodes())
    for event in sorted(events, key=key):
        if not include_control and event.get("target") == "sim":
            continue
        source, target = str(event.get("source", "?")), str(event.get("target", "?"))
        for name in (source, target):
            if name not in g:
                g.add_node(name, order=g.number_of_nodes())
        seq += 1
        g.add_edge(
            source,
            target,
            key=seq,
            seq=seq,
            action=str(event.get("action", "")),
            status=str(event.get("status") or ""),
            kind=str(event.get("kind", "")),
        )
    return g


def messages(g: nx.MultiDiGraph) -> list[dict[str, Any]]:
    """The messages of a flow graph in order."""
    out = [{"source": u, "target": v, **data} for u, v, data in g.edges(data=True)]
    return sorted(out, key=lambda m: int(m["seq"]))


# ---- text ------------------------------------------------------------------------------------


def describe(g: nx.Graph) -> str:
    """What the diagram shows, as text (the fallback wherever a picture cannot be shown)."""
    kind = g.graph.get("kind")
    if kind == "layers":
        return _describe_layers(g)
    if kind == "topology":
        return _describe_topology(g)
    if kind == "catalog":
        return _describe_catalog(g)
    if kind == "flow":
        return _describe_flow(g)
    if kind == "arc":
        return _describe_arc(g)
    if kind == "timeline":
        return _describe_timeline(g)
    if kind == "beyond":
        return _describe_beyond(g)
    if kind == "projects":
        return _describe_projects(g)
    if kind == "quotas":
        return _describe_quotas(g)
    if kind == "host_usage":
        return _describe_host_usage(g)
    if kind == "scores":
        return _describe_scores(g)
    return f"{kind} graph: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges"


def _describe_layers(g: nx.Graph) -> str:
    lines = [g.graph["title"] + " (top to bottom):"]
    nodes = sorted(g.nodes(data=True), key=lambda n: -n[1]["number"])
    beyond = [d["title"] for _, d in nodes if d["beyond"]]
    if beyond:
        lines.append(f"  later (08-beyond): {', '.join(sorted(beyond))}")
    for _, d in nodes:
        if d["beyond"]:
            continue
        mark = ">>" if d["state"] == "highlight" else "  "
        done = " [installed]" if d["installed"] else ""
        lines.append(
            f"{mark}{d['number']} {d['title']:<26} {d['notebook']:<19}"
            f"{', '.join(d['services'])}{done}"
        )
    if g.graph.get("note"):
        lines.append(f"   >> {g.graph['note']}")
    return "\n".join(lines)


def _describe_topology(g: nx.Graph) -> str:
    lines = [g.graph["title"]]
    if "router" in g:
        lines.append(f"  router {g.nodes['router']['address']} ({g.nodes['router']['short']})")
    hosts = sorted(
        (d for _, d in g.nodes(data=True) if d["kind"] == "host"), key=lambda d: d["order"]
    )
    for d in hosts:
        roles = " + ".join(d["roles"])
        lines.append(
            f"  {d['label']} {d['address']} ({roles})" + (f", {d['size']}" if d["size"] else "")
        )
        if d["services"]:
            lines.append(
                "      " + ", ".join(f"{n} {s}" if s != "running" else n for n, s in d["services"])
            )
    for d in hosts:
        if d.get("bridge") or d.get("dnsmasq"):
            extra = ["Linux bridge"] if d.get("bridge") else []
            extra += [f"dnsmasq {d['dnsmasq']}"] if d.get("dnsmasq") else []
            lines.append(f"  {d['label']}: " + ", ".join(extra))
    for _, d in sorted(g.nodes(data=True), key=lambda nd: str(nd[0])):
        if d["kind"] == "guest":
            first, *rest = guest_lines(d)
            lines.append(f"  guest {first}" + (f" on {d['host']}" if d["host"] else ""))
            lines += [f"    {line.strip()}" for line in rest]  # the rules, one per line
    if g.graph.get("guest_pool"):
        low, high = g.graph["guest_pool"]
        lines.append(f"  guests get addresses {low} - {high} (dnsmasq)")
    return "\n".join(lines)


def _describe_catalog(g: nx.DiGraph) -> str:
    lines = [g.graph["title"] + ":"]
    services = [n for n in g.successors("token")]
    if not services:
        lines.append("  (empty: an unscoped token carries no catalog)")
    for sid in services:
        d = g.nodes[sid]
        lines.append(f"  {d['label']} ({d['type']})")
        for eid in g.successors(sid):
            e = g.nodes[eid]
            lines.append(f"    {e['interface']:<9} {e['region']:<10} {e['url']}")
    return "\n".join(lines)


def _describe_flow(g: nx.MultiDiGraph) -> str:
    lines = [g.graph["title"] + ":"]
    for m in messages(g):
        status = f" -> {m['status']}" if m["status"] else ""
        lines.append(f"  {m['seq']:>2}. {m['source']} -> {m['target']}: {m['action']}{status}")
    return "\n".join(lines)


def _describe_arc(g: nx.DiGraph) -> str:
    lines = [g.graph["title"] + ":"]
    for name, d in sorted(g.nodes(data=True), key=lambda n: n[1]["order"]):
        lines.append(f"  {name:<19} {d['teaches']}")
    return "\n".join(lines)


# ---- an image's status over time (notebooks/03-glance) ----------------------------------------

MIB = 1 << 20
FAILED_NOTE = "nothing was stored: the image is empty, ready for another import"

IMAGE_STATUS_MEANING = {
    "queued": "no data yet: Glance waits for an upload or an import",
    "saving": "receiving an upload (PUT .../file)",
    "uploading": "receiving data into the staging area (glance-direct)",
    "importing": "a background task fetches the data and moves it into the store",
    "active": "the data is in the store, checksums recorded: servers can boot from it",
    "killed": "the upload failed; the image is unusable",
}


def image_timeline(timeline: Any, title: str = "") -> nx.DiGraph:
    """An image's statuses as consecutive phases, each with the ``os_glance_*`` properties
    and import-task states seen during it, and the bytes staged over time.

    ``timeline`` is a :class:`labkit.images.Timeline` (points with ``seconds``, ``status``,
    ``importing_to_stores``, ``failed_import``, ``task_status``, ``staged_bytes``).
    Introduced in notebooks/03-glance.
    """
    name = getattr(timeline, "name", "") or str(timeline.image_id)
    points = list(timeline.points)
    statuses = [s for s, _, _ in timeline.spans()]
    import_failed = bool(points and points[-1].failed_import)
    if import_failed:
        # Named by what happened: the polls may or may not have caught it importing, and
        # "queued" alone would read as if nothing had been tried.
        headline = f"Image {name!r}: the import failed, the image is {statuses[-1]} again"
    else:
        headline = f"Image {name!r}: " + " -> ".join(statuses)
    size = getattr(timeline, "size", None)
    g = nx.DiGraph(
        kind="timeline",
        title=title or headline,
        image=name,
        start=points[0].seconds if points else 0.0,
        total=points[-1].seconds if points else 0.0,
        staged=[(p.seconds, p.staged_bytes / MIB) for p in points if p.staged_bytes is not None],
        size=size / MIB if size else None,  # MiB, as the import's closing line says
        failed=import_failed,
    )
    previous: str | None = None
    for index, (status, start, end) in enumerate(timeline.spans()):
        inside = [p for p in points if start <= p.seconds <= end and p.status == status]
        last = index == len(statuses) - 1
        stores = sorted({p.importing_to_stores for p in inside if p.importing_to_stores})
        failed = sorted({p.failed_import for p in inside if p.failed_import})
        props: list[str] = []
        if status == "importing":
            props.append("os_glance_import_task set (the import's lock)")
        # Only while importing: polls may or may not catch a store listed in other phases
        # (just after active, or during a failure too fast to see), and the text must not vary.
        if stores and status == "importing":
            props.append(f"os_glance_importing_to_stores={','.join(stores)} while the task ran")
        if last and inside and inside[-1].task_status:
            # How the import ended, once it has: the stores left and failed.
            final = inside[-1]
            props.append(
                f"at the end: os_glance_importing_to_stores='{final.importing_to_stores}', "
                f"os_glance_failed_import='{final.failed_import}'"
            )
        elif failed:
            props.append(f"os_glance_failed_import={','.join(failed)}")
        node = f"phase:{index}"
        g.add_node(
            node,
            order=index,
            status=status,
            start=start,
            end=end if not last else (points[-1].seconds if points else end),
            meaning=IMAGE_STATUS_MEANING.get(status, ""),
            properties=props,
            tasks=list(dict.fromkeys(p.task_status for p in inside if p.task_status)),
        )
        if previous is not None:
            g.add_edge(previous, node)
        previous = node
    return g


def _describe_timeline(g: nx.DiGraph) -> str:
    phases = sorted(g.nodes(data=True), key=lambda n: n[1]["order"])
    if g.graph["failed"]:
        # A failed import can end before any poll sees it importing: describe only how it
        # ended, so the text is the same either way (the picture shows every phase seen).
        phases = phases[-1:]
    lines = [g.graph["title"]]
    for index, (_, d) in enumerate(phases):
        lasting = f"{d['end'] - d['start']:.1f} s" if index < len(phases) - 1 else "end"
        lines.append(f"  {d['status']:<10} ({lasting})  {d['meaning']}")
        for prop in d["properties"]:
            lines.append(f"  {'':<10}    {prop}")
    if g.graph["failed"]:
        lines.append(f"  {FAILED_NOTE}")
    return "\n".join(lines)


# ---- the map grown: what to layer in later (notebooks/08-beyond) -----------------------------


def beyond(
    installed: Iterable[str] = (),
    highlight: str | Iterable[str] | None = None,
    note: str = "",
) -> nx.DiGraph:
    """The lab's layers (the seed's layer 1) and the later layers placed on the seed's layers
    2-4, each later layer pointing at the layers it builds on.

    ``installed``: installer names done in this lab (``lab.installed_layers()``): a minimal
    layer is *installed* when all its installers are, *not installed* when some are missing,
    and has *no installer* when the lab installs nothing for it (hosts, projects).
    ``highlight``: later-layer keys or group names (``"storage"``) to point at.
    ``note``: a line under the map (what the lab could not tell).
    Introduced in notebooks/08-beyond.
    """
    done = set(installed)
    wanted = [highlight] if isinstance(highlight, str) else list(highlight or [])
    hot: set[str] = set()
    for name in wanted:
        hot |= {layer.key for layer in later_map.select(name)}
    g = nx.DiGraph(
        kind="beyond",
        title="Beyond minimal: the layers to add later",
        seed_layers=dict(later_map.SEED_LAYERS),
        groups=dict(later_map.GROUPS),
        highlight=sorted(hot),
        note=note,
    )
    for layer in layer_map.LAYERS:
        if not layer.install_layers:
            state = "no installer"
        elif all(name in done for name in layer.install_layers):
            state = "installed"
        else:
            state = "not installed"
        g.add_node(
            layer.key,
            kind="minimal",
            number=layer.number,
            title=layer.title,
            services=list(layer.services),
            notebook=layer.notebook,
            state=state,
        )
    for order, later in enumerate(later_map.LATER):
        g.add_node(
            later.key,
            kind="later",
            order=order,
            name=later.name,
            title=later.title,
            group=later.group,
            seed_layer=later.seed_layer,
            processes=[p.name for p in later.processes],
            catalog=list(later.catalog_types),
            needs=[later_map.name_of(key) for key in later.needs],
            highlight=later.key in hot,
        )
    for later in later_map.LATER:
        for key in later.needs:
            g.add_edge(later.key, key, relation="builds on")
    return g


def _describe_beyond(g: nx.DiGraph) -> str:
    nodes = dict(g.nodes(data=True))
    minimal = sorted(
        (d for d in nodes.values() if d["kind"] == "minimal"), key=lambda d: -d["number"]
    )
    lines = [g.graph["title"]]
    lines.append(f"  this lab -- the seed's layer 1, {g.graph['seed_layers'][1].lower()}:")
    for d in minimal:
        state = {"installed": "installed", "not installed": "not installed yet"}.get(
            d["state"], f"(no installer: {d['notebook']})"
        )
        lines.append(f"    {d['number']} {d['title']:<26} {state}")
    for number in sorted((n for n in g.graph["seed_layers"] if n > 1), reverse=True):
        later = sorted(
            (d for d in nodes.values() if d["kind"] == "later" and d["seed_layer"] == number),
            key=lambda d: d["order"],
        )
        lines.append(f"  later -- the seed's layer {number}, {g.graph['seed_layers'][number]}:")
        for d in later:
            mark = ">>" if d["highlight"] else "  "
            catalog = ", ".join(d["catalog"]) or "no catalog entry"
            lines.append(f"  {mark}{d['name']} -- {d['title']} [{catalog}]")
            body = f"{', '.join(d['processes'])}; builds on {', '.join(d['needs'])}"
            lines += textwrap.wrap(
                body, 92, initial_indent=" " * 8, subsequent_indent=" " * 8, break_on_hyphens=False
            )
    if g.graph.get("note"):
        lines.append(f"  {g.graph['note']}")
    return "\n".join(lines)


# ---- domains, projects, users and quotas (notebooks/06-projects-quotas) ----------------------


def projects(state: State, title: str = "Domains, projects and users") -> nx.DiGraph:
    """The seed's picture of Keystone's side: domains own projects and users; users hold
    roles on projects.

    ``state``: ``{"domains": [{"name", "projects": [{"name", "quota": {"cores", "ram"}}]}],
    "users": [{"name", "domain", "roles": [(project, role), ...]}]}`` (``ram`` in MB).
    Introduced in notebooks/06-projects-quotas.
    """
    g = nx.DiGraph(kind="projects", title=title)
    for order, domain in enumerate(state.get("domains", [])):
        did = f"domain:{domain['name']}"
        g.add_node(did, kind="domain", label=domain["name"], order=order)
        for index, project in enumerate(domain.get("projects", [])):
            pid = f"project:{project['name']}"
            g.add_node(
                pid,
                kind="project",
                label=project["name"],
                domain=domain["name"],
                order=index,
                quota=dict(project.get("quota", {})),
            )
            g.add_edge(did, pid, relation="owns")
    for index, user in enumerate(state.get("users", [])):
        uid = f"user:{user['name']}"
        g.add_node(uid, kind="user", label=user["name"], domain=user["domain"], order=index)
        if f"domain:{user['domain']}" in g:
            g.add_edge(f"domain:{user['domain']}", uid, relation="home of")
        for project, role in user.get("roles", []):
            if f"project:{project}" in g:
                g.add_edge(uid, f"project:{project}", relation=role)
    return g


def quota_text(resource: str, amount: int) -> str:
    """``8 GB`` for RAM in MB (the seed's unit), the number otherwise."""
    if resource == "ram" and amount >= 1024 and amount % 1024 == 0:
        return f"{amount // 1024} GB"
    if resource == "ram":
        return f"{amount} MB"
    return str(amount)


def _describe_projects(g: nx.DiGraph) -> str:
    lines = [g.graph["title"] + ":"]
    domains = sorted(
        (n for n, d in g.nodes(data=True) if d["kind"] == "domain"),
        key=lambda n: g.nodes[n]["order"],
    )
    for did in domains:
        lines.append(f"  domain {g.nodes[did]['label']}")
        kids = sorted(g.successors(did), key=lambda n: (g.nodes[n]["kind"], g.nodes[n]["order"]))
        for pid in (n for n in kids if g.nodes[n]["kind"] == "project"):
            d = g.nodes[pid]
            quota = ", ".join(
                f"{quota_text(k, v)} {'vCPU' if k == 'cores' else k.upper()}"
                for k, v in d["quota"].items()
            )
            lines.append(f"    project {d['label']}" + (f"  ({quota})" if quota else ""))
        for uid in (n for n in kids if g.nodes[n]["kind"] == "user"):
            roles = [
                f"{g.edges[uid, p]['relation']} of {g.nodes[p]['label']}" for p in g.successors(uid)
            ]
            lines.append(f"    user {g.nodes[uid]['label']}: {', '.join(roles) or 'no role'}")
    return "\n".join(lines)


QUOTA_PARTS = ("in_use", "reserved", "free")


def quotas(rows: Sequence[Mapping[str, Any]], by: str = "project", title: str = "") -> nx.DiGraph:
    """Per project (or summed per domain, ``by="domain"``), each resource's limit split into
    in use, reserved and free.

    ``rows``: ``{"domain", "project", "service", "resource", "limit", "in_use", "reserved"}``
    each, as Nova's ``/os-quota-sets/{id}/detail`` and Neutron's ``/quotas/{id}/details``
    report them; a limit of -1 is unlimited (and makes a domain's sum unlimited).
    Introduced in notebooks/06-projects-quotas.
    """
    if by not in ("project", "domain"):
        raise ValueError(f"by must be 'project' or 'domain', not {by!r}")
    default = "Quotas per project" if by == "project" else "Quotas per domain (projects summed)"
    g = nx.DiGraph(kind="quotas", by=by, title=title or default)
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = str(row["project"] if by == "project" else row["domain"])
        group = groups.setdefault(
            key, {"domain": row["domain"], "projects": [], "bars": {}, "order": len(groups)}
        )
        if row["project"] not in group["projects"]:
            group["projects"].append(row["project"])
        bar = group["bars"].setdefault(
            row["resource"],
            {
                "service": row["service"],
                "limit": 0,
                "in_use": 0,
                "reserved": 0,
                "order": len(group["bars"]),
            },
        )
        limit = int(row["limit"])
        bar["limit"] = -1 if limit < 0 or bar["limit"] < 0 else bar["limit"] + limit
        bar["in_use"] += int(row["in_use"])
        bar["reserved"] += int(row.get("reserved", 0))
    for name, group in groups.items():
        gid = f"{by}:{name}"
        g.add_node(
            gid,
            kind="group",
            label=name,
            domain=group["domain"],
            projects=list(group["projects"]),
            order=group["order"],
        )
        for resource, bar in group["bars"].items():
            limit = bar["limit"]
            free = None if limit < 0 else max(0, limit - bar["in_use"] - bar["reserved"])
            bid = f"{gid}:{resource}"
            g.add_node(
                bid,
                kind="bar",
                resource=resource,
                service=bar["service"],
                limit=limit,
                in_use=bar["in_use"],
                reserved=bar["reserved"],
                free=free,
                over=limit >= 0 and bar["in_use"] + bar["reserved"] > limit,
                order=bar["order"],
            )
            g.add_edge(gid, bid)
    return g


def quota_groups(g: nx.DiGraph) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The groups of a quota graph in order, each with its bars in order."""
    out = []
    for gid, d in sorted(
        ((n, d) for n, d in g.nodes(data=True) if d["kind"] == "group"),
        key=lambda nd: nd[1]["order"],
    ):
        bars = sorted((g.nodes[b] for b in g.successors(gid)), key=lambda b: b["order"])
        out.append((d, bars))
    return out


def _describe_quotas(g: nx.DiGraph) -> str:
    lines = [g.graph["title"] + " (limit: in use + reserved + free):"]
    for group, bars in quota_groups(g):
        head = f"  {group['label']}"
        if g.graph["by"] == "project":
            head += f" (domain {group['domain']})"
        else:
            head += f" ({', '.join(group['projects'])})"
        lines.append(head)
        for b in bars:
            unit = " MB" if b["resource"] == "ram" else ""
            if b["limit"] < 0:
                amounts = f"unlimited: {b['in_use']}{unit} in use, {b['reserved']} reserved"
            else:
                pct = 100 * (b["in_use"] + b["reserved"]) / b["limit"] if b["limit"] else 100.0
                amounts = (
                    f"{b['limit']}{unit}: {b['in_use']} in use + {b['reserved']} reserved + "
                    f"{b['free']} free ({pct:.0f}% taken)"
                )
            over = "  OVER" if b["over"] else ""
            lines.append(f"    {b['resource']:<20} {amounts}{over}")
    return "\n".join(lines)


# ---- scale out: placement per host, the scheduler's scores (notebooks/07-scale-out) ----------

WEIGHERS = ("RAMWeigher", "CPUWeigher", "DiskWeigher")
_RC_UNITS = {"MEMORY_MB": " MB", "DISK_GB": " GB"}


def host_usage(
    rows: Sequence[Mapping[str, Any]],
    servers: Mapping[str, Sequence[str]] | None = None,
    title: str = "",
) -> nx.DiGraph:
    """Placement's view of each host: per resource class, what is used of what it may hand
    out, and which servers the host runs.

    ``rows``: ``{"host", "resource_class", "used", "capacity"}`` each (capacity = (total -
    reserved) x allocation ratio, as Placement counts room); ``servers``: host -> server
    names. Introduced in notebooks/07-scale-out.
    """
    servers = servers or {}
    g = nx.DiGraph(kind="host_usage", title=title or "Placement: used / capacity per host")
    for row in rows:
        hid = f"host:{row['host']}"
        if hid not in g:
            g.add_node(
                hid,
                kind="host",
                label=str(row["host"]),
                order=g.number_of_nodes(),
                servers=list(servers.get(str(row["host"]), [])),
            )
        bid = f"{hid}:{row['resource_class']}"
        used, capacity = int(row["used"]), int(row["capacity"])
        g.add_node(
            bid,
            kind="bar",
            resource_class=str(row["resource_class"]),
            used=used,
            capacity=capacity,
            share=used / capacity if capacity > 0 else 0.0,
            order=len(list(g.successors(hid))),
        )
        g.add_edge(hid, bid)
    return g


def usage_hosts(g: nx.DiGraph) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The hosts of a usage graph in order, each with its bars in order."""
    hosts = sorted(
        ((n, d) for n, d in g.nodes(data=True) if d["kind"] == "host"),
        key=lambda nd: nd[1]["order"],
    )
    return [
        (d, sorted((g.nodes[b] for b in g.successors(n)), key=lambda b: b["order"]))
        for n, d in hosts
    ]


def usage_text(bar: Mapping[str, Any]) -> str:
    """``4096/15872 MB (26%)``."""
    unit = _RC_UNITS.get(bar["resource_class"], "")
    return f"{bar['used']}/{bar['capacity']}{unit} ({100 * bar['share']:.0f}%)"


def _describe_host_usage(g: nx.DiGraph) -> str:
    lines = [g.graph["title"] + ":"]
    for host, bars in usage_hosts(g):
        count = len(host["servers"])
        head = f"  {host['label']}: {count} server" + ("" if count == 1 else "s")
        lines.append(head + (f" ({', '.join(host['servers'])})" if count else ""))
        for bar in bars:
            lines.append(f"    {bar['resource_class']:<10} {usage_text(bar)}")
    return "\n".join(lines)


def scheduler_scores(
    detail: Mapping[str, Any],
    chosen: str,
    hosts: Sequence[str] = (),
    title: str = "",
) -> nx.DiGraph:
    """One scheduling decision per host: not offered by Placement (no room), dropped by a
    filter (which, why), or weighed -- each weigher's score and the total. Higher wins;
    equal totals go to the first host by name.

    ``detail`` is what nova-scheduler records for a request (the sim's ``scheduler
    decision`` trace note): ``{"resources", "candidates", "filters": [{"host", "filter",
    "passed", "why"}], "weights": {host: {"total", "RAMWeigher", ...}}}``; ``chosen`` the
    host it picked first (``NoValidHost`` when none); ``hosts`` every compute host, to show
    those Placement did not offer. Introduced in notebooks/07-scale-out.
    """
    resources = dict(detail.get("resources", {}))
    candidates = list(detail.get("candidates", []))
    weights: Mapping[str, Mapping[str, float]] = detail.get("weights", {})
    names = list(dict.fromkeys([*hosts, *candidates]))
    g = nx.DiGraph(
        kind="scores",
        title=title or "The scheduler's scores for one request",
        resources=resources,
        chosen=chosen,
    )
    for order, name in enumerate(sorted(names)):
        dropped = next(
            (
                f
                for f in detail.get("filters", [])
                if f["host"] == name and not f.get("passed", False)
            ),
            None,
        )
        scores = dict(weights.get(name, {}))
        if name not in candidates:
            fate = "no room"
        elif dropped is not None:
            fate = "dropped"
        else:
            fate = "weighed"
        g.add_node(
            f"host:{name}",
            kind="host",
            label=name,
            order=order,
            fate=fate,
            filter=dropped["filter"] if dropped else "",
            why=dropped.get("why", "") if dropped else "",
            scores={w: float(scores.get(w, 0.0)) for w in WEIGHERS if fate == "weighed"},
            total=float(scores.get("total", 0.0)),
            chosen=name == chosen,
        )
    return g


def score_hosts(g: nx.DiGraph) -> list[dict[str, Any]]:
    return sorted(
        (d for _, d in g.nodes(data=True) if d["kind"] == "host"), key=lambda d: d["order"]
    )


def resources_text(resources: Mapping[str, Any]) -> str:
    """``1 VCPU, 2048 MB RAM, 20 GB disk``: what one server of the request needs."""
    words = {"VCPU": "{} VCPU", "MEMORY_MB": "{} MB RAM", "DISK_GB": "{} GB disk"}
    return ", ".join(words.get(k, f"{{}} {k}").format(v) for k, v in resources.items())


def score_line(d: Mapping[str, Any]) -> str:
    if d["fate"] == "no room":
        return "not offered by Placement: no room for the flavor"
    if d["fate"] == "dropped":
        return f"dropped by {d['filter']}: {d['why']}"
    parts = " + ".join(f"{w} {v:g}" for w, v in d["scores"].items())
    return f"{d['total']:g} = {parts}"


def _describe_scores(g: nx.DiGraph) -> str:
    need = resources_text(g.graph["resources"])
    lines = [g.graph["title"] + (f" (each server: {need})" if need else "") + ":"]
    hosts = score_hosts(g)
    width = max((len(d["label"]) for d in hosts), default=4)
    for d in hosts:
        mark = "  << chosen" if d["chosen"] else ""
        lines.append(f"  {d['label']:<{width}}  {score_line(d)}{mark}")
    weighed = [d for d in hosts if d["fate"] == "weighed"]
    if not weighed:
        lines.append("  No host left: NoValidHost.")
    elif len({d["total"] for d in weighed}) < len(weighed):
        lines.append("  Equal totals: the first host by name wins.")
    return "\n".join(lines)
