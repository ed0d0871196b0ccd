"""Stopping and starting a service on the sim's hosts, through ``Lab`` and through
``labkit sim stop-service|start-service``: what the learner sees when a service is down,
and clear refusals for names the lab does not have."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from labkit.errors import RegistryMiss
from labkit.hostfiles import UnknownService
from labkit.lab import Lab

LABKIT = str(Path(sys.executable).parent / "labkit")


def _labkit(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI against ``lab``'s sim, told where it is by flags only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    command = [LABKIT, "--state-dir", str(lab.paths.root.parent), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def _state(lab: Lab, host: str, name: str) -> str:
    hosts = {h["name"]: h for h in lab.sim.hosts()["hosts"]}
    return next(s["state"] for s in hosts[host]["services"] if s["name"] == name)


def test_a_stopped_keystone_answers_503_until_it_is_started(sim_lab: Lab) -> None:
    identity = f"{sim_lab.sim.base_url}/identity/v3"
    try:
        stopped = sim_lab.stop_service("keystone")
        assert (stopped.host, stopped.state) == ("controller", "stopped")
        assert str(stopped).startswith("keystone on controller: stopped")
        assert _state(sim_lab, "controller", "keystone") == "stopped"
        response = httpx.get(identity, timeout=10)
        assert response.status_code == 503
        assert "Keystone is not running on controller" in response.json()["error"]["message"]
    finally:
        started = sim_lab.start_service("keystone", host="controller")
    assert started.state == "running" and "Starting keystone" in str(started)
    assert httpx.get(identity, timeout=10).status_code == 200


def test_unknown_service_and_host_are_refused_with_the_valid_names(sim_lab: Lab) -> None:
    with pytest.raises(UnknownService) as caught:
        sim_lab.stop_service("nosuch")
    assert caught.value.message == "No service 'nosuch' on controller."
    assert "keystone" in caught.value.hint and "mariadb" in caught.value.hint
    with pytest.raises(RegistryMiss, match="No host named 'nohost'") as missed:
        sim_lab.start_service("keystone", host="nohost")
    assert "controller, worker1" in missed.value.hint


def test_cli_stops_and_starts_a_service(sim_lab: Lab) -> None:
    try:
        stop = _labkit(sim_lab, "sim", "stop-service", "memcached")
        assert stop.returncode == 0, stop.stderr
        assert stop.stdout.splitlines()[0] == "memcached on controller: stopped"
        assert _state(sim_lab, "controller", "memcached") == "stopped"
    finally:
        start = _labkit(sim_lab, "sim", "start-service", "memcached", "--host", "controller")
    assert start.returncode == 0, start.stderr
    assert start.stdout.splitlines()[0] == "memcached on controller: running"
    assert _state(sim_lab, "controller", "memcached") == "running"


def test_cli_refuses_unknown_names_with_a_message_and_exit_1(sim_lab: Lab) -> None:
    service = _labkit(sim_lab, "sim", "stop-service", "nosuch")
    assert service.returncode == 1
    assert "labkit: No service 'nosuch' on controller." in service.stderr
    assert "Services on controller:" in service.stderr
    host = _labkit(sim_lab, "sim", "start-service", "keystone", "--host", "nohost")
    assert host.returncode == 1
    assert "No host named 'nohost'" in host.stderr and "controller, worker1" in host.stderr
