"""The metadata service as a guest sees it: requests on the wire from the server's fixed IP
to 169.254.169.254 go through the DHCP agent's proxy, the neutron-metadata-agent and
nova-api-metadata, and answer with the OpenStack and EC2 trees of that server -- or with the
errors of a broken path (wrong shared secret: 403; no metadata agent: 503).

The guest's side is the sim's control API (``POST /_sim/wire/http``, what ``curl`` inside a
guest does); servers are made with the ``openstack`` CLI (``--user-data``,
``--config-drive``) and openstacksdk.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from labkit.install import steps as st
from labkit.sim.nova import metadata as md
from tests.conftest import openstack_cli

pytestmark = pytest.mark.slow
Osc = Callable[..., subprocess.CompletedProcess[str]]
METADATA_AGENT_INI = "/etc/neutron/metadata_agent.ini"
NOVA_CONF = "/etc/nova/nova.conf"
USER_DATA = "#cloud-config\nhostname: from-user-data\nruncmd:\n  - [touch, /tmp/ran]\n"


@pytest.fixture(scope="module")
def cli(nova_lab: Any) -> Osc:
    run = openstack_cli(nova_lab)
    return lambda *args, check=True: run(shlex.join(args), check=check)


@pytest.fixture(scope="module")
def admin(nova_lab: Any) -> Any:
    return nova_lab.connect("admin")


class Guest:
    """A booted server and what a request from inside it needs: its address and network."""

    def __init__(self, lab: Any, admin: Any, server: Any, key: Any) -> None:
        self.lab, self.server, self.key = lab, server, key
        port = next(iter(admin.network.ports(device_id=server.id)))
        self.port = port
        self.address = port.fixed_ips[0]["ip_address"]
        self.network_id = port.network_id

    def get(self, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = self.lab.sim.wire_http(self.address, path, network_id=self.network_id, **kwargs)
        assert answer["ok"], answer
        return answer

    def json(self, path: str) -> Any:
        answer = self.get(path)
        assert answer["status"] == 200, answer
        return json.loads(answer["body"])

    def text(self, path: str) -> str:
        answer = self.get(path)
        assert answer["status"] == 200, (path, answer)
        return str(answer["body"])


@pytest.fixture(scope="module")
def guest(
    nova_lab: Any, admin: Any, cli: Osc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guest]:
    """A server booted from the CLI with a key, user data and a config drive."""
    key = admin.compute.create_keypair(name="metakey")
    user_data = tmp_path_factory.mktemp("metadata") / "user-data.yaml"
    user_data.write_text(USER_DATA)
    out = cli(
        "server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--network",
        "provider", "--key-name", "metakey", "--user-data", str(user_data),
        "--config-drive", "true", "--wait", "-f", "json", "meta1",
    )  # fmt: skip
    server = admin.compute.get_server(json.loads(out.stdout)["id"])
    yield Guest(nova_lab, admin, server, key)
    admin.compute.delete_server(server)
    admin.compute.delete_keypair(key)


@pytest.fixture(scope="module")
def plain(nova_lab: Any, admin: Any) -> Iterator[Guest]:
    """A server with neither key nor user data nor config drive."""
    server = admin.compute.create_server(
        name="plain1",
        flavor_id=admin.compute.find_flavor("m1.tiny").id,
        image_id=admin.image.find_image("cirros").id,
        networks="auto",
    )
    server = admin.compute.wait_for_server(
        server, status="ACTIVE", failures=["ERROR"], interval=0.2, wait=60
    )
    yield Guest(nova_lab, admin, server, None)
    admin.compute.delete_server(server)


@contextmanager
def configured(
    lab: Any, path: str, service: str, *settings: tuple[str, str, str]
) -> Iterator[None]:
    """Change a config file on the controller and restart a service; put both back."""
    before = lab.sim.file("controller", path)["content"]
    step = st.IniSet(title="test", host="controller", path=path, settings=settings)
    lab.sim.step("controller", step.to_dict(), "apply", lab.secrets, set())
    assert lab.sim.service("controller", service, "restart")["ok"]
    try:
        yield
    finally:
        restore = st.WriteFile(title="restore", host="controller", path=path, content=before)
        lab.sim.step("controller", restore.to_dict(), "apply", lab.secrets, set())
        assert lab.sim.service("controller", service, "restart")["ok"]


@contextmanager
def stopped(lab: Any, service: str) -> Iterator[None]:
    assert lab.sim.service("controller", service, "stop")["ok"]
    try:
        yield
    finally:
        assert lab.sim.service("controller", service, "start")["ok"]


# ---- the server's own attributes ------------------------------------------------------------


def test_config_drive_and_user_data_are_stored_on_the_server(
    guest: Guest, plain: Guest, cli: Osc, admin: Any
) -> None:
    shown = json.loads(cli("server", "show", "meta1", "-f", "json").stdout)
    assert shown["config_drive"] == "True"
    assert admin.compute.get_server(plain.server.id).has_config_drive == ""
    raw = admin.compute.get(f"/servers/{guest.server.id}", microversion="2.3").json()["server"]
    assert base64.b64decode(raw["OS-EXT-SRV-ATTR:user_data"]).decode() == USER_DATA


def test_bad_user_data_and_config_drive_get_novas_400(admin: Any) -> None:
    body = {
        "name": "bad",
        "flavorRef": admin.compute.find_flavor("m1.tiny").id,
        "imageRef": admin.image.find_image("cirros").id,
        "networks": "none",
    }
    for extra, text in (
        ({"user_data": "not base64!"}, "is not a 'base64'"),
        ({"config_drive": "maybe"}, "Invalid input for field/attribute config_drive"),
    ):
        answer = admin.compute.post(
            "/servers", json={"server": {**body, **extra}}, microversion="2.37"
        )
        assert answer.status_code == 400, answer.text
        assert text in answer.json()["badRequest"]["message"]
    assert not list(admin.compute.servers(name="^bad$"))


# ---- what the guest reads ----------------------------------------------------------------------


def test_meta_data_json_names_the_server_and_its_key(guest: Guest) -> None:
    data = guest.json("/openstack/latest/meta_data.json")
    assert data["uuid"] == guest.server.id
    assert data["name"] == "meta1"
    assert data["hostname"] == "meta1.novalocal"
    assert data["public_keys"] == {"metakey": guest.key.public_key}
    assert data["keys"] == [{"name": "metakey", "type": "ssh", "data": guest.key.public_key}]
    assert data["launch_index"] == 0
    assert data["availability_zone"] == "nova"
    assert data["project_id"] == guest.server.project_id
    assert data["devices"] == [] and data["dedicated_cpus"] == []
    assert len(base64.b64decode(data["random_seed"])) == 512
    answer = guest.get("/openstack/latest/meta_data.json")
    assert answer["headers"]["Content-Type"] == "application/json"
    # An old version has less: no project_id before Liberty, no random_seed before Grizzly.
    old = guest.json("/openstack/2012-08-10/meta_data.json")
    assert old["uuid"] == guest.server.id and "project_id" not in old
    assert "random_seed" not in old


def test_user_data_comes_back_as_it_was_given(guest: Guest, plain: Guest) -> None:
    assert guest.text("/openstack/latest/user_data") == USER_DATA
    assert guest.text("/latest/user-data") == USER_DATA
    assert guest.text("/openstack/latest").splitlines() == [
        "meta_data.json",
        "user_data",
        "password",
        "vendor_data.json",
        "network_data.json",
        "vendor_data2.json",
    ]
    assert plain.get("/openstack/latest/user_data")["status"] == 404
    assert "user_data" not in plain.text("/openstack/latest").splitlines()
    assert "public_keys" not in plain.json("/openstack/latest/meta_data.json")


def test_network_data_json_describes_the_port(guest: Guest) -> None:
    data = guest.json("/openstack/latest/network_data.json")
    assert data["links"] == [
        {
            "id": f"tap{guest.port.id}"[:14],
            "vif_id": guest.port.id,
            "type": "bridge",
            "mtu": None,  # the subnet has DHCP: the guest learns the MTU from it
            "ethernet_mac_address": guest.port.mac_address,
        }
    ]
    assert data["networks"] == [
        {
            "id": "network0",
            "type": "ipv4_dhcp",
            "link": data["links"][0]["id"],
            "network_id": guest.network_id,
        }
    ]
    assert guest.text("/latest/meta-data/local-ipv4") == guest.address


def test_vendor_data_is_empty_by_default(guest: Guest) -> None:
    assert guest.json("/openstack/latest/vendor_data.json") == {}
    assert guest.json("/openstack/latest/vendor_data2.json") == {"static": {}}


def test_the_ec2_tree(guest: Guest, admin: Any) -> None:
    listing = guest.text("/latest/meta-data/").splitlines()
    for name in (
        "ami-id",
        "block-device-mapping/",
        "hostname",
        "instance-id",
        "instance-type",
        "local-ipv4",
        "placement/",
        "public-keys/",
        "reservation-id",
        "security-groups",
    ):
        assert name in listing
    assert re.fullmatch(r"i-[0-9a-f]{8}", guest.text("/latest/meta-data/instance-id"))
    assert re.fullmatch(r"ami-[0-9a-f]{8}", guest.text("/latest/meta-data/ami-id"))
    assert guest.text("/latest/meta-data/hostname") == "meta1.novalocal"
    assert guest.text("/latest/meta-data/instance-type") == "m1.tiny"
    assert guest.text("/latest/meta-data/placement/availability-zone") == "nova"
    assert guest.text("/latest/meta-data/public-keys/") == "0=metakey"
    assert guest.text("/latest/meta-data/public-keys/0") == "openssh-key"
    assert guest.text("/latest/meta-data/public-keys/0/openssh-key") == guest.key.public_key
    assert guest.text("/latest/meta-data/block-device-mapping/").splitlines() == ["ami", "root"]
    assert guest.text("/latest/meta-data/block-device-mapping/root") == "/dev/vda"
    assert guest.text("/latest/meta-data/security-groups") == "default"
    reservation = admin.compute.get(f"/servers/{guest.server.id}", microversion="2.3").json()
    assert (
        guest.text("/latest/meta-data/reservation-id")
        == (reservation["server"]["OS-EXT-SRV-ATTR:reservation_id"])
    )
    assert guest.text("/2009-04-04/meta-data/hostname") == "meta1.novalocal"
    assert guest.text("/").splitlines()[-2:] == ["2009-04-04", "latest"]
    assert guest.text("/openstack").splitlines()[-2:] == ["2020-10-14", "latest"]


def test_unknown_paths_and_strangers_get_404(guest: Guest) -> None:
    for path in (
        "/openstack/latest/nothing.json",
        "/openstack/2099-01-01/meta_data.json",
        "/latest/meta-data/nothing",
        "/1999-01-01/meta-data/",
    ):
        answer = guest.get(path)
        assert answer["status"] == 404, path
        assert "404 Not Found" in answer["body"]
    stranger = guest.lab.sim.wire_http("10.64.0.250", "/openstack/latest/meta_data.json",
                                        network_id=guest.network_id)  # fmt: skip
    assert stranger["status"] == 404


def test_password_can_be_set_once(plain: Guest, nova_lab: Any) -> None:
    assert plain.get("/openstack/latest/password")["body"] == ""
    assert plain.get("/openstack/latest/password", method="POST", body="s3cret")["status"] == 200
    nova_lab.sim.advance_clock(16)  # past Nova's metadata cache (15 s)
    assert plain.text("/openstack/latest/password") == "s3cret"
    again = plain.get("/openstack/latest/password", method="POST", body="other")
    assert again["status"] == 409


# ---- a broken path ------------------------------------------------------------------------------


def test_a_wrong_shared_secret_is_a_403_and_the_logs_say_why(guest: Guest, nova_lab: Any) -> None:
    setting = ("DEFAULT", "metadata_proxy_shared_secret", "NOT-THE-SECRET")
    with configured(nova_lab, METADATA_AGENT_INI, "neutron-metadata-agent", setting):
        answer = guest.get("/openstack/latest/meta_data.json")
        assert answer["status"] == 403
        assert "403 Forbidden" in answer["body"]
        nova_log = "\n".join(nova_lab.sim.log("nova-api-metadata", tail=20))
        assert "X-Instance-ID-Signature" in nova_log and "does not match" in nova_log
        agent_log = "\n".join(nova_lab.sim.log("neutron-metadata-agent", tail=20))
        assert "shared secrets do not match" in agent_log
    assert guest.get("/openstack/latest/meta_data.json")["status"] == 200


def test_no_metadata_agent_is_haproxys_503(guest: Guest, nova_lab: Any) -> None:
    with stopped(nova_lab, "neutron-metadata-agent"):
        answer = guest.get("/openstack/latest/meta_data.json")
        assert answer["status"] == 503
        assert "No server is available to handle this request." in answer["body"]
    assert guest.get("/openstack/latest/meta_data.json")["status"] == 200


def test_no_nova_metadata_api_is_the_agents_500(guest: Guest, nova_lab: Any) -> None:
    with stopped(nova_lab, "nova-api-metadata"):
        answer = guest.get("/openstack/latest/meta_data.json")
        assert answer["status"] == 500
        assert "An unknown error has occurred. Please try your request again." in answer["body"]
        assert "Unexpected error." in "\n".join(nova_lab.sim.log("neutron-metadata-agent", tail=5))
    assert guest.get("/openstack/latest/meta_data.json")["status"] == 200


def test_without_service_metadata_proxy_nova_goes_by_the_source_address(
    guest: Guest, nova_lab: Any
) -> None:
    """Nova then ignores the agent's headers and looks up the request's source -- the
    controller, not the guest -- unless it may trust X-Forwarded-For."""
    off = ("neutron", "service_metadata_proxy", "false")
    with configured(nova_lab, NOVA_CONF, "nova-api-metadata", off):
        assert guest.get("/openstack/latest/meta_data.json")["status"] == 404
        log = "\n".join(nova_lab.sim.log("nova-api-metadata", tail=20))
        assert "'service_metadata_proxy' option must be enabled" in log
        assert "Failed to get metadata for IP 10.64.0.2" in log
    trusting = ("api", "use_forwarded_for", "true")
    with configured(nova_lab, NOVA_CONF, "nova-api-metadata", off, trusting):
        assert guest.json("/openstack/latest/meta_data.json")["uuid"] == guest.server.id


def test_nothing_listens_elsewhere_on_the_wire(guest: Guest) -> None:
    answer = guest.lab.sim.wire_http(
        guest.address, "/", destination="10.64.0.254", network_id=guest.network_id
    )
    assert answer == {"ok": False, "verdict": "unreachable", "error": "No route to host"}


# ---- the config drive is the same tree ----------------------------------------------------------


def _facts(**extra: Any) -> md.InstanceFacts:
    key = md.Keypair("k1", "ssh", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx k1")
    vif = md.Vif(
        port_id="0f3f1c4e-1111-4222-8333-944455556666",
        mac="fa:16:3e:00:00:01",
        network_id="net-1",
        mtu=1500,
        subnets=(md.Subnet("10.64.0.0/24", "10.64.0.1", ("10.64.0.101",), ("10.64.0.1",)),),
    )
    return md.InstanceFacts(
        uuid="8d2c0a52-aaaa-4bbb-8ccc-9ddd0eee1fff",
        name="server1",
        hostname="server1",
        project_id="p1",
        availability_zone="nova",
        ec2_id=3,
        ami_id=1,
        flavor_name="m1.medium",
        key_name="k1",
        key_data=key.public_key,
        keypair=key,
        user_data=base64.b64encode(USER_DATA.encode()).decode(),
        security_groups=("default",),
        vifs=(vif,),
        **extra,
    )


def _without_seed(body: bytes) -> dict[str, Any]:
    data = json.loads(body)
    data.pop("random_seed", None)
    return dict(data)


def test_the_config_drive_holds_the_apis_documents() -> None:
    meta = md.InstanceMetadata(_facts())
    drive = meta.documents()
    for version in (*md.OPENSTACK_VERSIONS, "latest"):
        listed = meta.lookup(f"/openstack/{version}")
        assert isinstance(listed, list)
        expected = {f"openstack/{version}/{n}" for n in listed if n != "password"}
        assert {p for p in drive if p.startswith(f"openstack/{version}/")} == expected
    assert {p for p in drive if p.startswith("ec2/")} == {
        "ec2/2009-04-04/meta-data.json",
        "ec2/2009-04-04/user-data",
        "ec2/latest/meta-data.json",
        "ec2/latest/user-data",
    }
    for path, content in drive.items():
        if path.startswith("ec2/"):
            continue
        served = md.render(meta.lookup(path))
        if path.endswith("meta_data.json"):
            assert _without_seed(content) == _without_seed(served), path
        else:
            assert content == served, path
    assert drive["openstack/latest/user_data"] == USER_DATA.encode()
    ec2 = json.loads(drive["ec2/latest/meta-data.json"])
    assert ec2["public-keys"] == {"0": {"openssh-key": _facts().key_data}}
    assert ec2["instance-id"] == "i-00000003" and ec2["local-ipv4"] == "10.64.0.101"
    assert drive["ec2/latest/user-data"] == USER_DATA.encode()
    network = json.loads(drive["openstack/latest/network_data.json"])
    assert network["networks"][0]["ip_address"] == "10.64.0.101"  # no DHCP: a static address
    assert network["networks"][0]["routes"][0]["gateway"] == "10.64.0.1"
    assert network["services"] == [{"type": "dns", "address": "10.64.0.1"}]
    admin_pass = md.InstanceMetadata(_facts(), extra_md={"admin_pass": "x"}).documents()
    assert json.loads(admin_pass["openstack/latest/meta_data.json"])["admin_pass"] == "x"


def test_the_wire_serves_what_the_drive_lists(guest: Guest) -> None:
    """Every OpenStack file a config drive of this server holds is served by the API."""
    for version in ("2012-08-10", "2016-10-06", "latest"):
        for name in guest.text(f"/openstack/{version}").splitlines():
            assert guest.get(f"/openstack/{version}/{name}")["status"] == 200, (version, name)
