"""Each notebook, run by papermill with its default parameters, on its own fresh sim: proof
that any notebook can start on a fresh kernel and a fresh lab (``lab.ensure`` brings up what
the notebooks before it would have made)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from tests.notebooks import harness

# What each notebook must have shown, beyond finishing without an error.
EXPECTED = {
    "00-welcome": [
        "Keystone is not installed or not started yet",
        ">>3 Identity: Keystone",
        "installed layers    none yet",
    ],
    "01-hosts": [
        "fits the seed's recipe",
        "base: 16 steps: 16 already done",
        "controller  mariadb          running",
        "bind-address = 10.64.0.2",
    ],
    "02-keystone": [
        "| id         | gAAAAA",
        "ProjectScopedPayload, decrypted with key file 1",
        "valid: Keystone decrypted it",
        "invalid: Keystone rejects it",
        "domain Default  issued",
        "identity:create_user",
        "Forbidden: your token's roles do not allow identity:create_user",
    ],
    "03-glance": [
        "--copy-from was given, which is an Image v1 option",
        "trusty: queued -> importing -> active",
        "md5 (checksum)",
        "/var/lib/glance/images/",
        "Only an admin can make an image public",
        "os_glance_failed_import='fs'",
    ],
    "04-nova": [
        "ACTIVE",
        "compute__do_build_and_run_instance",
        "nova-compute    worker1",
        "No valid host was found",
        "nova-compute is down",
    ],
    "05-access": [
        "Security group rule already exists.",
        "Welcome to server1, booted by the lab.",
        "Connection timed out",
        "fails at: a security group lets tcp/22 in",
        "every hop checks out",
        "in: any from its own group",
        "GET /compute/v2.1/servers/detail",  # the dashboard's requests, from the sim's trace
    ],
    "06-projects-quotas": [
        "member: alice on project1",
        "project1  cores 10, ram 8192, instances 5",
        "Quota exceeded for ram",
    ],
    "07-scale-out": [
        "worker2 (QEMU, 10.64.0.4) up",
        "dropped by ServerGroupAntiAffinityFilter",
        "dropped by ComputeFilter",
    ],
    "08-beyond": [
        "5 Compute: Nova + Placement  installed",  # the layer map, read from this lab
        "| nova      | compute   |",  # !openstack service list
    ],
    "99-cleanup": [],  # alone on a fresh sim there is nothing to clean: it must just run
}


def outputs_text(nb: nbformat.NotebookNode) -> str:
    parts: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out["text"])
            elif "data" in out:
                parts.append(str(out["data"].get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("name", harness.ORDER)
def test_notebook_runs_alone_on_a_fresh_sim(
    name: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    state_dir, port = tmp_path / "state", harness.free_port()
    saved = harness.apply(harness.kernel_environment(state_dir, port))
    try:
        harness.start_from_template(tmp_path_factory, name, state_dir, port)
        nb = papermill.execute_notebook(
            str(harness.NOTEBOOKS / f"{name}.ipynb"),
            str(tmp_path / f"{name}.out.ipynb"),
            cwd=str(harness.NOTEBOOKS),
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=240,
        )
    finally:
        harness.stop_sim(state_dir)
        harness.restore(saved)
    assert nb.metadata.papermill.exception is not True
    text = outputs_text(nb)
    for expected in EXPECTED[name]:
        assert expected in text, f"{name}: {expected!r} not in the outputs"
