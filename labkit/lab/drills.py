"""Drills: the classic faults, injected on purpose, for the learner to diagnose and undo.

Each drill says what it breaks and what a learner will see, and can be undone. They act
through the same calls a learner or an operator has (service stop/start, the APIs), so they
work on real lab hosts too, except where a drill needs the sim's clock.

Introduced in notebooks/04-nova.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from labkit.display import Text
from labkit.envs import CloudEnv, SimEnv
from labkit.errors import LabkitError, RegistryMiss
from labkit.lab import sdk
from labkit.lab.backends import SimBackend

if TYPE_CHECKING:
    from labkit.lab.core import Lab

SERVICE_DOWN_TIME = 61  # nova.conf [DEFAULT] service_down_time (60 s), and one more


@dataclass(frozen=True)
class Drill:
    name: str
    breaks: str  # what the drill does to the lab
    symptom: str  # what the learner will see
    look_at: str  # where to look first

    def text(self, done: str) -> Text:
        return Text(
            f"Drill '{self.name}': {done}\n"
            f"  what it breaks: {self.breaks}\n"
            f"  what you will see: {self.symptom}\n"
            f"  where to look: {self.look_at}\n"
            f"  undo it: lab.end_drill({self.name!r})"
        )


DRILLS = {
    d.name: d
    for d in (
        Drill(
            "computes-down",
            "nova-compute stops on every host",
            "new servers go to ERROR with 'No valid host was found'",
            "openstack compute service list; lab.scheduler_decision(server)",
        ),
        Drill(
            "flavor-too-big",
            "a flavor m1.huge with a 5 TB root disk appears",
            "a server of that flavor goes to ERROR with 'No valid host was found'",
            "openstack allocation candidate list --resource DISK_GB=5000; "
            "openstack hypervisor show HOST",
        ),
        Drill(
            "quota-exhausted",
            "the demo project's instances quota drops to what it uses",
            "server create answers 403 'Quota exceeded for instances'",
            "openstack quota show --usage demo; openstack limits show --absolute",
        ),
        Drill(
            "image-deleted-mid-boot",
            "a server 'doomed' boots from an image 'doomed-image' that is deleted while the "
            "build waits in nova-compute's queue",
            "the server goes to ERROR with 'Image ... could not be found.'",
            "openstack server show doomed -c fault; openstack server event show doomed REQ",
        ),
        Drill(
            "rabbitmq-stopped",
            "RabbitMQ stops on the controller",
            "server create answers 202 but the server stays BUILD; services go down",
            "the Nova logs ('AMQP server on controller:5672 is unreachable'); "
            "openstack compute service list",
        ),
    )
}


class Drills:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def _drill(self, name: str) -> Drill:
        if name not in DRILLS:
            raise RegistryMiss("drill", name, list(DRILLS))
        return DRILLS[name]

    def _computes(self) -> list[str]:
        env = self.lab.env
        if isinstance(env, CloudEnv):
            raise LabkitError(
                "This drill stops services on the lab's hosts; an existing cloud has none.",
                "Run it on the sim or on lab hosts.",
            )
        return [h.name for h in env.hosts if "worker" in h.roles]

    def _let_time_pass(self) -> str:
        env = self.lab.env
        if (
            isinstance(self.lab.backend, SimBackend)
            and isinstance(env, SimEnv)
            and env.sim.deterministic
        ):
            self.lab.advance_clock(SERVICE_DOWN_TIME)
            return "the sim's clock moved past service_down_time"
        return "wait a minute (service_down_time) before you boot"

    def start(self, name: str) -> Text:
        drill = self._drill(name)
        lab = self.lab
        conn = lab.connect("admin")
        if name == "computes-down":
            for host in self._computes():
                lab.stop_service("nova-compute", host=host)
            done = f"nova-compute stopped on {', '.join(self._computes())}; {self._let_time_pass()}"
        elif name == "flavor-too-big":
            if conn.compute.find_flavor("m1.huge") is None:
                conn.compute.create_flavor(name="m1.huge", vcpus=1, ram=512, disk=5000)
            done = "flavor m1.huge created"
        elif name == "quota-exhausted":
            project = sdk.identity(conn).find_project("demo", ignore_missing=False)
            servers = list(conn.compute.servers(all_projects=True, project_id=project.id))
            conn.compute.update_quota_set(project.id, instances=len(servers))
            done = f"project demo may run {len(servers)} servers, and runs {len(servers)}"
        elif name == "image-deleted-mid-boot":
            done = self._image_deleted_mid_boot()
        elif name == "rabbitmq-stopped":
            lab.stop_service("rabbitmq-server")
            done = f"rabbitmq-server stopped on the controller; {self._let_time_pass()}"
        else:  # a drill in DRILLS without a start: a labkit bug
            raise LabkitError(f"drill {name} has no start", "This is a labkit bug.")
        return drill.text(done)

    def _image_deleted_mid_boot(self) -> str:
        """Boot from a fresh image while nova-compute's build message is held in its queue,
        delete the image, then let the message go: the compute finds the image gone."""
        lab = self.lab
        if not isinstance(lab.backend, SimBackend):
            raise LabkitError(
                "This drill holds a message on the sim's bus; real RabbitMQ has no such knob.",
                "Run it on the sim, or delete an image by hand while a big one boots.",
            )
        conn = lab.connect("admin")
        glance = sdk.image(conn)
        image = glance.create_image(
            name="doomed-image", disk_format="raw", container_format="bare", data=b"x" * 4096
        )
        lab.sim.hold("build_and_run_instance")
        try:
            server = lab.boot("doomed", flavor="m1.nano", image="doomed-image", wait=False)
            lab.sim.quiesce(30)  # scheduled and placed: the build waits in compute's queue
            glance.delete_image(image)
        finally:
            lab.sim.release("build_and_run_instance")
        conn.compute.wait_for_server(server, status="ERROR", interval=0.5, wait=60)
        return "server doomed was placed, its image deleted, then nova-compute built it"

    def end(self, name: str) -> Text:
        drill = self._drill(name)
        lab = self.lab
        conn = lab.connect("admin")
        if name == "computes-down":
            for host in self._computes():
                lab.start_service("nova-compute", host=host)
            done = "nova-compute started again on every host"
        elif name == "flavor-too-big":
            flavor = conn.compute.find_flavor("m1.huge")
            if flavor is not None:
                conn.compute.delete_flavor(flavor)
            done = "flavor m1.huge deleted"
        elif name == "quota-exhausted":
            project = sdk.identity(conn).find_project("demo", ignore_missing=False)
            conn.compute.revert_quota_set(project.id)
            done = "project demo is back to the default quotas"
        elif name == "image-deleted-mid-boot":
            server = conn.compute.find_server("doomed")
            if server is not None:
                conn.compute.delete_server(server)
                conn.compute.wait_for_delete(server, interval=0.5, wait=60)
            done = "server doomed deleted"
        else:
            lab.start_service("rabbitmq-server")
            done = "rabbitmq-server started again; services reconnect by themselves"
        return drill.text(done)
