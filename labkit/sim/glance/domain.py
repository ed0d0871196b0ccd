"""An image as Glance's domain layer sees it, and the rules that change it.

The status machine is data (:data:`VALID_TARGETS`, from ``glance/domain/__init__.py``), and
so are the guards around attribute changes. ``killed`` is in the machine but Glance v2 never
enters it any more: a failed upload goes back to ``queued`` so that it can be retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labkit.sim.glance.errors import Forbidden, Invalid, InvalidImageStatusTransition

VALID_TARGETS: dict[str, tuple[str, ...]] = {
    "queued": ("saving", "uploading", "importing", "active", "deleted"),
    "saving": ("active", "killed", "deleted", "queued"),
    "uploading": ("importing", "queued", "deleted"),
    "importing": ("active", "deleted", "queued"),
    "active": ("pending_delete", "deleted", "deactivated"),
    "killed": ("deleted",),
    "pending_delete": ("deleted", "active"),
    "deleted": (),
    "deactivated": ("active", "deleted"),
}
VISIBILITIES = ("community", "public", "private", "shared")
MEMBER_STATUSES = ("pending", "accepted", "rejected")
# Attributes of the image itself (anything else is an extra property).
BASE_ATTRIBUTES = (
    "name",
    "disk_format",
    "container_format",
    "visibility",
    "size",
    "virtual_size",
    "status",
    "checksum",
    "protected",
    "min_ram",
    "min_disk",
    "owner",
    "os_hidden",
    "os_hash_algo",
    "os_hash_value",
    "tags",
    "id",
    "created_at",
    "updated_at",
    "locations",
)


class FormatsMissing(ValueError):
    """Glance raises a ValueError here; each API call turns it into its own 400."""


@dataclass
class Location:
    url: str
    store: str | None


@dataclass
class Image:
    id: str
    status: str
    visibility: str
    created_at: float
    updated_at: float
    name: str | None = None
    disk_format: str | None = None
    container_format: str | None = None
    size: int | None = None
    virtual_size: int | None = None
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    min_disk: int = 0
    min_ram: int = 0
    owner: str | None = None
    protected: bool = False
    os_hidden: bool = False
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # str, or None for nullable ones
    locations: list[Location] = field(default_factory=list)
    deleted: bool = False

    # ---- status ----------------------------------------------------------------------------
    def set_status(self, new: str) -> None:
        if new not in VALID_TARGETS[self.status]:
            raise InvalidImageStatusTransition(self.status, new)
        if self.status in ("queued", "uploading") and new in ("saving", "active", "importing"):
            missing = [k for k in ("disk_format", "container_format") if not getattr(self, k)]
            if missing:
                noun = "Property %s must" if len(missing) == 1 else "Properties %s must"
                raise FormatsMissing((noun % ", ".join(missing)) + " be set prior to saving data.")
        if new == "queued":
            # Glance forgets the size of data it no longer has.
            self.size = None
            self.virtual_size = None
        self.status = new

    def delete(self) -> None:
        if self.protected:
            raise Forbidden(f"Image {self.id} is protected and cannot be deleted.")
        self.set_status("deleted")
        self.deleted = True

    def deactivate(self) -> None:
        if self.status == "active":
            self.set_status("deactivated")
        elif self.status != "deactivated":
            raise Forbidden(f"Not allowed to deactivate image in status '{self.status}'")

    def reactivate(self) -> None:
        if self.status == "deactivated":
            self.set_status("active")
        elif self.status != "active":
            raise Forbidden(f"Not allowed to reactivate image in status '{self.status}'")

    # ---- attributes ------------------------------------------------------------------------
    def set_attribute(self, name: str, value: object) -> None:
        """``setattr`` on Glance's Image, with the same guards as its property setters."""
        if name in ("disk_format", "container_format") and self.status not in (
            "queued",
            "importing",
        ):
            raise Forbidden(f"Attribute {name} can be only replaced for a queued image.")
        if name in ("min_ram", "min_disk") and isinstance(value, int) and value < 0:
            raise Invalid(
                f"Invalid value '{value}' for parameter '{name}': Cannot be a negative value"
            )
        if name == "tags":
            assert isinstance(value, list)
            self.tags = list(dict.fromkeys(str(v) for v in value))
            return
        setattr(self, name, value)

    @staticmethod
    def has_attribute(name: str) -> bool:
        return name in BASE_ATTRIBUTES

    def add_tag(self, tag: str) -> None:
        if tag not in self.tags:
            self.tags.append(tag)

    def remove_tag(self, tag: str) -> None:
        self.tags = [t for t in self.tags if t != tag]
