"""Who may see and change which image: Zed's defaults with ``enforce_new_defaults = False``.

In that mode every image rule is "new default OR deprecated rule", and the deprecated rules
are ``rule:default`` (empty: anyone). What actually decides is therefore:

* the database layer's visibility check: admins see everything; others see public and
  community images, their own project's, and shared images their project is a member of;
* the legacy "admin or owner" checks Glance still hard-codes (``check_is_image_mutable``);
* the few rules without a deprecated fallback: ``publicize_image`` and ``copy_image`` and
  ``stores_info_detail`` are ``role:admin``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from labkit.sim.glance.domain import Image
from labkit.sim.glance.errors import Forbidden

MemberLookup = Callable[[str, str], str | None]  # (image_id, project) -> member status


@dataclass(frozen=True)
class Context:
    """glance.context.RequestContext: who is calling (roles lower-cased, as Glance does)."""

    request_id: str
    user_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    roles: frozenset[str] = frozenset()
    is_admin: bool = False

    @property
    def owner(self) -> str | None:
        return self.project_id

    @classmethod
    def admin(cls, request_id: str) -> Context:
        """The unauthenticated pipeline (no paste flavor): every caller is an admin."""
        return cls(request_id=request_id, is_admin=True)


def is_visible(ctx: Context, image: Image, member_status: MemberLookup) -> bool:
    """glance.db.utils.is_image_visible (any membership status counts)."""
    if ctx.is_admin or image.owner is None or image.visibility in ("public", "community"):
        return True
    if ctx.owner is None:
        return False
    if ctx.owner == image.owner:
        return True
    return image.visibility == "shared" and member_status(image.id, ctx.owner) is not None


def check_mutable(ctx: Context, image: Image) -> None:
    """check_is_image_mutable: only an admin or the owning project changes an image."""
    if ctx.is_admin:
        return
    if image.owner is None or ctx.owner is None or image.owner != ctx.owner:
        raise Forbidden("You do not own this image")


def enforce(ctx: Context, rule: str) -> None:
    """The admin-only rules; oslo.policy's text names the rule."""
    if rule in ("publicize_image", "copy_image", "stores_info_detail") and not ctx.is_admin:
        raise Forbidden(f"You are not authorized to complete {rule} action.")


def enforce_visibility(ctx: Context, visibility: object) -> None:
    if visibility == "public":
        enforce(ctx, "publicize_image")


def check_create_owner(ctx: Context, owner: object) -> None:
    """check_admin_or_same_owner, on create (only when the body names an owner)."""
    if ctx.is_admin or owner == ctx.project_id:
        return
    raise Forbidden(f"You are not permitted to create images owned by '{owner}'.")
