"""A guest's disk is saved as ``asdict`` would give it: the state files written before
``GuestSystem.to_dict`` built the dict field by field read back the same, and new ones
are the same bytes."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from labkit.sim.guests.profiles import CIRROS, UBUNTU
from labkit.sim.guests.system import GuestSystem


def _as_asdict_made_it(system: GuestSystem) -> dict[str, Any]:
    data = asdict(system)
    data["profile"] = system.profile.distro
    data["dirs"] = sorted(system.dirs)
    return data


def test_the_dict_is_what_asdict_gave() -> None:
    for profile, user in ((UBUNTU, "ubuntu"), (CIRROS, "cirros")):
        system = GuestSystem.fresh(profile, user)
        system.add_user(user, groups=["adm", "sudo"], sudo=True)
        system.write("/etc/motd", "welcome\n", mode=0o600)
        system.packages.append("openssh-server")
        made = system.to_dict()
        assert made == _as_asdict_made_it(system)
        assert json.dumps(made) == json.dumps(_as_asdict_made_it(system))  # key order too
        again = GuestSystem.from_dict(json.loads(json.dumps(made)), profile).to_dict()
        assert again == made


def test_the_dict_shares_no_list_with_the_system() -> None:
    system = GuestSystem.fresh(UBUNTU, "ubuntu")
    system.add_user("ubuntu", groups=["adm"])
    made = system.to_dict()
    made["users"]["ubuntu"]["groups"].append("wheel")
    made["packages"].append("x")
    assert system.users["ubuntu"].groups == ["adm"]
    assert "x" not in system.packages
