"""The dashboard in a real browser: what a learner does in Horizon, clicked through in
headless Chromium against the real Horizon 23.0.0 running next to a sim.

As demo (domain Default), through the login form: import a public key on the Key Pairs
page, launch an instance with the Launch Instance wizard (the AngularJS modal: name, the
cirros image, m1.nano, the provider network, the default group, the key), watch it reach
Active with an address in the Instances table, open its Console Log tab, add the tcp/22 rule
to the default security group, delete the instance with the table's action. As admin, in a
second browser context: Admin -> Compute -> Hypervisors shows the usage go up while the
instance exists and back down after, and System Information's Compute Services tab lists
nova-compute up. The demo then logs out, and admin logs in through the same form.

Every key page is saved as a screenshot in ``tests/browser/artifacts/dashboard-*.png`` and
checked to show something (:func:`looks_blank`), besides its title and rows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from labkit.lab import Lab
from tests.browser.harness import looks_blank
from tests.horizon import fixtures
from tests.horizon.fixtures import Login

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

# The dashboard's fixtures (tests/horizon/fixtures.py), made visible to this module.
horizon_venv = fixtures.horizon_venv
horizon_lab = fixtures.horizon_lab
horizon_url = fixtures.horizon_url
horizon_users = fixtures.horizon_users

NAME = "dash-web1"
FLAVOR = "m1.nano"  # 1 vCPU, 64 MB: what the admin's Hypervisors page must count


def _public_key() -> str:
    """A fresh ed25519 public key in OpenSSH's format, as a learner pastes theirs."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return raw.decode() + " learner@laptop"


def _ssh_rules(conn: Any, group_id: str) -> list[Any]:
    """The tcp/22 ingress rules of a security group."""
    rules = conn.network.security_group_rules(security_group_id=group_id, direction="ingress")
    return [r for r in rules if r.protocol == "tcp" and r.port_range_min == 22]


def login(page: Page, url: str, who: Login) -> None:
    """The login form as a person fills it: domain, user name, password, Sign In."""
    page.goto(f"{url}/auth/login/")
    assert page.title().startswith("Login"), page.title()
    page.fill("#id_domain", who.domain)
    page.fill("#id_username", who.user)
    page.fill("#id_password", who.password)
    with page.expect_navigation():
        page.click("#loginBtn")
    assert "/auth/login" not in page.url, f"login as {who.user} refused: {page.url}"


def open_page(page: Page, url: str, path: str, title: str) -> None:
    page.goto(f"{url}{path}")
    assert title in page.title(), f"{path}: {page.title()!r}, expected {title!r}"
    errors = page.locator(".alert-danger:visible, .alert-error:visible")
    assert errors.count() == 0, f"{path}: Horizon shows {errors.all_inner_texts()}"


def shot(screenshot: Callable[..., Path], page: Page | Locator, name: str) -> Path:
    """A screenshot kept as an artifact, checked not to be blank."""
    path = screenshot(page, f"dashboard-{name}")
    blank = looks_blank(path)
    assert not blank, blank
    return path


def wizard_step(modal: Locator, title: str) -> None:
    modal.locator(".wizard-nav li", has_text=title).first.click()


def allocate(modal: Locator, text: str) -> None:
    """Move the row showing ``text`` from Available to Allocated (its up-arrow button)."""
    row = modal.locator("tr:visible", has_text=text).filter(
        has=modal.page.locator("button.fa-arrow-up")
    )
    row.first.locator("button.fa-arrow-up").click()


def instance_row(page: Page) -> Locator:
    return page.locator("#instances tbody tr", has_text=NAME)


def wait_for_row(page: Page, url: str, want: Callable[[str], bool], seconds: float) -> str:
    """Reload the Instances page until the row of our instance passes ``want``."""
    deadline = time.monotonic() + seconds
    text = ""
    while True:
        rows = instance_row(page)
        text = rows.first.inner_text() if rows.count() else ""
        if want(text) or time.monotonic() > deadline:
            return text
        page.wait_for_timeout(1000)
        page.goto(f"{url}/project/instances/")


def hypervisor_usage(page: Page, url: str) -> tuple[int, int]:
    """(vCPUs used, instances) summed over the Hypervisors table's rows."""
    open_page(page, url, "/admin/hypervisors/", "Hypervisors")
    vcpus = instances = 0
    rows = page.locator("#hypervisors tbody tr")
    assert rows.count() >= 1, "no hypervisors listed"
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        vcpus += int(cells[2])
        instances += int(cells[-1])
    return vcpus, instances


def test_a_learner_launches_an_instance_through_the_dashboard(
    browser: Browser,
    page: Page,
    screenshot: Callable[..., Path],
    horizon_url: str,
    horizon_users: dict[str, Login],
    horizon_lab: Lab,
) -> None:
    walk_through(browser, page, screenshot, horizon_url, horizon_users, horizon_lab)


def walk_through(
    browser: Browser,
    page: Page,
    screenshot: Callable[..., Path],
    url: str,
    users: dict[str, Login],
    lab: Lab,
    flavor: str = FLAVOR,
    active_within: float = 90,
) -> float:
    """The walk-through of the module docstring against the Horizon at ``url`` (the sim's,
    or Apache's on a real controller: tests/real reuses it); returns its seconds."""
    started = time.perf_counter()
    demo = lab.connect("demo")
    # The usage is compared before, during and after: let other tests' servers on this
    # session's lab finish going away first (deletes end asynchronously).
    cloud = lab.connect("admin")
    deadline = time.monotonic() + 30
    while list(cloud.compute.servers(all_projects=True)) and time.monotonic() < deadline:
        time.sleep(0.5)
    # admin watches the hypervisors in a browser context of their own
    admin_context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        admin = admin_context.new_page()
        login(admin, url, users["admin"])
        before = hypervisor_usage(admin, url)

        login(page, url, users["demo"])
        assert page.title().startswith("Instance Overview"), page.title()
        shot(screenshot, page, "overview")

        # Key Pairs -> Import Public Key (an AngularJS modal form)
        key_name = f"dash-key-{int(time.time())}"
        open_page(page, url, "/project/key_pairs/", "Key Pairs")
        page.get_by_role("button", name="Import Public Key").click()
        form = page.locator(".modal-dialog")
        form.locator("input#name").fill(key_name)
        form.locator("select[name=key-type]").select_option(label="SSH Key")
        form.locator("textarea#public-key").fill(_public_key())
        form.locator(".modal-footer .btn-primary").click()
        page.locator("#content_body, body").get_by_text(key_name).first.wait_for()
        assert key_name in {k.name for k in demo.compute.keypairs()}

        # Instances -> Launch Instance: the wizard
        open_page(page, url, "/project/instances/", "Instances")
        page.click("#instances__action_launch-ng")
        wizard = page.locator(".modal-dialog")
        wizard.locator("input#name").fill(NAME)
        wizard_step(wizard, "Source")
        volume = wizard.get_by_text("Create New Volume")
        if volume.count() and volume.first.is_visible():  # only with Cinder in the catalog
            wizard.locator(".btn-group label:visible", has_text="No").first.click()
        allocate(wizard, "cirros")
        wizard_step(wizard, "Flavor")
        allocate(wizard, flavor)
        wizard_step(wizard, "Networks")
        # the only network is allocated already
        shown = wizard.locator(".modal-body").inner_text()
        assert re.search(r"Allocated\s+1.*provider.*Available\s+0", shown, re.S), shown
        wizard_step(wizard, "Security Groups")
        assert "default" in wizard.locator(".modal-body").inner_text()
        wizard_step(wizard, "Key Pair")
        if (
            wizard.locator("tr:visible", has_text=key_name)
            .filter(has=page.locator("button.fa-arrow-up"))
            .count()
        ):
            allocate(wizard, key_name)
        shot(screenshot, wizard, "launch-wizard")
        wizard.get_by_role("button", name="Launch Instance").click()
        wizard.wait_for(state="detached")

        text = wait_for_row(
            page,
            url,
            lambda t: "Active" in t and re.search(r"\d+\.\d+\.\d+\.\d+", t),
            active_within,
        )
        assert "Active" in text and "Running" in text, text
        assert flavor in text and "cirros" in text and key_name in text, text
        server = demo.compute.find_server(NAME, ignore_missing=False)
        address = server.addresses["provider"][0]["addr"]
        assert address in text, (address, text)
        shot(screenshot, page, "instances")

        # its page, Console Log tab
        instance_row(page).first.get_by_role("link", name=NAME).click()
        page.wait_for_load_state()
        assert page.title().startswith(f"Instance Details: {NAME}") or NAME in page.title()
        log = page.locator("#instance_details__log pre, pre.logs")
        # The tab loads the log once; a real guest prints cloud-init's lines seconds after
        # it went Active, so load the page again until they are there.
        deadline = time.monotonic() + 90
        while True:
            page.locator('a[data-target="#instance_details__log"]').click()
            log.first.wait_for()
            try:
                page.wait_for_function(
                    "() => /cloud-init/i.test(document.querySelector('pre.logs, "
                    "#instance_details__log pre')?.innerText || '')",
                    timeout=10_000,
                )
                break
            except PlaywrightTimeout:
                if time.monotonic() > deadline:
                    raise
                page.reload()
        assert re.search(r"cloud-init", log.first.inner_text(), re.I)
        shot(screenshot, page, "console-log")

        # admin: the hypervisors count the instance
        during = hypervisor_usage(admin, url)
        assert during[0] >= before[0] + 1 and during[1] >= before[1] + 1, (before, during)
        shot(screenshot, admin, "hypervisors")

        # Security Groups -> default -> Manage Rules -> Add Rule: tcp/22
        group = demo.network.find_security_group("default", ignore_missing=False)
        for old in _ssh_rules(demo, group.id):  # another test's, or a failed run's
            demo.network.delete_security_group_rule(old)
        open_page(page, url, "/project/security_groups/", "Security Groups")
        page.locator("#security_groups tbody tr", has_text="default").first.get_by_role(
            "link", name="Manage Rules"
        ).click()
        page.wait_for_load_state()
        page.get_by_role("link", name="Add Rule").click()
        rule = page.locator(".modal-dialog")
        rule.locator("select#id_rule_menu").select_option(value="tcp", force=True)
        rule.locator("input#id_port").fill("22")
        rule.locator("input[type=submit], button[type=submit]").first.click()
        rule.wait_for(state="detached")
        rules = page.locator("#rules tbody tr").filter(
            # Debian's local_settings.py names well-known ports: "22 (SSH)" on a real controller
            has_text=re.compile(r"Ingress\s+IPv4\s+TCP\s+22(\s+\(SSH\))?\s+0\.0\.0\.0/0")
        )
        rules.first.wait_for()  # the page reloads with the new rule
        assert page.get_by_text("Successfully added rule").count() >= 1
        assert rules.count() == 1, page.locator("#rules").inner_text()
        assert len(_ssh_rules(demo, group.id)) == 1
        shot(screenshot, page, "security-group-rules")

        # delete the instance with its row's action
        open_page(page, url, "/project/instances/", "Instances")
        row = instance_row(page).first
        row.locator(".dropdown-toggle").click()
        row.locator("button", has_text="Delete Instance").click()
        page.locator(".modal-dialog .btn-danger, .modal-dialog .btn-primary").first.click()
        gone = wait_for_row(page, url, lambda t: t == "", 60)
        assert gone == "", gone
        # A real Nova may still be tearing the guest down when the row goes: wait for it.
        deadline = time.monotonic() + 60
        while demo.compute.find_server(NAME) is not None and time.monotonic() < deadline:
            time.sleep(1)
        assert demo.compute.find_server(NAME) is None
        after = hypervisor_usage(admin, url)
        assert after[0] < during[0] and after[1] < during[1], (during, after)
        admin.close()

        # demo logs out; admin logs in through the same form
        page.goto(f"{url}/auth/logout/")
        assert page.title().startswith("Login"), page.title()
        login(page, url, users["admin"])
        open_page(page, url, "/admin/info/", "System Information")
        page.locator("a", has_text="Compute Services").first.click()
        services = page.locator("#nova_services tbody tr", has_text="nova-compute")
        assert services.count() >= 1
        for line in services.all_inner_texts():
            assert "Enabled" in line and "Up" in line, line
        shot(screenshot, page, "compute-services")
    finally:
        admin_context.close()
        leftover: Any = demo.compute.find_server(NAME)
        if leftover is not None:
            demo.compute.delete_server(leftover)
        for key in demo.compute.keypairs():
            if key.name.startswith("dash-key-"):
                demo.compute.delete_keypair(key)
        group = demo.network.find_security_group("default")
        for added in _ssh_rules(demo, group.id) if group else []:
            demo.network.delete_security_group_rule(added)
    seconds = time.perf_counter() - started
    print(f"dashboard walk-through: {seconds:.1f} s")
    return seconds
