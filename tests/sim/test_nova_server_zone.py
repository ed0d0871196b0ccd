"""A server's availability zone is its host's, whether the request named one or not: Nova's
conductor sets ``instance.availability_zone`` from the chosen host when it schedules the
build (``get_host_availability_zone``). A server booted without ``--availability-zone``
(notebook 05's server1) shows ``nova`` in ``openstack server show`` and in the dashboard's
instance list, as on a real Zed cloud; it was empty."""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

import pytest

from tests.conftest import openstack_cli

pytestmark = pytest.mark.slow


def test_a_server_booted_without_a_zone_is_in_its_hosts_zone(nova_lab: Any) -> None:
    cli = openstack_cli(nova_lab)

    def run(command: str) -> Any:
        return cli(command, cloud="lab-demo")

    name = f"zone-{os.urandom(3).hex()}"
    created = run(
        shlex.join(
            [
                "server",
                "create",
                "--flavor",
                "m1.nano",
                "--image",
                "cirros",
                "--network",
                "provider",
                "--wait",
                name,
                "-f",
                "json",
            ]
        )
    )
    try:
        server = json.loads(created.stdout)
        assert server["status"] == "ACTIVE"
        shown = json.loads(run(f"server show {name} -f json").stdout)
        assert shown["OS-EXT-AZ:availability_zone"] == "nova", shown
        zones = {z.name for z in nova_lab.connect("demo").compute.availability_zones()}
        assert shown["OS-EXT-AZ:availability_zone"] in zones
    finally:
        run(f"server delete --wait {name}")
