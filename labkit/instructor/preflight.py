"""``labkit check ENV ENV ...``: many labs preflighted at once, one row each.

With one env, ``labkit check`` keeps its own detailed lines (:mod:`labkit.cli`). With more,
each lab is checked the same way -- in parallel, since an ssh env's preflight waits on the
network -- and the answers fit one table:

* a sim: is it running and answering, does every service of its installed layers run,
  does Keystone issue a token (the probe's ``lab``, ``services`` and ``token`` checks);
* real hosts: the hosts' preflight (reachable, host key, sizes, ports, clock), summed up;
* an existing cloud: a token.

A lab's row says ``ok`` or names the first thing that failed and how to fix it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from labkit.display import Table
from labkit.envs import SshEnv
from labkit.instructor.attendees import Attendee
from labkit.instructor.probe import SPECS, Finding, run_check, sim_up_command


@dataclass(frozen=True)
class LabCheck:
    label: str
    kind: str
    where: str
    answers: str  # the lab itself: sim up, hosts reachable
    services: str
    token: str
    failure: str  # "" when every check passed

    @property
    def ok(self) -> bool:
        return not self.failure


def _word(f: Finding) -> str:
    return {"ok": "ok", "fail": "FAIL", "todo": "not yet", "skip": "-", "was": "ok"}[f.status]


def _first_failure(findings: list[Finding]) -> str:
    for f in findings:
        if f.status == "fail":
            return f"{f.title}: {f.detail}" + (f" -- fix: {f.fix}" if f.fix else "")
    return ""


def _check_hosts(a: Attendee, state_root: Path | None) -> LabCheck:
    from labkit.hosts import preflight

    assert isinstance(a.env, SshEnv)
    rows = preflight.check(a.env, state_root=state_root)
    bad = [r for r in rows if r.status == "fail"]
    warned = sum(r.status == "warn" for r in rows)
    hosts = f"{len(rows) - len(bad)}/{len(rows)} checks ok" + (f", {warned} warn" if warned else "")
    failure = f"{bad[0].host}: {bad[0].check}: {bad[0].detail}" if bad else ""
    return LabCheck(a.label, a.env.kind, a.where(), hosts, "-", "-", failure)


def check_lab(a: Attendee) -> LabCheck:
    """One lab's row (never raises: a failure is the row's finding)."""
    if isinstance(a.env, SshEnv):
        try:
            return _check_hosts(a, a.state_root)
        except Exception as exc:  # an unreadable env or key: the row says so
            return LabCheck(a.label, a.env.kind, a.where(), "FAIL", "-", "-", str(exc))
    lab = a.lab()
    wanted = {s.key: s for s in SPECS if s.key in ("lab", "services", "token")}
    found = [run_check(lab, wanted["lab"])]
    if found[0].status in ("ok", "skip"):
        found += [run_check(lab, wanted["services"]), run_check(lab, wanted["token"])]
    else:
        down = "the sim is not running"
        found += [wanted[k].finding("skip", down) for k in ("services", "token")]
        if found[0].status == "todo":  # nothing installed and not running: not started yet
            found[0] = wanted["lab"].finding(
                "fail",
                found[0].detail,
                fix=f"`{sim_up_command(lab)}`",
            )
    answers, services, token = (_word(f) for f in found)
    return LabCheck(a.label, a.env.kind, a.where(), answers, services, token, _first_failure(found))


def check_many(attendees: list[Attendee], parallel: int = 4) -> list[LabCheck]:
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(check_lab, attendees))


def table(rows: list[LabCheck]) -> Table:
    t = Table(
        ["lab", "kind", "where", "answers", "services", "token", "result"],
        title=f"Preflight of {len(rows)} labs",
    )
    for r in rows:
        t.add(
            r.label,
            r.kind,
            r.where,
            r.answers,
            r.services,
            r.token,
            "ok" if r.ok else f"FAIL {r.failure}",
            mark="ok" if r.ok else "fail",
        )
    bad = sum(not r.ok for r in rows)
    t.note = f"{len(rows) - bad} of {len(rows)} labs ready" + (f"; {bad} failed" if bad else "")
    return t
