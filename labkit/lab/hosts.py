"""The hosts facade: the lab's machines, their network, the files on them and the services
they run -- read live from the sim, or from real hosts over SSH; services started and
stopped the way an operator would.

Introduced in notebooks/01-hosts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.display import Table, Text
from labkit.errors import LabkitError
from labkit.hostfiles import Action, HostFiles, ServiceChange
from labkit.lab.backends import Backend

if TYPE_CHECKING:
    from labkit.diagrams import Diagram


class Hosts:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def state(self) -> dict[str, Any]:
        """Hosts, network and running services: live from the sim, else from the env file
        and the hosts themselves."""
        return self.backend.hosts_state()

    def files(self) -> HostFiles:
        """The lab's hosts as files, folders and services: the sim's control API, or the
        real hosts over SSH (the same answers)."""
        return self.backend.host_files()

    def read_file(self, host: str, path: str) -> str:
        """A (small) file on one of the lab's hosts."""
        return str(self.files().file(host, path)["content"])

    def draw_topology(self, env_name: str, **network: Any) -> Diagram:
        """The seed's picture, drawn from this lab, with what ``network`` adds: ``guests``
        (its servers), ``bridges`` and ``dhcp`` (see :func:`labkit.diagrams.graphs.topology`)."""
        from labkit.diagrams import Diagram, graphs

        state = {**self.state(), "title": f"Lab {env_name!r}: hosts and network"}
        state.update({k: v for k, v in network.items() if v})
        return Diagram(graphs.topology(state))

    def requirements_table(self) -> Table:
        """Requirements vs this lab's hosts."""
        from labkit.widgets.hosts import requirements_table

        state = self.state()
        return requirements_table(state["hosts"], state["network"]["cidr"])

    def services_table(self) -> Table | Text:
        """Services running on the hosts."""
        from labkit.widgets.hosts import services_table

        if not self.backend.has_hosts:
            return Text("An existing cloud: its operators know which services run where.")
        return services_table(self.state()["hosts"], self.backend.now())

    def service(self, name: str, action: Action, host: str | None = None) -> ServiceChange:
        """``service NAME start|stop`` on ``host`` (default: the controller)."""
        if not self.backend.has_hosts:
            raise LabkitError(
                f"{self.backend.env.name} is an existing cloud: labkit does not start or stop "
                "its services.",
                "Ask its operators, or use a sim or ssh env.",
            )
        host = host or self.backend.plan_context().controller.name
        return self.files().service(host, name, action)
