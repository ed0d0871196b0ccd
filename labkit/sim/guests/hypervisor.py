"""Every compute host's hypervisor: guests that boot, run cloud-init and answer SSH.

Nova's libvirt driver asks its host's ``libvirtd`` to define and start a domain; QEMU then
runs the guest's kernel, and everything after that -- DHCP, cloud-init, sshd -- happens
*inside* the guest, where Nova cannot see. :class:`Guests` is all the hosts' hypervisors
(it implements :class:`labkit.sim.core.hypervisor.Hypervisors`), and each :class:`Guest` is
one domain with its disk (:class:`~.system.GuestSystem`), its serial console and, while it
runs, one :class:`~labkit.sim.core.wire.Endpoint` per NIC on the wire.

A boot, step by step (each step takes a moment of the sim's pace; none in instant pace):

1. the kernel's lines on the console (the flavor's CPUs and memory);
2. cloud-init ``init-local``; then the network: the NICs' endpoints are attached (the
   address answers ping from now on, if its security groups let ICMP in) once Neutron's
   agent has plugged the ports -- Nova would not have started the domain before its
   ``network-vif-plugged`` event;
3. cloud-init ``init``: the metadata service through the wire (or the config drive), the
   hostname, users, keys and files; then ``sshd`` starts listening on port 22;
4. ``modules:config``, the login prompt, ``modules:final`` (packages, ``runcmd``, the host
   keys printed on the console, the final message).

Power off and destroy detach the endpoints and end the SSH sessions; power on and reboot
boot again with the same disk: same host keys, and cloud-init skips its per-instance work.
The disk and console are kept in ``<state>/guests/<uuid>.json`` so a restarted sim keeps
them too; a nova-compute restart does not touch the guests at all.

All guests share one asyncio event loop in one daemon thread, started with the first
guest (no thread, no file at import or when the sim is built); work that may block (HTTP to
the metadata service through the wire, shell commands that send packets) runs on a small
pool of worker threads.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from labkit.sim.core.bus import Bus
from labkit.sim.core.hypervisor import GuestNic, GuestNotFound, GuestSpec
from labkit.sim.core.runtime import Runtime
from labkit.sim.core.wire import (
    METADATA_ADDRESS,
    Endpoint,
    Verdict,
    Wire,
    WireError,
    WireRequest,
    WireResponse,
)
from labkit.sim.guests.boot import BootClock, ConsoleLog, kernel_lines, login_banner
from labkit.sim.guests.cloudinit import CloudInit, ConfigDrive, Interrupted, MetadataService
from labkit.sim.guests.profiles import profile_for
from labkit.sim.guests.shell import GuestContext, Shell
from labkit.sim.guests.sshd import Sshd
from labkit.sim.guests.system import GuestSystem

T = TypeVar("T")
# Seconds a booting guest waits for Neutron to plug its ports: its DHCP client keeps asking
# for about a minute (dhclient), and the L2 agent plugs ports one after the other -- a
# hundred boots at once keep it busy for many seconds.
PLUG_WAIT = 60.0
WORKERS = 16


class GuestNet:
    """The guest's packets on the wire: each leaves by the NIC that routes it."""

    def __init__(self, wire: Wire, nics: tuple[GuestNic, ...]) -> None:
        self.wire = wire
        self.nics = nics

    def _nic(self, destination: str) -> GuestNic | None:
        address = ipaddress.ip_address(destination)
        for nic in self.nics:
            if address in ipaddress.ip_network(nic.cidr, strict=False):
                return nic
        # the metadata address and everything off-link: the first NIC (its default route)
        return self.nics[0] if self.nics else None

    def http(self, method: str, host: str, port: int, path: str) -> WireResponse:
        nic = self._nic(host)
        if nic is None:
            raise WireError(Verdict.UNREACHABLE)
        request = WireRequest(
            source=nic.address,
            network_id=nic.network_id,
            method=method,
            path=path,
            headers={"Host": host, "User-Agent": "curl/7.35.0", "Accept": "*/*"},
        )
        return self.wire.http(request, host, port)

    def ping(self, destination: str) -> Verdict:
        nic = self._nic(destination)
        if nic is None:
            return Verdict.UNREACHABLE
        return self.wire.ping(nic.address, destination, nic.network_id)


class Guest:
    """One domain: its definition (the spec), its disk, its console, and its power."""

    def __init__(
        self, guests: Guests, spec: GuestSpec, system: GuestSystem, console: ConsoleLog
    ) -> None:
        self.guests = guests
        self.spec = spec
        self.system = system
        self.console = console
        self.running = False
        self.generation = 0
        self.booted_at: datetime = guests.runtime.now()
        self.first_boot_at: str = ""  # the deterministic host keys' seed
        self.boots = 0  # power-ons of this disk (each boot's small irregularities differ)
        self.endpoints: list[Endpoint] = []
        self.sshd: Sshd | None = None
        self.clock: BootClock | None = None
        self.task: concurrent.futures.Future[None] | None = None
        self.lock = threading.RLock()

    # ---- power -------------------------------------------------------------------------------
    def power_on(self) -> None:
        with self.lock:
            if self.running:
                return
            self.generation += 1
            self.boots += 1
            self.running = True
            self.booted_at = self.guests.runtime.now()
            if not self.first_boot_at:
                self.first_boot_at = self.booted_at.isoformat()
            generation = self.generation
        self.task = self.guests.submit(self._boot(generation))

    def power_off(self, farewell: str | None = None) -> None:
        """Stop the guest: its addresses leave the wire, its SSH sessions end."""
        with self.lock:
            if not self.running:
                return
            self.generation += 1
            self.running = False
            endpoints, self.endpoints = self.endpoints, []
            sshd, self.sshd = self.sshd, None
            task, self.task = self.task, None
        for endpoint in endpoints:
            endpoint.listeners.pop(("tcp", 22), None)
            if self.guests.wire.endpoint(endpoint.address, endpoint.network_id) is endpoint:
                self.guests.wire.detach(endpoint.network_id, endpoint.address)
        if sshd is not None:
            self.guests.call_soon(sshd.close)
        if task is not None:
            task.cancel()
        clock = self.clock
        if farewell and clock is not None:
            clock.advance(2.0)  # systemd stops the services first
            self.console.write(f"{clock.stamp()} {farewell}")

    def alive(self, generation: int) -> bool:
        return self.running and self.generation == generation

    # ---- the boot ----------------------------------------------------------------------------
    async def _boot(self, generation: int) -> None:
        if not self.alive(generation):
            return  # powered off before the loop got to it
        spec, system = self.spec, self.system
        system.vcpus, system.memory_mb, system.disk_gb = spec.vcpus, spec.memory_mb, spec.disk_gb
        clock = self.clock = BootClock(self.booted_at, f"{spec.uuid}/{self.boots}")
        for uptime, text in kernel_lines(system.profile, spec.vcpus, spec.memory_mb, spec.disk_gb):
            self.console.write(f"[{uptime + (clock.jitter(0.002) if uptime else 0):12.6f}] {text}")
        clock.uptime = 1.9 + clock.jitter(0.4)
        ci = CloudInit(
            system=system,
            uuid=spec.uuid,
            nics=spec.nics,
            clock=clock,
            console=self.console,
            source=self._datasource(),
            run_script=self._run_script,
            key_seed=self._key_seed(),
            alive=lambda: self.alive(generation),
        )
        started = time.perf_counter()
        try:
            await self.guests.pace()
            await self.guests.blocking(ci.init_local)
            await self._network_up(generation)
            plugged = time.perf_counter() - started
            await self.guests.pace()
            await self.guests.blocking(ci.init)
            self._start_sshd(generation)
            listening = time.perf_counter() - started
            await self.guests.pace()
            await self.guests.blocking(ci.modules_config)
            for line in login_banner(system.profile, system.hostname):
                self._write(generation, line)
            await self.guests.pace()
            await self.guests.blocking(ci.modules_final)
        except Interrupted:
            return
        self.guests.save(self)
        self.guests.log.info(
            "[instance: %s] %s on %s: ports plugged after %.0f ms, sshd listening after "
            "%.0f ms, cloud-init done after %.0f ms (%s)",
            spec.uuid,
            "first boot" if ci.new_instance else "boot",
            spec.host,
            plugged * 1000,
            listening * 1000,
            (time.perf_counter() - started) * 1000,
            system.datasource,
        )

    def _write(self, generation: int, line: str) -> None:
        if not self.alive(generation):
            raise Interrupted()
        self.console.write(line)

    def _datasource(self) -> ConfigDrive | MetadataService:
        if self.spec.config_drive is not None:
            return ConfigDrive(self.spec.config_drive)
        nic = self.spec.nics[0] if self.spec.nics else None

        def fetch(path: str) -> WireResponse:
            if nic is None:
                raise WireError(Verdict.UNREACHABLE)
            if path == "/openstack":
                self.guests.settle()
            request = WireRequest(
                source=nic.address,
                network_id=nic.network_id,
                method="GET",
                path=path,
                headers={"User-Agent": "Cloud-Init/23.1", "Accept": "*/*"},
            )
            return self.guests.wire.http(request, METADATA_ADDRESS, 80)

        return MetadataService(fetch, self.spec.uuid, self.guests.fetch_pool())

    def _key_seed(self) -> str | None:
        config = self.guests.runtime.config
        if not config.deterministic:
            return None
        return f"{config.seed}/{self.spec.uuid}/{self.first_boot_at}"

    async def _network_up(self, generation: int) -> None:
        """The NICs come up: wait (a little) for the ports to be plugged, then the
        addresses are on the wire."""
        firewall_of = self.guests.wire.firewall
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PLUG_WAIT
        while loop.time() < deadline and not all(
            firewall_of(self.spec.host).get(nic.port_id) is not None for nic in self.spec.nics
        ):
            await asyncio.sleep(0.01)
        with self.lock:
            if not self.alive(generation):
                raise Interrupted()
            self.endpoints = [
                Endpoint(
                    address=nic.address,
                    network_id=nic.network_id,
                    host=self.spec.host,
                    port_id=nic.port_id,
                )
                for nic in self.spec.nics
            ]
            for endpoint in self.endpoints:
                self.guests.wire.attach(endpoint)

    def _start_sshd(self, generation: int) -> None:
        keys = [
            f.content.encode()
            for path, f in sorted(self.system.files.items())
            if path.startswith("/etc/ssh/ssh_host_") and path.endswith("_key")
        ]
        if not keys:
            return  # no host keys: sshd refuses to start
        sshd = Sshd(self.system, keys, self.shell, self.guests.blocking, self.guests.loop())
        with self.lock:
            if not self.alive(generation):
                raise Interrupted()
            self.sshd = sshd
            for endpoint in self.endpoints:
                endpoint.listeners[("tcp", 22)] = sshd

    # ---- the shell ---------------------------------------------------------------------------
    def context(self) -> GuestContext:
        return GuestContext(
            system=self.system,
            nics=self.spec.nics,
            net=GuestNet(self.guests.wire, self.spec.nics),
            now=self.now,
            booted_at=self.booted_at,
            sessions=lambda: max(1, len(self.sshd.connections) if self.sshd else 1),
            sleep=self.guests.sleep,
        )

    def now(self) -> datetime:
        """The guest's clock: the sim's, but never behind what its boot already printed."""
        now = self.guests.runtime.now()
        clock = self.clock
        return max(now, clock.now()) if clock is not None else now

    def shell(self, user: str) -> Shell:
        return Shell(self.context(), user)

    def _run_script(self, path: str, script: str) -> tuple[int, str]:
        """``/bin/sh path`` as root (cloud-init's user scripts): line by line, the status of
        the last command; errors name the script and the line as dash does."""
        shell = Shell(self.context(), "root", cwd="/", script=path)
        output = ""
        for number, line in enumerate(script.splitlines(), start=1):
            if number == 1 and line.startswith("#!"):
                continue
            result = shell.run(line, number)
            output += result.out + result.err
            if result.exit:
                break
        return shell.status, output

    # ---- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        spec = asdict(self.spec)
        if self.spec.config_drive is not None:
            spec["config_drive"] = {
                k: base64.b64encode(v).decode() for k, v in self.spec.config_drive.items()
            }
        return {
            "spec": spec,
            "system": self.system.to_dict(),
            "console": self.console.lines(),
            "running": self.running,
            "first_boot_at": self.first_boot_at,
            "boots": self.boots,
        }


def spec_from_dict(data: dict[str, Any]) -> GuestSpec:
    drive = data.get("config_drive")
    return GuestSpec(
        **{
            **data,
            "nics": tuple(GuestNic(**n) for n in data.get("nics", [])),
            "config_drive": (
                {k: base64.b64decode(v) for k, v in drive.items()} if drive is not None else None
            ),
        }
    )


class Guests:
    """All compute hosts' hypervisors (``ctx.hypervisors`` for the rooms)."""

    def __init__(self, runtime: Runtime, wire: Wire, bus: Bus | None = None) -> None:
        self.runtime = runtime
        self.wire = wire
        self.bus = bus
        self._pace = float(runtime.config.pace or 0.0)
        self._dir: Path = runtime.state_dir / "guests"
        self._guests: dict[str, Guest] = {}
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._workers: concurrent.futures.ThreadPoolExecutor | None = None
        self._fetchers: concurrent.futures.ThreadPoolExecutor | None = None
        self._closed = False

    @property
    def log(self) -> logging.Logger:
        """libvirt's own log (``logs/libvirt.log``): what the hypervisors did, with timings
        (opened at the first line, not when the sim is built)."""
        return self.runtime.logger("libvirt")

    # ---- the Hypervisors protocol ------------------------------------------------------------
    def spawn(self, spec: GuestSpec) -> None:
        """Define the domain (a new disk from the image, or -- after a resize or a restart of
        the sim -- the disk it had) and start it. A running domain is redefined and booted
        again."""
        with self._lock:
            guest = self._guests.get(spec.uuid) or self._load(spec.uuid)
            if guest is None:
                profile, user = profile_for(spec.image_name, spec.image_properties)
                guest = Guest(self, spec, GuestSystem.fresh(profile, user), ConsoleLog())
            self._guests[spec.uuid] = guest
        guest.power_off()
        guest.spec = spec
        guest.power_on()
        self.save(guest)

    def power_off(self, uuid: str) -> None:
        guest = self._find(uuid)
        if guest is not None:
            guest.power_off("reboot: Power down")
            self.save(guest)

    def power_on(self, uuid: str) -> None:
        guest = self._find(uuid)
        if guest is None:
            raise GuestNotFound(uuid)
        guest.power_on()

    def reboot(self, uuid: str, hard: bool = False) -> None:
        guest = self._find(uuid)
        if guest is None:
            raise GuestNotFound(uuid)
        guest.power_off(None if hard else "reboot: Restarting system")
        guest.power_on()

    def destroy(self, uuid: str) -> None:
        guest = self._find(uuid)
        with self._lock:
            self._guests.pop(uuid, None)
        if guest is not None:
            guest.power_off()
        with contextlib.suppress(OSError):
            (self._dir / f"{uuid}.json").unlink()

    def console(self, uuid: str) -> list[str]:
        guest = self._find(uuid)
        if guest is None:
            raise GuestNotFound(uuid)
        return guest.console.lines()

    # ---- beyond the protocol: for the sim and its tests --------------------------------------
    def running(self, uuid: str) -> bool:
        guest = self._find(uuid)
        return guest is not None and guest.running

    def guest(self, uuid: str) -> Guest | None:
        return self._find(uuid)

    def close(self) -> None:
        """The sim shuts down: save every guest's disk and console, stop the loop."""
        with self._lock:
            self._closed = True
            guests = list(self._guests.values())
            loop, thread = self._loop, self._thread
            pools = [p for p in (self._workers, self._fetchers) if p is not None]
        for guest in guests:
            self.save(guest)
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=2)
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)

    # ---- the loop and the workers ------------------------------------------------------------
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._workers = concurrent.futures.ThreadPoolExecutor(
                    max_workers=WORKERS, thread_name_prefix="guest-work"
                )
                self._fetchers = concurrent.futures.ThreadPoolExecutor(
                    max_workers=WORKERS, thread_name_prefix="guest-fetch"
                )
                self._thread = threading.Thread(
                    target=self._run_loop, args=(self._loop,), name="guests", daemon=True
                )
                self._thread.start()
            return self._loop

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    def submit(self, coroutine: Any) -> concurrent.futures.Future[None]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop())

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.loop().call_soon_threadsafe(callback)

    async def blocking(self, work: Callable[[], T]) -> T:
        """Run ``work`` on a worker thread (it may block on the wire or the bus)."""
        self.loop()
        return await asyncio.get_running_loop().run_in_executor(self._workers, work)

    async def pace(self) -> None:
        """A boot step takes the sim's pace (nothing in instant pace)."""
        if self._pace:
            await asyncio.sleep(self._pace)

    def sleep(self, seconds: float) -> None:
        """A guest command that waits (``ping``'s second between packets, ``sleep``):
        only as long as the pace says (called on a worker thread)."""
        if self._pace:
            threading.Event().wait(min(seconds, self._pace))

    def fetch_pool(self) -> concurrent.futures.Executor | None:
        """Where a guest's metadata requests run side by side (none in deterministic mode:
        one after the other keeps the order of what they cause on the bus)."""
        if self.runtime.config.deterministic:
            return None
        self.loop()
        return self._fetchers

    def settle(self) -> None:
        """Deterministic sims: let the work the boot started on the bus finish before the
        guest talks to the metadata service, so the order of what happens is the same on
        every run (called on a worker thread)."""
        if self.bus is not None and self.runtime.config.deterministic:
            self.bus.wait_idle(timeout=10)

    # ---- finding and saving guests -----------------------------------------------------------
    def _find(self, uuid: str) -> Guest | None:
        with self._lock:
            found = self._guests.get(uuid) or self._load(uuid)
            if found is not None:
                self._guests[uuid] = found
            return found

    def _load(self, uuid: str) -> Guest | None:
        path = self._dir / f"{uuid}.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        spec = spec_from_dict(data["spec"])
        profile, _ = profile_for(spec.image_name, spec.image_properties)
        system = GuestSystem.from_dict(data["system"], profile)
        guest = Guest(self, spec, system, ConsoleLog(data.get("console", [])))
        guest.first_boot_at = data.get("first_boot_at", "")
        guest.boots = int(data.get("boots", 0))
        return guest  # powered off: a restarted sim has no domain running yet

    def save(self, guest: Guest) -> None:
        """Write the guest's definition, disk and console (``<state>/guests/<uuid>.json``)."""
        with guest.lock:
            if self._find_exact(guest.spec.uuid) is not guest:
                return  # destroyed meanwhile
            data = json.dumps(guest.to_dict())
            self._dir.mkdir(parents=True, exist_ok=True)
            path = self._dir / f"{guest.spec.uuid}.json"
            tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
            tmp.write_text(data)
            tmp.replace(path)

    def _find_exact(self, uuid: str) -> Guest | None:
        with self._lock:
            return self._guests.get(uuid)
