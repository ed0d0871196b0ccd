"""Layer 3 -- Glance, the image service (Install Guide "glance-install", Zed, Debian).

Glance keeps the disk images servers boot from: their metadata in its database, their bytes
in a store (here the ``fs`` file store under /var/lib/glance/images/). It trusts Keystone to
say who is calling, which is why it needs a Keystone user of its own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from labkit.install import steps as st
from labkit.install.context import PlanContext
from labkit.install.service_auth import keystone_authtoken

NAME = "glance"
REQUIRES = ("keystone",)
CONF = "/etc/glance/glance-api.conf"
STORE_DIR = "/var/lib/glance/images/"


def _mirror_port(ctx: PlanContext) -> int | None:
    """The port of the image mirror the lab's Glance pulls from, if the lab has one: the sim
    serves it itself; local lab hosts get it from this machine's bridge address."""
    if ctx.kind == "sim":
        return urlsplit(ctx.image_url).port or 80
    if ctx.local:
        from labkit.hosts.image_mirror import MIRROR_PORT

        return MIRROR_PORT
    return None


def plan(ctx: PlanContext) -> list[st.Step]:
    c = ctx.controller.name
    image = ctx.image_url
    steps: list[st.Step] = [
        st.Database(
            title="Create the glance database",
            host=c,
            name="glance",
            user="glance",
            password="GLANCE_DBPASS",
        ),
        st.IdentityObjects(
            title="Create the glance user, the image service and its endpoints",
            host=c,
            users=(("glance", "GLANCE_PASS"),),
            grants=(("service", "glance", "admin"),),
            services=(("glance", "image", "OpenStack Image"),),
            endpoints=(
                ("image", "public", image),
                ("image", "internal", image),
                ("image", "admin", image),
            ),
            region=ctx.region,
            why="Glance checks every caller's token with Keystone as the user glance; "
            "clients find Glance through the catalog's image endpoints.",
        ),
        st.Packages(
            title="Install the glance packages",
            host=c,
            names=("glance",),
            why="glance-api serves the Image API on port 9292; Debian installs it "
            "stopped and unconfigured.",
        ),
        st.IniSet(
            title="Point glance-api.conf at its database",
            host=c,
            path=CONF,
            settings=(
                ("database", "connection", f"mysql+pymysql://glance:GLANCE_DBPASS@{c}/glance"),
            ),
        ),
        st.IniSet(
            title="Configure Keystone authentication",
            host=c,
            path=CONF,
            settings=(
                *keystone_authtoken(ctx, "glance", "GLANCE_PASS"),
                ("paste_deploy", "flavor", "keystone"),
            ),
            why=f"Debian's glance-api.conf ships region_name = regionOne (lower-case r) "
            f"while Keystone's endpoints were registered in {ctx.region}: left as is, "
            "Glance cannot find Keystone's endpoint and answers every authenticated "
            "request with HTTP 500 (EndpointNotFound in its log). The guide does not set "
            "it; this plan does. flavor = keystone turns authentication on at all.",
        ),
        st.IniSet(
            title="Store images as files in /var/lib/glance/images/",
            host=c,
            path=CONF,
            settings=(
                ("DEFAULT", "enabled_backends", "fs:file"),
                ("glance_store", "default_backend", "fs"),
                ("fs", "filesystem_store_datadir", STORE_DIR),
            ),
            why="One file store called fs; each image becomes one file named by its id.",
        ),
    ]
    mirror_port = _mirror_port(ctx)
    if mirror_port is not None:
        where = "the sim's" if ctx.kind == "sim" else "this machine's (labkit hosts up)"
        steps.append(
            st.IniSet(
                title="Let web-download reach the lab's image mirror",
                host=c,
                path=CONF,
                settings=(("import_filtering_opts", "allowed_ports", f"[80,443,{mirror_port}]"),),
                why=f"Glance's web-download only fetches from ports 80 and 443 by default; "
                f"{where} image mirror answers on port {mirror_port}. The brackets are "
                "required: without them Glance rejects every web-download URL.",
            )
        )
    steps += [
        st.ProbeDatabase(
            title="Check that glance's database answers",
            host=c,
            url=f"mysql+pymysql://glance:GLANCE_DBPASS@{c}/glance",
        ),
        st.Command(
            title="Create Glance's tables",
            host=c,
            user="glance",
            command="glance-manage db_sync",
            done_when=st.Check("db-has-tables", "glance"),
        ),
        st.Service(title="Start the Image service", host=c, name="glance-api", restart_on=(CONF,)),
        st.WaitHttp(title="Wait until Glance answers", host=c, url=image, timeout=90),
        st.Image(
            title="Verify: upload an image and see it active",
            host=c,
            name="cirros",
            why="The guide's verification: a small image (the lab's CirrOS-like qcow2) goes "
            "in through the API and its bytes land in the file store.",
        ),
    ]
    return steps
