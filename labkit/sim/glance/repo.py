"""Reading and writing images, members and tasks (Glance's ``glance.db`` layer).

Every change runs inside :meth:`Repo.write`: one SQLite transaction under the database's
write lock, so a read-modify-write (a PATCH, a status change by the import thread) cannot
interleave with another one -- what Glance gets from its ``from_state`` compare-and-swap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from labkit.sim.core.sql import Prepared
from labkit.sim.core.store import Database
from labkit.sim.glance import models as m
from labkit.sim.glance.domain import Image, Location
from labkit.sim.glance.errors import Duplicate, NotFound
from labkit.sim.glance.policy import Context, is_visible

_COLUMNS = (
    "name",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "status",
    "visibility",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "min_disk",
    "min_ram",
    "owner",
    "protected",
    "os_hidden",
    "created_at",
    "updated_at",
    "deleted",
)
IMPORTING_KEY = "os_glance_importing_to_stores"


def no_image(image_id: str) -> NotFound:
    return NotFound(f"No image found with ID {image_id}")


@dataclass(frozen=True)
class Member:
    image_id: str
    member_id: str
    status: str
    created_at: float
    updated_at: float


class Tx:
    """One transaction's view of Glance's tables."""

    def __init__(self, session: Session, now: Callable[[], float]) -> None:
        self.s = session
        self.now = now

    # ---- images ------------------------------------------------------------------------------
    def _load(self, rows: list[m.ImageRow]) -> list[Image]:
        ids = [r.id for r in rows]
        props: dict[str, dict[str, Any]] = {i: {} for i in ids}
        tags: dict[str, list[str]] = {i: [] for i in ids}
        locs: dict[str, list[Location]] = {i: [] for i in ids}
        if ids:
            for p in self.s.scalars(
                select(m.ImageProperty)
                .where(m.ImageProperty.image_id.in_(ids))
                .order_by(m.ImageProperty.id)
            ):
                props[p.image_id][p.name] = p.value
            for t in self.s.scalars(
                select(m.ImageTag).where(m.ImageTag.image_id.in_(ids)).order_by(m.ImageTag.id)
            ):
                tags[t.image_id].append(t.value)
            for loc in self.s.scalars(
                select(m.ImageLocation)
                .where(m.ImageLocation.image_id.in_(ids), m.ImageLocation.status != "deleted")
                .order_by(m.ImageLocation.id)
            ):
                locs[loc.image_id].append(Location(loc.value, loc.meta_data.get("store")))
        return [
            Image(
                id=r.id,
                **{c: getattr(r, c) for c in _COLUMNS},
                tags=tags[r.id],
                extra=props[r.id],
                locations=locs[r.id],
            )
            for r in rows
        ]

    def find(self, image_id: str) -> Image | None:
        """The image unless it is deleted (whoever asks)."""
        row = self.s.get(m.ImageRow, image_id)
        if row is None or row.deleted:
            return None
        return self._load([row])[0]

    def get(self, image_id: str, ctx: Context) -> Image:
        """ImageRepo.get: NotFound for missing, deleted and invisible images alike."""
        image = self.find(image_id)
        if image is None or not is_visible(ctx, image, self.member_status):
            raise no_image(image_id)
        return image

    def exists(self, image_id: str) -> bool:
        """Deleted images keep their id: it cannot be used again."""
        return self.s.get(m.ImageRow, image_id) is not None

    def candidates(self) -> list[Image]:
        """Every image an index could show: not deleted, not killed."""
        rows = list(
            self.s.scalars(
                select(m.ImageRow).where(
                    m.ImageRow.deleted.is_(False), m.ImageRow.status != "killed"
                )
            )
        )
        return self._load(rows)

    def add(self, image: Image) -> None:
        if self.exists(image.id):
            raise Duplicate(f"Image ID {image.id} already exists!")
        self.s.add(m.ImageRow(id=image.id, **{c: getattr(image, c) for c in _COLUMNS}))
        self.s.flush()
        self._write_children(image)

    def save(self, image: Image, touch: bool = True) -> None:
        row = self.s.get(m.ImageRow, image.id)
        if row is None:
            raise no_image(image.id)
        if touch:
            image.updated_at = self.now()
        for column in _COLUMNS:
            setattr(row, column, getattr(image, column))
        if image.deleted and row.deleted_at is None:
            row.deleted_at = image.updated_at
        self._write_children(image)

    def _write_children(self, image: Image) -> None:
        for table in (m.ImageProperty, m.ImageTag, m.ImageLocation):
            self.s.execute(delete(table).where(table.image_id == image.id))
        self.s.add_all(
            m.ImageProperty(image_id=image.id, name=k, value=v) for k, v in image.extra.items()
        )
        self.s.add_all(m.ImageTag(image_id=image.id, value=t) for t in image.tags)
        self.s.add_all(
            m.ImageLocation(
                image_id=image.id,
                value=loc.url,
                meta_data={"store": loc.store} if loc.store else {},
            )
            for loc in image.locations
        )

    # ---- members -----------------------------------------------------------------------------
    def member_status(self, image_id: str, project: str) -> str | None:
        row = self.s.scalars(
            select(m.ImageMember).where(
                m.ImageMember.image_id == image_id, m.ImageMember.member == project
            )
        ).first()
        return row.status if row else None

    def members(self, image_id: str) -> list[Member]:
        rows = self.s.scalars(
            select(m.ImageMember)
            .where(m.ImageMember.image_id == image_id)
            .order_by(m.ImageMember.id)
        )
        return [_member(r) for r in rows]

    def memberships(self, project: str) -> dict[str, str]:
        """image id -> this project's membership status."""
        rows = self.s.scalars(select(m.ImageMember).where(m.ImageMember.member == project))
        return {r.image_id: r.status for r in rows}

    def add_member(self, image_id: str, member_id: str) -> Member:
        if self.member_status(image_id, member_id) is not None:
            raise Duplicate(member_id)
        now = self.now()
        row = m.ImageMember(
            image_id=image_id, member=member_id, status="pending", created_at=now, updated_at=now
        )
        self.s.add(row)
        self.s.flush()
        return _member(row)

    def set_member_status(self, image_id: str, member_id: str, status: str) -> Member:
        row = self._member_row(image_id, member_id)
        row.status, row.updated_at = status, self.now()
        return _member(row)

    def remove_member(self, image_id: str, member_id: str) -> None:
        self.s.delete(self._member_row(image_id, member_id))

    def _member_row(self, image_id: str, member_id: str) -> m.ImageMember:
        row = self.s.scalars(
            select(m.ImageMember).where(
                m.ImageMember.image_id == image_id, m.ImageMember.member == member_id
            )
        ).first()
        if row is None:
            raise NotFound(member_id)
        return row

    # ---- usage, for quotas --------------------------------------------------------------------
    def _owned(self, owner: str | None) -> list[Image]:
        rows = list(
            self.s.scalars(
                select(m.ImageRow).where(
                    m.ImageRow.owner == owner, m.ImageRow.status.not_in(("killed", "deleted"))
                )
            )
        )
        return self._load(rows)

    def usage(self, owner: str | None) -> dict[str, int]:
        """Glance's usage figures per quota name (sizes in MiB, rounded down)."""
        owned = self._owned(owner)
        moving = ("saving", "uploading", "importing")

        def copying(i: Image) -> bool:
            return bool(i.extra.get(IMPORTING_KEY)) and i.status not in moving

        stored = sum((i.size or 0) * len(i.locations) for i in owned if (i.size or 0) > 0)
        staged = sum(
            i.size or 0
            for i in owned
            if (i.size or 0) > 0 and (i.status in ("uploading", "importing") or copying(i))
        )
        return {
            "image_size_total": stored // (1 << 20),
            "image_stage_total": staged // (1 << 20),
            "image_count_total": len(owned),
            "image_count_uploading": sum(1 for i in owned if i.status in moving or copying(i)),
        }

    # ---- tasks -------------------------------------------------------------------------------
    def add_task(self, row: m.TaskRow) -> None:
        self.s.add(row)

    def task(self, task_id: str) -> m.TaskRow | None:
        return self.s.get(m.TaskRow, task_id)

    def tasks_for(self, image_id: str) -> list[m.TaskRow]:
        return list(
            self.s.scalars(
                select(m.TaskRow)
                .where(m.TaskRow.image_id == image_id)
                .order_by(m.TaskRow.created_at)
            )
        )


def _member(row: m.ImageMember) -> Member:
    return Member(row.image_id, row.member, row.status, row.created_at, row.updated_at)


class Repo:
    def __init__(self, db: Database, now: Callable[[], float]) -> None:
        self.db = db
        self.now = now

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.db.read() as s:
            yield Tx(s, self.now)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self.db.write() as s:
            yield Tx(s, self.now)

    def get(self, image_id: str, ctx: Context) -> Image:
        """:meth:`Tx.get` outside any session (``GET /v2/images/{id}``, which Nova sends
        twice per boot): the same reads, compiled once (:mod:`labkit.sim.core.sql`)."""
        image = self._find(image_id)
        if image is None or not is_visible(ctx, image, self._member_status):
            raise no_image(image_id)
        return image

    def _find(self, image_id: str) -> Image | None:
        db = self.db
        row = _IMAGE.one(db, id=image_id)
        if row is None or row[-1]:  # deleted
            return None
        return Image(
            id=image_id,
            **dict(zip(_COLUMNS, row, strict=True)),
            tags=[tag for (tag,) in _TAGS.all(db, id=image_id)],
            extra=dict(_PROPERTIES.all(db, id=image_id)),
            locations=[
                Location(url, meta.get("store")) for url, meta in _LOCATIONS.all(db, id=image_id)
            ],
        )

    def _member_status(self, image_id: str, project: str) -> str | None:
        row = _MEMBER_STATUS.one(self.db, id=image_id, member=project)
        return row[0] if row else None

    def mutate(self, image_id: str, change: Callable[[Image], Any]) -> Image | None:
        """Load, change and save one image atomically; None when it is gone."""
        with self.write() as tx:
            image = tx.find(image_id)
            if image is None:
                return None
            change(image)
            tx.save(image)
            return image


# Repo.get's reads: what Tx.find, Tx._load and Tx.member_status read, in the same order
assert _COLUMNS[-1] == "deleted"
_ID: BindParameter[str] = bindparam("id")
_IMAGE = Prepared(select(*(getattr(m.ImageRow, c) for c in _COLUMNS)).where(m.ImageRow.id == _ID))
_PROPERTIES = Prepared(
    select(m.ImageProperty.name, m.ImageProperty.value)
    .where(m.ImageProperty.image_id == _ID)
    .order_by(m.ImageProperty.id)
)
_TAGS = Prepared(select(m.ImageTag.value).where(m.ImageTag.image_id == _ID).order_by(m.ImageTag.id))
_LOCATIONS = Prepared(
    select(m.ImageLocation.value, m.ImageLocation.meta_data)
    .where(m.ImageLocation.image_id == _ID, m.ImageLocation.status != "deleted")
    .order_by(m.ImageLocation.id)
)
_MEMBER_STATUS = Prepared(
    select(m.ImageMember.status).where(
        m.ImageMember.image_id == _ID, m.ImageMember.member == bindparam("member")
    )
)
