"""lab.explain: each known error, built as the real exception the learner would hold, maps to
its layer, cause and fix."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from keystoneauth1 import exceptions as ksa
from openstack import exceptions as sdk

from labkit import explain as ex
from labkit.config import StatePaths
from labkit.envs import load_env
from labkit.errors import EnvError, HostError, InstallError, LabkitError, SimNotRunning

REPO = Path(__file__).resolve().parents[2]
REQ = "req-b7b5b686-32ac-41ab-a3f8-59f076071192"
SIM_URL = "http://127.0.0.1:18950/identity/v3/"


def wrapped(inner: BaseException, outer: type[BaseException] = sdk.SDKException) -> Any:
    """Raise ``inner`` and wrap it the way openstacksdk does (``raise ... from``)."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer(str(exc)) from exc
    except BaseException as exc:
        return exc


def forbidden(action: str = "identity:create_user") -> sdk.ForbiddenException:
    return sdk.ForbiddenException(
        message="ForbiddenException: 403",
        http_status=403,
        request_id=REQ,
        details=f"You are not authorized to perform the requested action: {action}.",
    )


def test_missing_role_names_the_rule_and_the_role_it_needs() -> None:
    e = ex.explain(forbidden())
    assert (e.entry, e.layer, e.status) == ("keystone.missing-role", "keystone", 403)
    assert e.title == "Forbidden: your token's roles do not allow identity:create_user"
    assert "needs the admin role" in e.cause
    assert e.evidence.startswith("You are not authorized")
    assert e.request_id == REQ


def test_missing_role_for_a_list_rule_mentions_reader() -> None:
    assert "reader" in ex.explain(forbidden("identity:list_projects")).cause


def test_wrong_password_is_a_401_on_login() -> None:
    error = wrapped(
        ksa.http.Unauthorized(
            message="The request you have made requires authentication.",
            http_status=401,
            request_id=REQ,
        )
    )
    e = ex.explain(error)
    assert (e.entry, e.layer, e.status) == ("keystone.bad-credentials", "keystone", 401)
    assert "never says which" in e.cause
    assert "SDKException" in e.error_type


def test_401_on_another_url_is_a_rejected_token() -> None:
    error = ksa.http.Unauthorized(
        message="The request you have made requires authentication.",
        http_status=401,
        url="http://c:9292/v2/images",
    )
    assert ex.explain(error).entry == "keystone.token-rejected"


def test_unscoped_token_from_empty_catalog() -> None:
    e = ex.explain(ksa.catalog.EmptyCatalog("The service catalog is empty."))
    assert (e.entry, e.layer) == ("keystone.unscoped", "keystone")
    assert "OS_PROJECT_NAME" in e.fix


def test_unscoped_token_as_openstacksdk_reports_it() -> None:
    error = sdk.ServiceDisabledException(
        "Service 'image' is disabled because its configuration could not be loaded. The "
        "service is not present in the service catalog: The service catalog is empty."
    )
    assert ex.explain(error).entry == "keystone.unscoped"


def test_missing_endpoint_points_at_the_service_layer() -> None:
    e = ex.explain(
        ksa.catalog.EndpointNotFound(
            "public endpoint for image service in RegionOne region not found"
        )
    )
    assert (e.entry, e.layer) == ("keystone.no-endpoint", "glance")
    assert "lab.ensure('glance')" in e.fix


def test_wrong_auth_url_is_a_discovery_404() -> None:
    error = wrapped(
        ksa.discovery.DiscoveryFailure(
            "Could not find versioned identity endpoints when attempting to authenticate. "
            "Please "
            "check that your auth_url is correct. Unrecognized schema in response body. (HTTP 404)"
        )
    )
    e = ex.explain(error)
    assert (e.entry, e.layer) == ("keystone.wrong-auth-url", "keystone")


REFUSED = (
    f"Could not find versioned identity endpoints when attempting to authenticate. "
    "Please "
    f"check that your auth_url is correct. Unable to establish connection to {SIM_URL}: "
    "HTTPConnectionPool(host='127.0.0.1', port=18950): Max retries exceeded with url: "
    "/identity/v3/ (Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1', "
    'port=18950): Failed to establish a new connection: [Errno 111] Connection refused"))'
)


def test_connection_refused_on_loopback_means_the_sim_is_down() -> None:
    e = ex.explain(wrapped(ksa.connection.ConnectFailure(REFUSED)))
    assert (e.entry, e.layer) == ("lab.sim-down", "lab")
    assert e.title == "Nothing answers on 127.0.0.1:18950 -- the sim is down"
    assert "labkit sim up" in e.fix and "lab.ensure()" in e.fix


def test_connection_refused_elsewhere_is_an_unreachable_keystone() -> None:
    text = REFUSED.replace("127.0.0.1", "10.64.0.2").replace("/identity/v3/", ":5000/v3")
    e = ex.explain(ksa.connection.ConnectFailure(text))
    assert (e.entry, e.layer) == ("keystone.unreachable", "keystone")


def test_sim_without_keystone_answers_503() -> None:
    e = ex.explain(
        wrapped(
            ksa.discovery.DiscoveryFailure(
                "Could not find versioned identity endpoints when attempting to authenticate. "
                "Please "
                "check that your auth_url is correct. Keystone is not running on controller (sim). "
                "Install and start it: run notebooks/02-keystone.ipynb or `labkit install sim "
                "keystone`. (HTTP 503) (Request-ID: req-1b609ed9-0e43-464b-8698-0856d3130e01)"
            )
        )
    )
    assert (e.entry, e.layer) == ("keystone.not-running", "keystone")
    assert "lab.ensure('keystone')" in e.fix


def test_cli_output_text_and_lines_are_understood() -> None:
    text = (
        "ForbiddenException: 403: Client Error for url: http://127.0.0.1:1/identity/v3/"
        "users, You are not authorized to perform the requested action: identity:create_user."
    )
    e = ex.explain(text)
    assert (e.entry, e.status, e.error_type) == ("keystone.missing-role", 403, "text")
    assert ex.explain(["", text]).entry == "keystone.missing-role"  # `out = !openstack ...`


def test_called_process_error_reads_stderr() -> None:
    error = subprocess.CalledProcessError(
        1,
        ["openstack", "token", "issue"],
        output=b"",
        stderr=b"The request you have made requires authentication. (HTTP 401) (Request-ID: "
        + REQ.encode()
        + b")",
    )
    e = ex.explain(error)
    assert (e.entry, e.status, e.request_id) == ("keystone.bad-credentials", 401, REQ)


def test_install_error_points_at_the_layer_of_the_step() -> None:
    error = InstallError(
        "Step 5/13 failed (layer keystone, on controller): Create Keystone's "
        "tables\n    something went wrong",
        "Fix it and run again.",
    )
    e = ex.explain(error)
    assert (e.entry, e.layer) == ("install.step-failed", "keystone")
    assert e.title == "Install step 5/13 failed on controller: Create Keystone's tables"


def test_install_error_from_the_database_points_at_base() -> None:
    error = InstallError(
        "Step 5/13 failed (layer keystone, on controller): Create Keystone's "
        "tables\n    oslo_db.exception.DBConnectionError: mariadb is not "
        "running",
        "Fix it.",
    )
    assert ex.explain(error).layer == "base"


def test_host_error_explains_the_exit_code() -> None:
    e = ex.explain(
        HostError("controller", "keystone-manage db_sync", 127, "sh: 1: keystone-manage: not found")
    )
    assert (e.entry, e.layer) == ("hosts.command-failed", "hosts")
    assert "not installed" in e.cause


def test_labkit_errors_keep_their_layer_and_hint() -> None:
    e = ex.explain(SimNotRunning("http://127.0.0.1:1", "/tmp/state"))
    assert (e.entry, e.layer) == ("lab.sim-not-running", "lab")
    e = ex.explain(EnvError("envs/x.yaml", ["field kind: 'vm' is not allowed"]))
    assert (e.entry, e.layer) == ("lab.env-invalid", "hosts")
    e = ex.explain(LabkitError("Something odd.", "Do this next."))
    assert (e.entry, e.layer, e.fix) == ("lab.error", "lab", "Do this next.")


def test_unknown_errors_still_get_a_way_forward() -> None:
    e = ex.explain(ValueError("something else entirely"))
    assert (e.entry, e.layer) == ("unknown", "")
    assert "labkit check" in e.fix and e.evidence == "something else entirely"


def test_registry_is_extensible_and_ordered_by_priority() -> None:
    entry = ex.Entry(
        name="test.teapot",
        layer="glance",
        priority=1,
        status=418,
        pattern=r"I'm a (?P<what>teapot)",
        title="A {what}",
        cause="c",
        fix="f",
    )
    ex.register(entry)
    try:
        e = ex.explain("I'm a teapot (HTTP 418)")
        assert (e.entry, e.layer, e.title) == ("test.teapot", "glance", "A teapot")
        assert ex.entries()[0].name == "test.teapot"
    finally:
        ex.unregister("test.teapot")
    assert "test.teapot" not in [x.name for x in ex.entries()]


def test_explanation_shows_as_text_html_and_the_layer_map() -> None:
    e = ex.explain(forbidden())
    assert str(e).splitlines()[0].endswith("[layer 3: Identity: Keystone]")
    assert "<code>You are not authorized" in e._repr_html_()
    assert ">>3 Identity: Keystone" in str(e.diagram())


class FakeLab:
    """Just enough of a Lab for findings: a sim env whose sim is not running."""

    kind = "sim"

    def __init__(self, tmp: Path) -> None:
        self.env = load_env(REPO / "envs" / "sim.yaml")
        self.paths = StatePaths(tmp)

    def installed_layers(self) -> list[str]:
        return ["base"]

    def credentials(self, user: str) -> Any:
        return SimpleNamespace(
            password=f"{user.upper()}_PASS", project=user, user_domain="Default", auth_url=SIM_URL
        )


def test_findings_come_from_the_lab(tmp_path: Path) -> None:
    lab = FakeLab(tmp_path)
    e = ex.explain(wrapped(ksa.connection.ConnectFailure(REFUSED)), lab)
    assert e.findings == [f"no sim is running for this lab (state folder {tmp_path})"]
    e = ex.explain("Keystone is not running on controller (sim). (HTTP 503)", lab)
    assert e.findings == ["installed layers in this lab: base"]


def test_a_failing_finding_does_not_hide_the_explanation(tmp_path: Path) -> None:
    lab = FakeLab(tmp_path)
    lab.kind = "cloud"  # cloud labs have no credentials(): the finding fails, politely
    e = ex.explain(
        wrapped(
            ksa.http.Unauthorized(
                message="The request you have made requires authentication.", http_status=401
            )
        ),
        lab,
    )
    assert e.entry == "keystone.bad-credentials"
    assert e.findings and e.findings[0].startswith("(could not look further")


@pytest.mark.parametrize("key", ["keystone", "lab", "glance", "base", "hosts"])
def test_every_layer_an_entry_names_is_on_the_map(key: str) -> None:
    from labkit import layers

    assert layers.find(key) is not None


def test_layer_modules_extend_the_registry() -> None:
    names = [e.name for e in ex.entries()]
    assert "labkit.explain.glance" in ex.MODULES
    assert any(n.startswith("glance.") for n in names)
    # a layer's specific entry wins over Keystone's generic catalog miss
    e = ex.explain(
        "EndpointNotFound: internal endpoint for identity service in regionOne region not found"
    )
    assert e.layer == "glance" and e.entry.startswith("glance.")


def test_html_shows_backticked_commands_as_code() -> None:
    e = ex.explain("Keystone is not running on controller (sim). (HTTP 503)")
    html = e._repr_html_()
    assert "<code>labkit install sim keystone</code>" in html
    assert "`" not in html.replace(f"<code>{e.evidence}</code>", "")


def test_a_missing_clouds_yaml_entry_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openstack

    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "none.yaml"))
    with pytest.raises(sdk.ConfigException) as raised:
        openstack.connect(cloud="lab-amdin")
    e = ex.explain(raised.value)
    assert (e.entry, e.layer) == ("lab.cloud-not-found", "lab")
    assert e.title == "There is no clouds.yaml entry named lab-amdin"
    assert "lab.use_cli()" in e.fix and "OS_CLIENT_CONFIG_FILE" in e.fix


def test_clouds_yaml_findings_list_the_labs_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = FakeLab(tmp_path)
    lab.paths.clouds_yaml.write_text("clouds:\n  lab-admin: {}\n  lab-demo: {}\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(lab.paths.clouds_yaml))
    monkeypatch.setenv("OS_CLOUD", "lab-amdin")
    e = ex.explain("Cloud lab-amdin was not found.", lab)
    assert e.findings == [
        f"OS_CLIENT_CONFIG_FILE in this kernel is {lab.paths.clouds_yaml}; its entries: "
        "lab-admin, lab-demo",
        "OS_CLOUD in this kernel is lab-amdin",
        f"this lab's clouds.yaml is {lab.paths.clouds_yaml}, with entries lab-admin, lab-demo",
    ]
