"""What the Neutron tests share: raw requests with a connection's token, for requests the
SDK would not send as they are, and the NeutronError body Neutron answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any


def raw(conn: Any, lab: Any, method: str, path: str, **kwargs: Any) -> Any:
    """A request to Neutron with the connection's token; errors returned, not raised."""
    url = f"http://127.0.0.1:{lab.sim_port}/networking/v2.0{path}"
    headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
    return conn.session.request(url, method, headers=headers, raise_exc=False, **kwargs)


def neutron_error(response: Any) -> tuple[int, str, str]:
    """A NeutronError as (status, type, message); its ``detail`` is empty, as Neutron's is."""
    body = response.json()["NeutronError"]
    assert body["detail"] == ""
    return response.status_code, body["type"], body["message"]


def vlan_lab(tmp_path_factory: Any, name: str) -> Iterator[Any]:
    """A private sim with the networking layer whose ML2 also has VLANs 100-199 on the
    provider physical network (``[ml2_type_vlan] network_vlan_ranges``): the Install Guide's
    option gives an admin no second network to make, and these tests want several."""
    from labkit.install import steps as st
    from tests.conftest import private_sim

    for lab in private_sim(tmp_path_factory, name, layer="networking"):
        step = st.IniSet(
            title="VLANs for the tests",
            host="controller",
            path="/etc/neutron/plugins/ml2/ml2_conf.ini",
            settings=(("ml2_type_vlan", "network_vlan_ranges", "provider:100:199"),),
        )
        lab.sim.step("controller", step.to_dict(), "apply", lab.secrets, set())
        assert lab.sim.service("controller", "neutron-api", "restart")["ok"]
        yield lab


def osc_json(osc: Callable[..., Any], command: str, cloud: str = "lab-admin") -> Any:
    """An ``openstack`` CLI command's ``-f json`` answer."""
    return json.loads(osc(f"{command} -f json", cloud=cloud).stdout)
