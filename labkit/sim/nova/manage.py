"""``nova-manage``: the database syncs and the cells v2 commands of the Install Guide."""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select

from labkit.sim.core.service import RoomContext
from labkit.sim.nova import models as m
from labkit.sim.nova.config import CONF_PATH, NovaConf
from labkit.sim.nova.service import CELL0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nova-manage", add_help=False, exit_on_error=False)
    parser.add_argument("--config-file", action="append")
    groups = parser.add_subparsers(dest="group")
    api_db = groups.add_parser("api_db").add_subparsers(dest="command")
    api_db.add_parser("sync")
    api_db.add_parser("version")
    db = groups.add_parser("db").add_subparsers(dest="command")
    db.add_parser("sync")
    db.add_parser("version")
    cells = groups.add_parser("cell_v2").add_subparsers(dest="command")
    cell0 = cells.add_parser("map_cell0")
    cell0.add_argument("--database_connection")
    create = cells.add_parser("create_cell")
    create.add_argument("--name")
    create.add_argument("--transport-url")
    create.add_argument("--database_connection")
    create.add_argument("--verbose", action="store_true")
    cells.add_parser("list_cells").add_argument("--verbose", action="store_true")
    discover = cells.add_parser("discover_hosts")
    discover.add_argument("--verbose", action="store_true")
    discover.add_argument("--cell_uuid")
    return parser


def run(ctx: RoomContext, ids: object, host: str, argv: list[str]) -> tuple[int, list[str]]:
    try:
        args = _parser().parse_args(argv[1:])
    except (argparse.ArgumentError, SystemExit) as exc:
        return 2, [f"nova-manage: error: {exc}"]
    if not args.group or not getattr(args, "command", None):
        return 2, ["usage: nova-manage [-h] {api_db,cell_v2,db,...} ..."]
    conf_file = ctx.hosts.path(host, CONF_PATH)
    if not conf_file.is_file():
        return 1, [f"ConfigFileNotFound: {CONF_PATH}"]
    conf = NovaConf.read(conf_file)
    if not conf.api_database:
        return 1, ["Cell0 ... error: value required for option connection in group [api_database]"]
    api = ctx.hosts.open_database(host, conf.api_database, m.ApiBase.metadata)
    key = (args.group, args.command)
    if key == ("api_db", "sync"):
        api.create_all()
        return 0, []
    if key == ("api_db", "version"):
        return 0, ["89" if api.tables_exist() else "0"]
    if not api.tables_exist():
        return 1, [
            "(pymysql.err.ProgrammingError) (1146, \"Table 'nova_api.cell_mappings' doesn't "
            'exist") (run nova-manage api_db sync first)'
        ]
    with api.read() as s:
        mappings = list(s.scalars(select(m.CellMapping).order_by(m.CellMapping.id)))
    new_id = getattr(ids, "dashed_id")  # noqa: B009 - the runtime's id source
    if key == ("cell_v2", "map_cell0"):
        if any(c.uuid == CELL0 for c in mappings):
            return 0, ["Cell0 is already setup"]
        url = args.database_connection or _cell0_url(conf.database)
        with api.write() as s:
            s.add(
                m.CellMapping(
                    uuid=CELL0, name="cell0", transport_url="none:///", database_connection=url
                )
            )
        return 0, []
    if key == ("db", "sync"):
        if not conf.database:
            return 1, ["error: value required for option connection in group [database]"]
        lines = []
        for mapping in mappings or []:
            try:
                ctx.hosts.open_database(
                    host, mapping.database_connection, m.CellBase.metadata
                ).create_all()
            except Exception as exc:
                return 1, [f"oslo_db.exception.DBConnectionError: {exc}"]
        if not any(c.uuid == CELL0 for c in mappings):
            lines.append("Cell0 is not mapped: run nova-manage cell_v2 map_cell0 first")
        ctx.hosts.open_database(host, conf.database, m.CellBase.metadata).create_all()
        return 0, lines
    if key == ("db", "version"):
        return 0, ["407"]
    if key == ("cell_v2", "create_cell"):
        name = args.name or ""
        transport = args.transport_url or conf.transport_url
        database = args.database_connection or conf.database
        if not transport:
            return 1, [
                "Must specify --transport-url if [DEFAULT]/transport_url is not set in the "
                "configuration file."
            ]
        for c in mappings:
            if (
                c.uuid != CELL0
                and c.transport_url == transport
                and c.database_connection == database
            ):
                return 2, [
                    "The specified transport_url and/or database_connection combination already "
                    f"exists for another cell with uuid {c.uuid}."
                ]
        uuid = str(new_id())
        with api.write() as s:
            s.add(
                m.CellMapping(
                    uuid=uuid, name=name, transport_url=transport, database_connection=database
                )
            )
        return 0, [uuid] if args.verbose else []
    if key == ("cell_v2", "list_cells"):
        return 0, _table(mappings)
    if key == ("cell_v2", "discover_hosts"):
        return 0, _discover(ctx, host, api, mappings, args.verbose)
    return 2, [f"nova-manage: {args.group} {args.command} is not emulated"]


def _cell0_url(database: str) -> str:
    parts = urlsplit(database)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_cell0"))


def _mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":****@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _table(mappings: list[m.CellMapping]) -> list[str]:
    rows = [("Name", "UUID", "Transport URL", "Database Connection", "Disabled")] + [
        (c.name, c.uuid, _mask(c.transport_url), _mask(c.database_connection), str(c.disabled))
        for c in mappings
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line]
    for n, row in enumerate(rows):
        out.append("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            out.append(line)
    out.append(line)
    return out


def _discover(
    ctx: RoomContext, host: str, api: object, mappings: list[m.CellMapping], verbose: bool
) -> list[str]:
    from labkit.sim.core.store import Database

    assert isinstance(api, Database)
    lines = [f"Found {len(mappings)} cell mappings."]
    for cell in mappings:
        if cell.uuid == CELL0:
            lines.append("Skipping cell0 since it does not contain hosts.")
            continue
        lines.append(f"Getting computes from cell '{cell.name}': {cell.uuid}")
        db = ctx.hosts.open_database(host, cell.database_connection, m.CellBase.metadata)
        if not db.tables_exist():
            continue
        with db.read() as s:
            computes = sorted(
                {
                    r.host
                    for r in s.scalars(select(m.Service).where(m.Service.binary == "nova-compute"))
                }
            )
        new = 0
        with api.write() as s:
            for name in computes:
                lines.append(f"Checking host mapping for compute host '{name}': {cell.uuid}")
                if s.get(m.HostMapping, name) is None:
                    lines.append(f"Creating host mapping for compute host '{name}': {cell.uuid}")
                    s.add(m.HostMapping(host=name, cell_id=cell.id))
                    new += 1
        lines.append(f"Found {new} unmapped computes in cell: {cell.uuid}")
    return lines if verbose else []
