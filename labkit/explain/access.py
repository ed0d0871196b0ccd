"""Why SSH to a guest failed: what ``ssh`` (or ``lab.ssh``) printed, read hop by hop.

A failed login has few shapes, and each points at one hop: a *timeout* is a dropped packet
(a security group without the rule), *refused* is a guest that answers but runs no SSH
server yet, *no route* is an address nobody has, *Permission denied (publickey)* is the
wrong key or user, and a *host key* complaint is the trust step. ``lab.why_no_ssh(SERVER)``
checks every hop against the API and the console log; these entries say which one the
message already names.
"""

from __future__ import annotations

from labkit.explain import Context, Entry

_TIMEOUT = (
    r"(?:connect to host (?P<address>[\d.]+) port (?P<port>\d+): Connection timed out"
    r"|SSH to (?P<address2>[\d.]+):(?P<port2>\d+) \([^)]*\) timed out)"
)
_REFUSED = (
    r"(?:connect to host (?P<address>[\d.]+) port (?P<port>\d+): Connection refused"
    r"|SSH to (?P<address2>[\d.]+):(?P<port2>\d+) \([^)]*\) was refused)"
)
_NO_ROUTE = (
    r"(?:connect to host (?P<address>[\d.]+) port (?P<port>\d+): No route to host"
    r"|SSH to (?P<address2>[\d.]+):(?P<port2>\d+) \([^)]*\) found no route)"
)


def _sim_ssh(ctx: Context) -> list[str]:
    """On the sim, plain ``ssh`` cannot reach the provider network: say which file to use."""
    lab = ctx.lab
    if lab is None or lab.kind != "sim":
        return []
    config = lab.paths.ssh_config
    if not config.exists():
        return [f"{config} does not exist yet: `labkit sim up` writes it when the sim starts"]
    return [
        f"on the sim, guest addresses exist only inside it: use `ssh -F {config} ...` (or an "
        f"`Include {config}` line in ~/.ssh/config); without it, ssh sends the packets to "
        "this machine's own network and times out"
    ]


ENTRIES = [
    Entry(
        name="access.ssh-timeout",
        layer="networking",
        priority=24,
        pattern=_TIMEOUT,
        title="SSH to {address} timed out: the port is filtered",
        cause="Nothing came back, not even a refusal: the packets were dropped on the way. "
        "In a cloud that is the guest's security groups -- the iptables rules on its "
        "compute host let in only what an ingress rule allows, and `default` allows only "
        "its own members until you add rules. (Egress rules, or a stopped network agent "
        "that never plugged the port, drop packets too.)",
        fix="Let SSH in: `openstack security group rule create --protocol tcp --dst-port 22 "
        "default` (and `--protocol icmp` for ping). lab.why_no_ssh(SERVER) checks every "
        "hop and names the first that fails.",
        findings=_sim_ssh,
    ),
    Entry(
        name="access.ssh-refused",
        layer="compute",
        priority=25,
        pattern=_REFUSED,
        title="{address} refused the connection on port {port}",
        cause="The packets got through (the security group allows them) and the guest "
        "answered with a reset: it is up, but no SSH server listens yet -- still booting, "
        "or its sshd failed to start.",
        fix="Wait for the boot to finish (`openstack console log show SERVER` ends with the "
        "login prompt), or reboot it (`openstack server reboot SERVER`). "
        "lab.why_no_ssh(SERVER) checks every hop.",
    ),
    Entry(
        name="access.ssh-no-route",
        layer="compute",
        priority=26,
        pattern=_NO_ROUTE,
        title="No route to {address}",
        cause="No running machine has that address on the provider network: the server is "
        "stopped, deleted or still building, or the address is not the server's.",
        fix="`openstack server list` shows each server's status and address; start a "
        "SHUTOFF one with `openstack server start SERVER`. lab.why_no_ssh(SERVER) checks "
        "every hop.",
    ),
    Entry(
        name="access.publickey",
        layer="compute",
        priority=27,
        pattern=r"Permission denied \(publickey|refused the key|Authentication failed",
        title="The guest refused the key (or the user)",
        cause="The connection and the SSH handshake worked; the login did not. The guest "
        "accepts only the public key it got from the metadata service at first boot (the "
        "keypair named by `server create --key-name`), and only for the image's default "
        "user: ubuntu on the Ubuntu image, cirros on CirrOS -- never root.",
        fix="Offer the private key of the server's keypair with -i, as the image's user: "
        "`ssh -i KEY ubuntu@ADDRESS`. Compare fingerprints with `openstack keypair show "
        "KEYPAIR` and `ssh-keygen -E md5 -lf KEY.pub`; lab.why_no_ssh(SERVER, key=KEY) "
        "does it for you.",
    ),
    Entry(
        name="access.host-key",
        layer="compute",
        priority=28,
        pattern=r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|"
        r"No \S+ host key is known for|console log does not show|"
        r"host key .* not found in known_hosts",
        title="The guest's host key is not (or no longer) the trusted one",
        cause="With StrictHostKeyChecking, ssh connects only to a host whose key is already "
        "in known_hosts. A new server has new keys, and a new server can get the address "
        "of a deleted one. The trustworthy copy of a guest's keys is its console log, where "
        "cloud-init prints them at first boot.",
        fix="`labkit ssh SERVER` (or lab.ssh(SERVER) in a notebook) records the keys the "
        "console shows in the lab's known_hosts, then connects. Compare yourself with "
        "`openstack console log show SERVER` (the SSH HOST KEY FINGERPRINTS block).",
        findings=_sim_ssh,
    ),
]
