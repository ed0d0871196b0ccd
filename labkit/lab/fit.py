"""Will it fit? The arithmetic behind ``lab.will_it_fit`` -- pure, no API calls.

Before a server boots, two different gates must let it through, and they count differently:

1. **The project's quota**, checked by nova-api before anything is made. Zed's Nova counts
   what the project holds *now* (servers not deleted -- ERROR ones too --, their vCPUs and
   RAM), adds the request (``count`` times the flavor) and refuses with 403 when any
   resource would go past its limit: ``Quota exceeded for cores: Requested 4, but already
   used 8 of 10 cores``. Before that, Nova asks Neutron whether the project may have one more
   port per server (``Maximum number of ports exceeded``). Nothing is created on a refusal.
2. **The cloud's capacity**, which the scheduler finds out once the servers exist (BUILD):
   Placement offers the hosts whose inventory has room for *one* server -- per resource
   class, ``(total - reserved) * allocation_ratio - used``, and no more than ``max_unit`` at
   once --, ComputeFilter drops hosts whose nova-compute is down or disabled, the RAM, CPU
   and disk weighers rank the rest (each normalised between the hosts, times its
   multiplier), and each server of the request is claimed on the best host that still has
   room, that host's free space shrinking before the next one is weighed. When one server
   finds no host, the whole request fails: every server of it ends in ERROR, "No valid host
   was found" -- and keeps counting against the quota until it is deleted.

:func:`predict` plays both gates on numbers read from the APIs (:mod:`labkit.lab.projects`
reads them) and returns a :class:`FitPrediction` that says yes or no, names the limiting
resource and the host each server would land on.

The weighers do not read Placement: each weighs the scheduler's own view of the host, built
from the compute node record nova-compute keeps (``openstack hypervisor show`` at
microversion 2.87 and below): ``free_ram_mb``, ``vcpus`` x the allocation ratio -
``vcpus_used``, and the smaller of ``free_disk_gb`` and ``disk_available_least``. The last is
what the hypervisor measures on the instances' filesystem every minute, so hosts that share
one disk (local lab hosts on one machine) differ by what was written in between. Where
:class:`Host` carries those figures (:attr:`Host.weighed`) the prediction weighs them; where
two hosts weigh the same, Nova takes the first in its own order of hosts, so the prediction
names both (:attr:`FitPrediction.ties`) and any of the resulting spreads counts as held.

What it does not model: other filters (flavor extra specs, image properties, server groups,
availability zones, aggregates), other weighers (IoOps, build failures, soft affinity),
``host_subset_size`` > 1 (random among the best), a compute node's figures refreshed
between the prediction and the boot, and servers that other people boot in between.

Introduced in notebooks/06-projects-quotas.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from labkit.display import Table

RESOURCE_CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")
# Zed's [filter_scheduler] *_weight_multiplier defaults, in the order Nova weighs them.
DEFAULT_MULTIPLIERS: dict[str, float] = {"ram": 1.0, "cpu": 1.0, "disk": 1.0}
_WEIGHERS: tuple[tuple[str, str, str], ...] = (
    ("RAMWeigher", "ram", "MEMORY_MB"),
    ("CPUWeigher", "cpu", "VCPU"),
    ("DiskWeigher", "disk", "DISK_GB"),
)
# How far capacity is explored past the request (enough to say "room for N more").
_EXPLORE = 1000
# How many ways of breaking ties are followed before the prediction stops listing spreads.
_BRANCHES = 256


@dataclass(frozen=True)
class Flavor:
    """What one server asks for, in Placement's resource classes."""

    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int  # root + ephemeral + swap (rounded up to GB), as Nova asks Placement

    @classmethod
    def of(
        cls,
        name: str,
        vcpus: int,
        ram_mb: int,
        root_gb: int,
        ephemeral_gb: int = 0,
        swap_mb: int = 0,
    ) -> Flavor:
        return cls(name, vcpus, ram_mb, root_gb + ephemeral_gb + math.ceil(swap_mb / 1024))

    def resources(self) -> dict[str, int]:
        wanted = {"VCPU": self.vcpus, "MEMORY_MB": self.ram_mb, "DISK_GB": self.disk_gb}
        return {rc: amount for rc, amount in wanted.items() if amount}


# ---- gate 1: the quota -------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaLine:
    """One resource of a project's quota, as ``/os-quota-sets/{id}/detail`` (or Neutron's
    ``/quotas/{id}/details``) reports it, and how much of it one server takes."""

    resource: str
    limit: int  # -1: unlimited
    in_use: int
    reserved: int
    per_server: int
    service: str = "nova"

    @property
    def unlimited(self) -> bool:
        return self.limit < 0

    def room(self) -> int | None:
        """How many more servers this resource allows (None: unlimited)."""
        if self.unlimited or self.per_server == 0:
            return None
        return max(0, (self.limit - self.in_use - self.reserved) // self.per_server)

    def over(self, count: int) -> bool:
        return not self.unlimited and self.in_use + self.reserved + self.per_server * count > (
            self.limit
        )

    @property
    def label(self) -> str:
        unit = " (MB)" if self.resource == "ram" else ""
        return f"{self.resource}{unit}" + (f" [{self.service}]" if self.service != "nova" else "")


def nova_refusal(lines: Sequence[QuotaLine], count: int) -> str:
    """The 403 text nova-api would answer for ``count`` servers, or "" if the quota allows
    them. Ports are asked first (``validate_networks``); then instances, cores and ram
    together: Nova names every resource over its limit, sorted, in one message."""
    ports = [line for line in lines if line.resource == "port" and line.over(count)]
    if ports:
        return "Maximum number of ports exceeded"
    overs = sorted(
        (line for line in lines if line.service == "nova" and line.over(count)),
        key=lambda line: line.resource,
    )
    if not overs:
        return ""
    requested = [str(line.per_server * count) for line in overs]
    names = ", ".join(line.resource for line in overs)
    return (
        f"Quota exceeded for {names}: Requested {', '.join(requested)}, but already used "
        f"{', '.join(str(line.in_use) for line in overs)} of "
        f"{', '.join(str(line.limit) for line in overs)} {names}"
    )


# ---- gate 2: the hosts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Inventory:
    """One resource class of one resource provider (a compute node), with its usage."""

    total: int
    reserved: int = 0
    allocation_ratio: float = 1.0
    min_unit: int = 1
    max_unit: int = 2147483647
    step_size: int = 1
    used: int = 0

    @property
    def capacity(self) -> int:
        """What Placement reports as capacity: ``int((total - reserved) * ratio)``."""
        return int((self.total - self.reserved) * self.allocation_ratio)

    def refuses(self, amount: int, used: int) -> str:
        """Why Placement would not allocate ``amount`` more ("" if it would)."""
        if amount > self.max_unit:
            return f"max_unit {self.max_unit} < {amount}"
        if amount < self.min_unit:
            return f"min_unit {self.min_unit} > {amount}"
        if amount % self.step_size:
            return f"step_size {self.step_size} does not divide {amount}"
        if used + amount > (self.total - self.reserved) * self.allocation_ratio:
            return f"{self.capacity - used} free < {amount}"
        return ""


@dataclass(frozen=True)
class Host:
    """A compute host as the scheduler sees it: its provider's inventories and its
    nova-compute service."""

    name: str
    inventories: Mapping[str, Inventory]
    state: str = "up"  # the nova-compute service: up / down
    status: str = "enabled"  # enabled / disabled
    # What the weighers read, per resource class, before this request (the compute node's
    # free RAM, vCPUs x ratio - used, min(free disk, disk_available_least)); empty: weigh
    # Placement's free room instead (the same figures wherever the disk is the host's own).
    weighed: Mapping[str, float] = field(default_factory=dict)

    def dropped_by_filter(self) -> str:
        """ComputeFilter's reason to drop the host ("" if it keeps it)."""
        if self.status != "enabled":
            return "ComputeFilter: nova-compute is disabled"
        if self.state != "up":
            return "ComputeFilter: nova-compute is down"
        return ""

    def refuses(self, need: Mapping[str, int], extra: Mapping[str, int]) -> str:
        """Why this host has no room for one more server ("" if it has), with ``extra``
        already claimed on it by earlier servers of the same request."""
        for rc, amount in need.items():
            inv = self.inventories.get(rc)
            if inv is None:
                return f"{rc}: no inventory"
            why = inv.refuses(amount, inv.used + extra.get(rc, 0))
            if why:
                return f"{rc}: {why}"
        return ""

    def free(self, rc: str, extra: Mapping[str, int]) -> float:
        """The free room the weigher for ``rc`` sees, less ``extra`` claimed by earlier
        servers of the request (Nova's ``consume_from_request``)."""
        if rc in self.weighed:
            return self.weighed[rc] - extra.get(rc, 0)
        inv = self.inventories.get(rc)
        return 0 if inv is None else inv.capacity - inv.used - extra.get(rc, 0)


def _weights(
    hosts: Sequence[Host],
    claimed: Mapping[str, Mapping[str, int]],
    multipliers: Mapping[str, float],
) -> dict[str, float]:
    """The RAM, CPU and disk weighers: free amount normalised to 0..1 across the hosts,
    times the multiplier, summed (Nova's ``normalize``: all equal -> all 0)."""
    total = {h.name: 0.0 for h in hosts}
    for _, key, rc in _WEIGHERS:
        values = [float(h.free(rc, claimed[h.name])) for h in hosts]
        low, high = (min(values), max(values)) if values else (0.0, 0.0)
        for host, value in zip(hosts, values, strict=True):
            normal = 0.0 if high == low else (value - low) / (high - low)
            total[host.name] += normal * multipliers.get(key, 1.0)
    return total


def _candidates(flavor: Flavor, hosts: Sequence[Host]) -> tuple[list[Host], dict[str, str]]:
    """The hosts Placement offers room for one server and ComputeFilter keeps, by name; and
    why each other host was left out."""
    need = flavor.resources()
    left_out: dict[str, str] = {}
    candidates: list[Host] = []
    for host in sorted(hosts, key=lambda h: h.name):
        why = host.refuses(need, {}) or host.dropped_by_filter()
        if why:
            left_out[host.name] = why
        else:
            candidates.append(host)
    return candidates, left_out


def _best(
    need: Mapping[str, int],
    candidates: Sequence[Host],
    claimed: Mapping[str, Mapping[str, int]],
    weights_by: Mapping[str, float],
) -> list[Host]:
    """The hosts that would take the next server: those with room and the highest weight
    (more than one when they tie), by name."""
    weights = _weights(candidates, claimed, weights_by)
    roomy = [h for h in candidates if not h.refuses(need, claimed[h.name])]
    if not roomy:
        return []
    top = max(weights[h.name] for h in roomy)
    return [h for h in roomy if math.isclose(weights[h.name], top, abs_tol=1e-9)]


def _claim(claimed: dict[str, dict[str, int]], host: str, need: Mapping[str, int]) -> None:
    for rc, amount in need.items():
        claimed[host][rc] = claimed[host].get(rc, 0) + amount


def _walk(
    flavor: Flavor,
    count: int,
    hosts: Sequence[Host],
    multipliers: Mapping[str, float] | None,
) -> tuple[list[str], list[list[str]], dict[str, str]]:
    """:func:`place`, with the hosts that tied for each server placed."""
    weights_by = dict(DEFAULT_MULTIPLIERS, **(multipliers or {}))
    need = flavor.resources()
    candidates, left_out = _candidates(flavor, hosts)
    claimed: dict[str, dict[str, int]] = {h.name: {} for h in candidates}
    placed: list[str] = []
    ties: list[list[str]] = []
    for _ in range(count):
        best = _best(need, candidates, claimed, weights_by)
        if not best:
            break
        placed.append(best[0].name)
        ties.append([h.name for h in best])
        _claim(claimed, best[0].name, need)
    return placed, ties, left_out


def place(
    flavor: Flavor,
    count: int,
    hosts: Sequence[Host],
    multipliers: Mapping[str, float] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Where the scheduler would put up to ``count`` servers of ``flavor``, in order, stopping
    at the first that finds no host; and why each host left out was left out (Placement
    offered it no room for one, or ComputeFilter dropped it). Of hosts that weigh the same,
    the first by name takes the server (as the sim does; see :func:`spreads`)."""
    placed, _, left_out = _walk(flavor, count, hosts, multipliers)
    return placed, left_out


def spreads(
    flavor: Flavor,
    count: int,
    hosts: Sequence[Host],
    multipliers: Mapping[str, float] | None = None,
) -> tuple[set[tuple[tuple[str, int], ...]], bool]:
    """Every way ``count`` servers may spread over the hosts when each tie can go either way
    (servers per host, as sorted pairs; a request that runs out of room ends its spread
    short). The second value is False when more than ``_BRANCHES`` ways were not followed."""
    weights_by = dict(DEFAULT_MULTIPLIERS, **(multipliers or {}))
    need = flavor.resources()
    candidates, _ = _candidates(flavor, hosts)
    found: set[tuple[tuple[str, int], ...]] = set()
    complete = True
    stack: list[tuple[list[str], dict[str, dict[str, int]]]] = [
        ([], {h.name: {} for h in candidates})
    ]
    while stack:
        placed, claimed = stack.pop()
        best = _best(need, candidates, claimed, weights_by) if len(placed) < count else []
        if not best:
            found.add(tuple(sorted(Counter(placed).items())))
            continue
        for host in best:
            if len(stack) + len(found) >= _BRANCHES:
                complete = False
                break
            after = {name: dict(c) for name, c in claimed.items()}
            _claim(after, host.name, need)
            stack.append(([*placed, host.name], after))
    return found, complete


def _blocking_class(flavor: Flavor, hosts: Sequence[Host], placed: Sequence[str]) -> str:
    """The resource class that stops the next server on most hosts still in the race."""
    need = flavor.resources()
    claimed: dict[str, dict[str, int]] = {}
    for name in placed:
        for rc, amount in need.items():
            claimed.setdefault(name, {})[rc] = claimed.get(name, {}).get(rc, 0) + amount
    votes: dict[str, int] = {}
    for host in hosts:
        if host.dropped_by_filter():
            continue
        why = host.refuses(need, claimed.get(host.name, {}))
        if why:
            rc = why.split(":", 1)[0]
            votes[rc] = votes.get(rc, 0) + 1
    return max(sorted(votes), key=lambda rc: votes[rc]) if votes else ""


# ---- the prediction --------------------------------------------------------------------------


@dataclass
class FitPrediction:
    """``lab.will_it_fit(project, flavor, count)``: the answer, the limiting resource and the
    hosts, with both gates shown (a table each in a notebook, text elsewhere)."""

    project: str
    flavor: Flavor
    count: int
    quota: list[QuotaLine]
    hosts: list[Host] = field(default_factory=list)
    placed: list[str] = field(default_factory=list)  # one host per server that finds one
    left_out: dict[str, str] = field(default_factory=dict)
    capacity_known: bool = True
    capacity_room: int | None = None  # servers of this flavor the hosts take (None: unknown)
    capacity_exact: bool = True  # False: at least capacity_room (not explored further)
    blocking_class: str = ""
    notes: list[str] = field(default_factory=list)
    # For each server placed: the hosts that weighed the same for it (one: no tie).
    ties: list[list[str]] = field(default_factory=list)
    # Every spread the ties allow (servers per host), and whether all were followed.
    spreads: set[tuple[tuple[str, int], ...]] = field(default_factory=set)
    spreads_complete: bool = True

    # ---- the answers ----
    @property
    def quota_room(self) -> int | None:
        """How many servers of this flavor the quota still allows (None: unlimited)."""
        rooms = [r for line in self.quota if (r := line.room()) is not None]
        return min(rooms) if rooms else None

    @property
    def quota_ok(self) -> bool:
        return not nova_refusal(self.quota, self.count)

    @property
    def capacity_ok(self) -> bool | None:
        """True/False, or None when Placement could not be read."""
        if not self.capacity_known:
            return None
        return len(self.placed) >= self.count

    @property
    def fits(self) -> bool | None:
        """Will all ``count`` servers go ACTIVE? None when only the quota could be checked
        and it allows them."""
        if not self.quota_ok:
            return False
        return self.capacity_ok

    @property
    def refusal(self) -> str:
        """What Nova will answer: its 403 text, "No valid host was found ..." or ""."""
        text = nova_refusal(self.quota, self.count)
        if text:
            return text
        if self.capacity_ok is False:
            return "No valid host was found. There are not enough hosts available."
        return ""

    @property
    def outcome(self) -> str:
        if not self.quota_ok:
            return "refused by nova-api (403): nothing is created"
        if self.capacity_ok is False:
            return f"all {self.count} servers created, then ERROR: no valid host"
        if self.capacity_ok is None:
            return "the quota allows it; capacity unknown (Placement not readable)"
        return f"{self.count} server{'s' if self.count != 1 else ''} ACTIVE"

    @property
    def limiting(self) -> str:
        """The resource that bounds how many such servers the project can boot now."""
        quota_room = self.quota_room
        capacity_room = self.capacity_room
        if quota_room is not None and (capacity_room is None or quota_room <= capacity_room):
            tight = [line for line in self.quota if line.room() == quota_room]
            names = ", ".join(line.label for line in tight)
            return f"quota: {names} (room for {quota_room} more)"
        if capacity_room is not None:
            if not any(not h.dropped_by_filter() for h in self.hosts):
                return "capacity: no compute host is up and enabled"
            if not self.capacity_exact:
                return f"neither: the quota is unlimited, the hosts take {capacity_room} or more"
            rc = self.blocking_class or "?"
            return f"capacity: {rc} on the hosts (room for {capacity_room} more)"
        return "nothing known: unlimited quota, capacity not readable"

    def host_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name in self.placed[: self.count]:
            counts[name] = counts.get(name, 0) + 1
        return counts

    def allows(self, counts: Mapping[str, int]) -> bool:
        """Whether servers landing ``counts`` per host is one of the spreads predicted (the
        first-by-name one, or another that a tie allows)."""
        spread = tuple(sorted((h, n) for h, n in counts.items() if n))
        if spread == tuple(sorted(self.host_counts().items())):
            return True
        return spread in self.spreads

    def tie_lines(self) -> list[str]:
        """Where two or more hosts weigh the same for a server: Nova takes the first in its
        own order of hosts, so either may take it."""
        lines = []
        for index, tied in enumerate(self.ties[: self.count]):
            if len(tied) > 1:
                lines.append(
                    f"#{index + 1}: {' = '.join(tied)} (equal weights: either may take it)"
                )
        return lines

    # ---- views ----
    def headline(self) -> str:
        f = self.flavor
        what = f"{self.count} x {f.name} ({f.vcpus} vCPU, {f.ram_mb} MB RAM, {f.disk_gb} GB disk)"
        answer = {True: "yes", False: "no", None: "as far as the quota goes, yes"}[self.fits]
        return f"Will {what} fit in {self.project}? {answer}"

    def quota_table(self) -> Table:
        t = Table(
            ["resource", "limit", "in use", "reserved", "this request", "after", "verdict"],
            title="Gate 1, the project's quota (nova-api checks it before making anything)",
        )
        for line in self.quota:
            ask = line.per_server * self.count
            after = line.in_use + line.reserved + ask
            limit = "unlimited" if line.unlimited else line.limit
            verdict = "over" if line.over(self.count) else "ok"
            t.add(
                line.label,
                limit,
                line.in_use,
                line.reserved,
                ask,
                after if line.unlimited else f"{after} of {line.limit}",
                verdict,
                mark="fail" if verdict == "over" else "",
            )
        room = self.quota_room
        if room is None:
            t.note = "The quota allows any number of such servers."
        else:
            t.note = f"The quota allows {room} more such server{'' if room == 1 else 's'}."
        return t

    def hosts_table(self) -> Table:
        t = Table(
            ["host", "nova-compute", *(f"{rc} free" for rc in RESOURCE_CLASSES), "would take"],
            title="Gate 2, the hosts (Placement's inventories and usage, then the scheduler)",
        )
        counts = self.host_counts()
        for host in sorted(self.hosts, key=lambda h: h.name):
            free = []
            for rc in RESOURCE_CLASSES:
                inv = host.inventories.get(rc)
                free.append("-" if inv is None else f"{inv.capacity - inv.used} of {inv.capacity}")
            taken = counts.get(host.name, 0)
            order = [
                str(i + 1) for i, name in enumerate(self.placed[: self.count]) if name == host.name
            ]
            why = self.left_out.get(host.name, "")
            t.add(
                host.name,
                f"{host.state}, {host.status}",
                *free,
                f"{taken} (#{', #'.join(order)})" if taken else (why or "0"),
                mark="dim" if why else ("ok" if taken else ""),
            )
        if self.capacity_ok is False:
            t.note = (
                f"Only {len(self.placed)} of the {self.count} find a host: the scheduler fails "
                "the whole request."
            )
        else:
            more = "" if self.capacity_exact else "at least "
            t.note = f"Room on the hosts for {more}{self.capacity_room} such servers in all."
        ties = self.tie_lines()
        if ties:
            t.note += " Ties: " + "; ".join(ties) + "."
        if not self.quota_ok:
            t.note += " (Not reached: nova-api refuses the request first.)"
        return t

    def verdict_lines(self) -> list[str]:
        lines = [f"outcome:  {self.outcome}"]
        if self.refusal:
            lines.append(f"Nova:     {self.refusal}")
        lines.append(f"limit:    {self.limiting}")
        return lines + [f"note:     {n}" for n in self.notes]

    def __str__(self) -> str:
        parts = [self.headline(), str(self.quota_table())]
        if self.capacity_known:
            parts.append(str(self.hosts_table()))
        parts.append("\n".join(self.verdict_lines()))
        return "\n\n".join(parts)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = {True: "#2e7d32", False: "#c62828", None: "#f9a825"}[self.fits]
        head = (
            f"<div style='font-size:1.1em;color:{colour}'>"
            f"<b>{html.escape(self.headline())}</b></div>"
        )
        tables = [self.quota_table()._repr_html_()]
        if self.capacity_known:
            tables.append(self.hosts_table()._repr_html_())
        verdict = "<br>".join(html.escape(line) for line in self.verdict_lines())
        return head + "".join(tables) + f"<div><code>{verdict}</code></div>"


def predict(
    project: str,
    flavor: Flavor,
    count: int,
    quota: Sequence[QuotaLine],
    hosts: Sequence[Host] | None,
    multipliers: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
) -> FitPrediction:
    """Both gates for ``count`` servers of ``flavor`` in ``project``. ``hosts`` None means
    Placement could not be read (only the quota is judged)."""
    prediction = FitPrediction(project, flavor, count, list(quota), notes=list(notes))
    if hosts is None:
        prediction.capacity_known = False
        return prediction
    explore = max(_EXPLORE, count) + 1  # one more than asked for: where does it stop?
    placed, ties, left_out = _walk(flavor, explore, hosts, multipliers)
    prediction.hosts = list(hosts)
    prediction.placed = placed[:count]  # greedy: a longer run starts as the request would
    prediction.ties = ties[:count]
    prediction.spreads, prediction.spreads_complete = spreads(flavor, count, hosts, multipliers)
    prediction.left_out = left_out
    prediction.capacity_room = len(placed)
    prediction.capacity_exact = len(placed) < explore
    if prediction.capacity_exact:
        prediction.blocking_class = _blocking_class(flavor, hosts, placed)
    return prediction
