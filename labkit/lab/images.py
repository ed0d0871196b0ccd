"""The images facade: where Glance pulls an image from, the import followed while it runs,
the checksums checked by hand, where the bytes land on the controller, and who sees which
image.

Introduced in notebooks/03-glance.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from labkit.display import Table
from labkit.image_sources import ImageSource
from labkit.lab import sdk
from labkit.lab.backends import Backend
from labkit.lab.identity import Identity

if TYPE_CHECKING:
    from openstack.image.v2.image import Image

    from labkit.diagrams import Diagram
    from labkit.images import Timeline
    from labkit.widgets.image_import import ImportWatch


class Images:
    def __init__(self, backend: Backend, identity: Identity) -> None:
        self.backend = backend
        self.identity = identity

    def _find(self, image: str) -> Image:
        """The image named ``image`` (or with that id), with all its fields, as admin."""
        glance = sdk.image(self.identity.connect("admin"))
        return glance.get_image(glance.find_image(image, ignore_missing=False).id)

    def source(self, name: str = "trusty", rate: str | None = "64M") -> ImageSource:
        """Where this lab's Glance can pull ``name`` from over HTTP: the sim's mirror, this
        machine's mirror for local lab hosts, else the real download site. ``rate`` slows
        the lab's mirror down (e.g. ``64M`` bytes/s) so the pull can be watched."""
        return self.backend.image_source(name, rate)

    def file(self, name: str = "cirros") -> Path:
        """The lab mirror's ``name`` image as a local file (for ``openstack image create
        --file``), written once into the state folder."""
        from labkit.image_sources import mirror_path
        from labkit.sim.mirror.catalog import BY_PATH

        entry = BY_PATH[mirror_path(name)]
        path = self.backend.paths.root / "images" / entry.name
        if not path.is_file() or path.stat().st_size != entry.image.size:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                for block in entry.image.blocks(block=4 << 20):
                    handle.write(block)
        return path

    def remove(self, *names: str) -> None:
        """Delete every image with one of these names (as admin), so cells that create them
        can run again."""
        glance = sdk.image(self.identity.connect("admin"))
        for image in list(glance.images()):
            if image.name in names:
                if image.is_protected:
                    glance.update_image(image, protected=False)
                glance.delete_image(image, ignore_missing=True)

    def follow_import(
        self, image: str, source: ImageSource | None = None, show: bool = True
    ) -> ImportWatch:
        """Start watching ``image`` (name or id) in the background: a progress bar while its
        import runs; ``.wait()`` returns the status timeline. Start it *before* asking for
        the import, so the timeline begins at ``queued``."""
        from labkit.images import sim_staged_bytes
        from labkit.widgets.image_import import ImportWatch

        found = sdk.image(self.identity.connect("admin")).find_image(image, ignore_missing=False)
        staged = None
        if self.backend.has_hosts:
            controller = self.backend.plan_context().controller.name
            staged = sim_staged_bytes(self.backend.host_files(), controller)
        return ImportWatch(
            lambda: self.backend.new_connection("admin"),
            found.id,
            found.name,
            total=source.size if source is not None else None,
            staged_bytes=staged,
            show=show,
        ).start()

    def draw_timeline(self, timeline: Timeline) -> Diagram:
        """An image's status changes over time, drawn."""
        from labkit.diagrams import Diagram, graphs

        return Diagram(graphs.image_timeline(timeline))

    def check(self, image: str, source: ImageSource | None = None) -> Table:
        """Download the image from Glance, hash the bytes yourself, compare with Glance's
        checksum/os_hash_value and the publisher's checksum files."""
        from labkit.images import verify_checksums
        from labkit.widgets.images import checksum_table

        found = self._find(image)
        response = sdk.image(self.identity.connect("admin")).download_image(found, stream=True)
        report = verify_checksums(found, response.iter_content(1 << 20))
        published = source.published() if source is not None else {}
        where = source.where if source is not None and source.where else "the publisher"
        return checksum_table(report, published, where.removeprefix("the "))

    def where_bytes_landed(self, image: str) -> Table:
        """The image's file in Glance's store folder on the controller."""
        from labkit import images
        from labkit.widgets.images import stored_table

        found = self._find(image)
        host = self.backend.plan_context().controller.name
        stored = images.where_bytes_landed(self.backend.host_files(), found.id, host)
        return stored_table(stored, found.size)

    def visibility(self, *names: str) -> Table:
        """Each image's visibility and owner, and whether admin and demo see it in their
        image lists."""
        from labkit.widgets.images import visibility_table

        admin = self.identity.connect("admin")
        projects = {p.id: p.name for p in sdk.identity(admin).projects()}
        seen = {
            u: {i.name for i in sdk.image(self.identity.connect(u)).images()}
            for u in ("admin", "demo")
        }
        rows = [
            (i.name, i.visibility, projects.get(i.owner, i.owner))
            for i in sorted(sdk.image(admin).images(), key=lambda i: i.name or "")
            if i.name in names
        ]
        return visibility_table(rows, seen)
