"""What neutron-server tells the agents over RabbitMQ, and when it waits for them.

Neutron's server casts to its agents rather than waiting for them:

- ``port_update`` to ``q-agent-notifier-port-update`` on the host a port is bound to: the
  Linux bridge agent there plugs the port and reports the device up (``update_device_up`` on
  ``q-plugin``), which makes the port ``ACTIVE``;
- ``network_create_end`` / ``subnet_create_end`` / ``subnet_update_end`` /
  ``subnet_delete_end`` / ``network_delete_end`` to ``dhcp_agent`` on the hosts of the DHCP
  agents hosting the network: the DHCP agent then asks the server for its DHCP port
  (``create_dhcp_port``) or gives it back (``release_dhcp_port``).

Nothing is sent unless the server's ``transport_url`` logs in to RabbitMQ. A deterministic
sim (notebooks, tests) lets this background work finish before the API answers, so that the
same requests always see the same results; a real-time sim leaves it running, as Neutron does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from labkit.sim.core.bus import Bus

PORT_UPDATE_TOPIC = "q-agent-notifier-port-update"
DHCP_TOPIC = "dhcp_agent"
PLUGIN_TOPIC = "q-plugin"
REPORTS_TOPIC = "q-reports-plugin"


def on_bus_thread() -> bool:
    """Is this code running as a message handler (the bus's own threads)?"""
    return threading.current_thread().name.startswith("bus-")


class AgentNotifier:
    def __init__(
        self,
        bus: Bus,
        component: str,
        host: str,
        transport_url: Callable[[], str],
        deterministic: bool,
    ) -> None:
        self.bus = bus
        self.component = component
        self.host = host
        self.transport_url = transport_url
        self.deterministic = deterministic

    def _cast(self, topic: str, server: str, method: str, **kwargs: Any) -> None:
        client = self.bus.client(self.component, self.host, topic, self.transport_url, server)
        client.cast(method, **kwargs)

    def port_update(self, host: str, port_id: str, network_id: str) -> None:
        self._cast(PORT_UPDATE_TOPIC, host, "port_update", port_id=port_id, network_id=network_id)

    def port_delete(self, host: str, port_id: str) -> None:
        self._cast(PORT_UPDATE_TOPIC, host, "port_delete", port_id=port_id)

    def dhcp(self, hosts: list[str], event: str, network_id: str, **payload: Any) -> None:
        for host in hosts:
            self._cast(DHCP_TOPIC, host, event, network_id=network_id, **payload)

    def settle(self) -> None:
        """Deterministic sims: let the agents finish what was just sent before answering."""
        if self.deterministic and not on_bus_thread():
            self.bus.wait_idle(timeout=10)
