"""The sim process's own tables (``<state>/sim.db``): counters and the trace.

Rooms keep their tables in their own databases; this one belongs to the core.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class CoreBase(DeclarativeBase):
    metadata = MetaData()
