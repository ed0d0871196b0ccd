"""Two of Keystone's ``OS-`` extensions, as far as their stored objects go: endpoint groups
(``/v3/OS-EP-FILTER/endpoint_groups``) and OAuth1 consumers (``/v3/OS-OAUTH1/consumers``).

An endpoint group's ``filters`` may only name ``service_id``, ``region_id`` and
``interface``. A consumer gets a random secret, shown by its create only.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labkit.sim.keystone import models as m
from labkit.sim.keystone.errors import NotFound, ValidationError

_FILTER_KEYS = ("service_id", "region_id", "interface")


def _check_filters(filters: dict[str, Any]) -> None:
    if any(key not in _FILTER_KEYS for key in filters):
        raise ValidationError.expecting(" or ".join(_FILTER_KEYS), "endpoint_group")


def _same_id(data: dict[str, Any], current: str) -> None:
    if data.get("id") is not None and data["id"] != current:
        raise ValidationError("Cannot change ID")


def get_endpoint_group(s: Session, group_id: str) -> m.EndpointGroup:
    found = s.get(m.EndpointGroup, group_id)
    if found is None:
        raise NotFound.of("Endpoint Group", group_id)
    return found


def list_endpoint_groups(s: Session, filters: dict[str, Any]) -> list[m.EndpointGroup]:
    query = select(m.EndpointGroup).order_by(m.EndpointGroup.id)
    if "name" in filters:
        query = query.where(m.EndpointGroup.name == filters["name"])
    return list(s.scalars(query))


def create_endpoint_group(s: Session, group_id: str, data: dict[str, Any]) -> m.EndpointGroup:
    if not data.get("filters"):
        raise ValidationError("filters field is required and cannot be empty")
    _check_filters(data["filters"])
    group = m.EndpointGroup(
        id=group_id,
        name=data["name"],
        description=data.get("description"),
        filters=data["filters"],
    )
    s.add(group)
    return group


def update_endpoint_group(
    s: Session, group: m.EndpointGroup, data: dict[str, Any]
) -> m.EndpointGroup:
    if "filters" in data:
        _check_filters(data["filters"] or {})
    _same_id(data, group.id)
    for name in ("name", "description", "filters"):
        if name in data:
            setattr(group, name, data[name])
    return group


def delete_endpoint_group(s: Session, group: m.EndpointGroup) -> None:
    s.delete(group)


def get_consumer(s: Session, consumer_id: str) -> m.Consumer:
    found = s.get(m.Consumer, consumer_id)
    if found is None:
        raise NotFound("Consumer not found")
    return found


def list_consumers(s: Session, filters: dict[str, Any]) -> list[m.Consumer]:
    return list(s.scalars(select(m.Consumer).order_by(m.Consumer.id)))


def create_consumer(s: Session, consumer_id: str, data: dict[str, Any]) -> m.Consumer:
    consumer = m.Consumer(
        id=consumer_id,
        description=data.get("description"),
        secret=uuid.uuid4().hex,
        extra={k: v for k, v in data.items() if k not in {"id", "description", "secret"}},
    )
    s.add(consumer)
    return consumer


def update_consumer(s: Session, consumer: m.Consumer, data: dict[str, Any]) -> m.Consumer:
    _same_id(data, consumer.id)
    if "description" in data:
        consumer.description = data["description"]
    consumer.extra = {
        **consumer.extra,
        **{k: v for k, v in data.items() if k not in {"id", "description", "secret"}},
    }
    return consumer


def delete_consumer(s: Session, consumer: m.Consumer) -> None:
    s.delete(consumer)
