"""``/os-instance_usage_audit_log``: how far the computes got with the instance usage audit
of the last completed period (``nova/api/openstack/compute/instance_usage_audit_log.py``).

The audit runs only with ``[DEFAULT] instance_usage_audit = True``, which the lab leaves at
Zed's False: no compute ever writes a task log, so every compute host is "not run" for any
period. The period is ``instance_usage_audit_period``'s default, a month: the last
completed one before now, or before the timestamp ``GET .../{before}`` names
(``%Y-%m-%d %H:%M:%S`` with optional microseconds; anything else is Nova's 400).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from labkit.sim.core.http import Call, Routes, json_response
from labkit.sim.nova import models as m
from labkit.sim.nova.api._helpers import nova, require_admin
from labkit.sim.nova.errors import bad_request

routes = Routes()


def last_completed_month(before: datetime) -> tuple[datetime, datetime]:
    """``utils.last_completed_audit_period('month', before)``: the month (from the 1st)
    that ended last, strictly before ``before``."""
    end = datetime(before.year, before.month, 1)
    if end >= before:
        end = _month_before(end)
    return _month_before(end), end


def _month_before(first: datetime) -> datetime:
    if first.month == 1:
        return datetime(first.year - 1, 12, 1)
    return datetime(first.year, first.month - 1, 1)


def _audit(call: Call, before: datetime) -> dict[str, Any]:
    begin, end = last_completed_month(before)
    found = nova(call).nova_cells.cell1()
    hosts: list[str] = []
    if found is not None:
        with found[1].read() as s:
            query = select(m.Service.host).where(m.Service.topic == "compute")
            hosts = sorted(set(s.scalars(query)))
    return {
        "period_beginning": str(begin),
        "period_ending": str(end),
        "num_hosts": len(hosts),
        "num_hosts_done": 0,
        "num_hosts_running": 0,
        "num_hosts_not_run": len(hosts),
        "hosts_not_run": hosts,
        "total_instances": 0,
        "total_errors": 0,
        "overall_status": f"{'0 of ' + str(len(hosts)) if hosts else 'ALL'} hosts done. 0 errors.",
        "log": {},
    }


@routes.get("/v2.1/os-instance_usage_audit_log")
def audit_logs(call: Call) -> Response:
    require_admin(call, "os_compute_api:os-instance-usage-audit-log:list")
    now = nova(call).runtime.now().replace(tzinfo=None)
    return json_response({"instance_usage_audit_logs": _audit(call, now)})


@routes.get("/v2.1/os-instance_usage_audit_log/{before}")
def audit_log(call: Call, before: str) -> Response:
    require_admin(call, "os_compute_api:os-instance-usage-audit-log:show")
    spelled = "%Y-%m-%d %H:%M:%S.%f" if "." in before else "%Y-%m-%d %H:%M:%S"
    try:
        moment = datetime.strptime(before, spelled)
    except ValueError:
        raise bad_request(f"Invalid timestamp for date {before}") from None
    return json_response({"instance_usage_audit_log": _audit(call, moment)})
