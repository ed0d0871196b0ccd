"""Images as tables: your checksums against Glance's and the publisher's, where the bytes
are, and who can see which image.

Introduced in notebooks/03-glance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from labkit.display import Table
from labkit.images import ChecksumReport, StoredImage


def _short(digest: str | None) -> str:
    # 16 hex digits are plenty to compare by eye; whole digests would only wrap.
    return "-" if not digest else f"{digest[:16]}..."


def checksum_table(
    report: ChecksumReport, published: Mapping[str, str], where: str = "the mirror"
) -> Table:
    """One row per digest: yours (of the bytes you downloaded), Glance's record, and the
    publisher's checksum file.

    Introduced in notebooks/03-glance.
    """
    table = Table(
        ["digest", "your bytes", "Glance recorded", f"{where} publishes", "verdict"],
        title=f"Checksums of {report.size} bytes downloaded from Glance",
    )
    rows = [
        ("size", str(report.size), str(report.glance_size), None),
        ("md5 (checksum)", report.md5, report.glance_checksum, published.get("md5")),
        (
            f"{report.os_hash_algo} (os_hash_value)",
            report.os_hash_value,
            report.glance_hash_value,
            published.get(report.os_hash_algo),
        ),
    ]
    for name, mine, glance, theirs in rows:
        same = mine == glance and (theirs is None or theirs == mine)
        shown = (lambda d: d) if name == "size" else _short
        table.add(
            name,
            shown(mine),
            shown(glance),
            "-" if theirs is None else _short(theirs),
            "match" if same else "DIFFERENT",
            mark="ok" if same else "fail",
        )
    table.note = (
        "All match: the bytes Glance stored are the bytes the publisher signed off."
        if all(m == "ok" for m in table.marks)
        else "A digest differs: the download was corrupted or the file is not the published one."
    )
    return table


def stored_table(stored: StoredImage, glance_size: int | None) -> Table:
    """The image's file in the store folder on the controller."""
    table = Table(
        ["host", "file", "bytes", "mode", "same size as Glance's size"],
        title="Where Glance put the bytes",
    )
    if stored.size is None:
        table.add(stored.host, stored.path, "-", "-", "no such file", mark="fail")
        return table
    same = stored.size == glance_size
    mark = "ok" if same else "fail"
    table.add(stored.host, stored.path, stored.size, stored.mode, same, mark=mark)
    table.note = f"{len(stored.store_listing)} file(s) in the store folder, one per active image"
    return table


def visibility_table(images: Sequence[tuple[str, str, str]], seen: Mapping[str, set[str]]) -> Table:
    """``images``: (name, visibility, owner project name); ``seen``: user -> names visible.

    Introduced in notebooks/03-glance.
    """
    users = list(seen)
    table = Table(
        ["image", "visibility", "owner", *(f"{u} sees it" for u in users)],
        title="Who sees which image",
    )
    for name, visibility, owner in images:
        table.add(name, visibility, owner, *(name in seen[u] for u in users))
    return table
