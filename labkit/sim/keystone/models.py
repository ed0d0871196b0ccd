"""Keystone's tables, one SQLite file (``keystone.db``) created by ``keystone-manage db_sync``.

The layout follows Keystone's own split (resource, identity, assignment, catalog, revoke)
closely enough that a learner reading Keystone's schema recognises it, without its
historical columns. Behaviour lives in the sibling modules (``resource``, ``identity``,
``assignment``, ``catalog``, ``revoke``); this file only declares state.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Keystone stores a global role's domain as this sentinel so the unique constraint on
# (name, domain_id) also holds for roles without a domain.
NULL_DOMAIN = "<<null>>"


class Base(DeclarativeBase):
    metadata = MetaData()
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Domain(Base):
    __tablename__ = "domain"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Project(Base):
    __tablename__ = "project"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    domain_id: Mapped[str] = mapped_column(ForeignKey("domain.id"))
    parent_id: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class User(Base):
    __tablename__ = "user"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("domain.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    default_project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=0.0)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # description, email and any other attribute a client sends are kept, as Keystone does.
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Group(Base):
    __tablename__ = "group"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    domain_id: Mapped[str] = mapped_column(ForeignKey("domain.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Membership(Base):
    __tablename__ = "user_group_membership"
    user_id: Mapped[str] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("group.id", ondelete="CASCADE"), primary_key=True
    )


class Role(Base):
    __tablename__ = "role"
    __table_args__ = (UniqueConstraint("name", "domain_id"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(String(64), default=NULL_DOMAIN)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ImpliedRole(Base):
    __tablename__ = "implied_role"
    prior_role_id: Mapped[str] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), primary_key=True
    )
    implied_role_id: Mapped[str] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), primary_key=True
    )


# Assignment types, as in Keystone's ``assignment`` table.
USER_PROJECT = "UserProject"
GROUP_PROJECT = "GroupProject"
USER_DOMAIN = "UserDomain"
GROUP_DOMAIN = "GroupDomain"
USER_SYSTEM = "UserSystem"
GROUP_SYSTEM = "GroupSystem"
SYSTEM_TARGET = "system"


class Assignment(Base):
    __tablename__ = "assignment"
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    actor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role_id: Mapped[str] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), primary_key=True
    )
    inherited: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)


class Region(Base):
    __tablename__ = "region"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    parent_region_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Service(Base):
    __tablename__ = "service"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # name and description live in extra, as in Keystone.
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Endpoint(Base):
    __tablename__ = "endpoint"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id"))
    interface: Mapped[str] = mapped_column(String(8))
    region_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    url: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RevocationEvent(Base):
    """Tokens matching an event and issued before ``issued_before`` are invalid."""

    __tablename__ = "revocation_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issued_before: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float] = mapped_column(Float)


class Credential(Base):
    """A secret a user keeps in Keystone for another service (``/v3/credentials``; EC2
    access/secret pairs are credentials of type ``ec2``). Keystone encrypts ``blob`` with
    its credential keys; the sim keeps it as sent. A table added after the first release:
    a synced database gets it when Keystone starts (``service.configure``)."""

    __tablename__ = "credential"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    type: Mapped[str] = mapped_column(String(255))
    blob: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Policy(Base):
    """A policy blob stored for another service (``/v3/policies``, deprecated since Queens
    but served by Zed). Added after the first release, like ``credential``."""

    __tablename__ = "policy"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(255))
    blob: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ApplicationCredential(Base):
    """A user's delegation of their roles on one project to an application: it logs in
    with the id (or name and user) and the secret, whose hash alone is kept. ``roles`` is
    the list of role ids it carries (Keystone's application_credential_role rows). Added
    after the first release, like ``credential``."""

    __tablename__ = "application_credential"
    __table_args__ = (UniqueConstraint("name", "user_id"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # naive UTC ISO text with microseconds, as Keystone's DateTimeInt gives it back
    expires_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    unrestricted: Mapped[bool] = mapped_column(Boolean, default=False)
    roles: Mapped[list[str]] = mapped_column(default=list)


class EndpointGroup(Base):
    """A named filter over the catalog's endpoints (OS-EP-FILTER's endpoint groups). Its
    project associations, which would narrow a project's catalog, are not emulated."""

    __tablename__ = "endpoint_group"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Consumer(Base):
    """An OAuth1 consumer (OS-OAUTH1): an id and a secret for a third party. The OAuth1
    request/access token dance itself is not emulated."""

    __tablename__ = "consumer"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(64), nullable=True)
    secret: Mapped[str] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DomainConfigOption(Base):
    """One option of a domain's own identity configuration (Keystone's whitelisted_config
    and sensitive_config tables in one, ``sensitive`` telling them apart)."""

    __tablename__ = "domain_config"
    domain_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group: Mapped[str] = mapped_column(String(255), primary_key=True)
    option: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
