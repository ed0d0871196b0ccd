"""State of the simulated hosts (``machines.db``): packages, services, MariaDB, RabbitMQ.

Files the install steps write live as real files under ``<state>/hosts/<host>/`` -- a
notebook can open ``/etc/keystone/keystone.conf`` or the Fernet keys "on the controller".
"""

from __future__ import annotations

from sqlalchemy import Float, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData()


class InstalledPackage(Base):
    __tablename__ = "installed_package"
    host: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    installed_at: Mapped[str] = mapped_column(String(40))


class ServiceState(Base):
    """One init script on one host: stopped, running or failed (with the reason)."""

    __tablename__ = "service_state"
    host: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="stopped")
    since: Mapped[str] = mapped_column(String(40), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    # real seconds of the last start; the service "answers" once started_at + warmup passed
    started_at: Mapped[float] = mapped_column(Float, default=0.0)


class SqlDatabase(Base):
    __tablename__ = "sql_database"
    host: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)


class SqlGrant(Base):
    """``GRANT ALL PRIVILEGES ON db.* TO 'user'@'origin' IDENTIFIED BY 'password'``."""

    __tablename__ = "sql_grant"
    host: Mapped[str] = mapped_column(String(64), primary_key=True)
    database: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin: Mapped[str] = mapped_column(String(64), primary_key=True)
    password: Mapped[str] = mapped_column(String(255))


class RabbitAccount(Base):
    __tablename__ = "rabbit_account"
    host: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(64), primary_key=True)
    password: Mapped[str] = mapped_column(String(255))
    permissions: Mapped[str] = mapped_column(String(64), default="")
