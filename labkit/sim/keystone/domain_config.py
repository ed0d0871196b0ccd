"""Domain-specific identity configuration (``/v3/domains/{id}/config``), as Zed's
``keystone/resource/core.py`` DomainConfigManager keeps it.

A domain may carry its own ``[identity]`` and ``[ldap]`` options (the ones Keystone
whitelists), e.g. to put one domain's users in LDAP. The sim stores and shows them; every
domain's users still come from SQL. ``[ldap] password`` is sensitive: kept, never shown.
``/v3/domains/config/default`` shows the values keystone.conf gives the whitelisted options
-- Zed's defaults, as the install writes neither section.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labkit.sim.keystone import models as m
from labkit.sim.keystone.errors import ForbiddenNotSecurity, NotFound

# Zed's [identity] and [ldap] defaults for the options a domain may set (keystone/conf).
DEFAULTS: dict[str, dict[str, Any]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost",
        "user": None,
        "suffix": "cn=example,cn=com",
        "query_scope": "one",
        "page_size": 0,
        "alias_dereferencing": "default",
        "debug_level": None,
        "chase_referrals": None,
        "user_tree_dn": None,
        "user_filter": None,
        "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn",
        "user_name_attribute": "sn",
        "user_mail_attribute": "mail",
        "user_description_attribute": "description",
        "user_pass_attribute": "userPassword",
        "user_enabled_attribute": "enabled",
        "user_enabled_invert": False,
        "user_enabled_mask": 0,
        "user_enabled_default": "True",
        "user_attribute_ignore": ["default_project_id"],
        "user_default_project_id_attribute": None,
        "user_enabled_emulation": False,
        "user_enabled_emulation_dn": None,
        "user_enabled_emulation_use_group_config": False,
        "user_additional_attribute_mapping": [],
        "group_tree_dn": None,
        "group_filter": None,
        "group_objectclass": "groupOfNames",
        "group_id_attribute": "cn",
        "group_name_attribute": "ou",
        "group_members_are_ids": False,
        "group_member_attribute": "member",
        "group_desc_attribute": "description",
        "group_attribute_ignore": [],
        "group_additional_attribute_mapping": [],
        "tls_cacertfile": None,
        "tls_cacertdir": None,
        "use_tls": False,
        "tls_req_cert": "demand",
        "use_pool": True,
        "pool_size": 10,
        "pool_retry_max": 3,
        "pool_retry_delay": 0.1,
        "pool_connection_timeout": -1,
        "pool_connection_lifetime": 600,
        "use_auth_pool": True,
        "auth_pool_size": 100,
        "auth_pool_connection_lifetime": 60,
    },
}
SENSITIVE = {"identity": (), "ldap": ("password",)}
SECURITY_COMPLIANCE = "security_compliance"
# [security_compliance] options anyone may read for the default domain (Zed: unset)
READABLE_COMPLIANCE = {"password_regex": None, "password_regex_description": None}

Config = dict[str, Any]


def invalid(reason: str) -> ForbiddenNotSecurity:
    """Keystone's InvalidDomainConfig (a 403 whose reason is shown)."""
    return ForbiddenNotSecurity(f"Invalid domain specific configuration: {reason}.")


def not_found(domain_id: str, group: str | None, option: str | None) -> NotFound:
    if option:
        what = f"option {option} in group {group}"
    elif group:
        what = f"group {group}"
    else:
        what = "any options"
    return NotFound(f"Could not find {what} in domain configuration for domain {domain_id}.")


def check_group_and_option(group: str | None, option: str | None) -> None:
    if group is None:
        return
    if group not in DEFAULTS:
        raise invalid(f"Group {group} is not supported for domain specific configurations")
    if option is not None and option not in DEFAULTS[group] and option not in SENSITIVE[group]:
        raise invalid(
            f"Option {option} in group {group} is not supported for domain specific configurations"
        )


def check_config(config: Config) -> None:
    if not config:
        raise invalid("No options specified")
    for group, options in config.items():
        if not options or not isinstance(options, dict):
            raise invalid(
                f"The value of group {group} specified in the config should be a dictionary "
                "of options"
            )
        for option in options:
            check_group_and_option(group, option)


def _rows(
    s: Session, domain_id: str, group: str | None = None, option: str | None = None
) -> list[m.DomainConfigOption]:
    query = select(m.DomainConfigOption).where(m.DomainConfigOption.domain_id == domain_id)
    if group is not None:
        query = query.where(m.DomainConfigOption.group == group)
    if option is not None:
        query = query.where(m.DomainConfigOption.option == option)
    return list(s.scalars(query.order_by(m.DomainConfigOption.group, m.DomainConfigOption.option)))


def _shape(pairs: list[tuple[str, str, Any]], option: str | None = None) -> Config:
    """``{group: {option: value}}``, or ``{option: value}`` when one option was asked for."""
    if option is not None:
        return {name: value for _, name, value in pairs}
    out: Config = {}
    for group, name, value in pairs:
        out.setdefault(group, {})[name] = value
    return out


def show(s: Session, domain_id: str, group: str | None, option: str | None) -> Config:
    """What a GET shows: the non-sensitive options asked for, 404 if there are none."""
    check_group_and_option(group, option)
    rows = [r for r in _rows(s, domain_id, group, option) if not r.sensitive]
    if not rows:
        raise not_found(domain_id, group, option)
    return _shape([(r.group, r.option, r.value) for r in rows], option)


def exists(s: Session, domain_id: str) -> bool:
    return bool(_rows(s, domain_id))


def replace(s: Session, domain_id: str, config: Config) -> Config:
    """PUT: the whole configuration replaced by ``config``."""
    check_config(config)
    s.execute(delete(m.DomainConfigOption).where(m.DomainConfigOption.domain_id == domain_id))
    _store(s, domain_id, config)
    s.flush()
    rows = [r for r in _rows(s, domain_id) if not r.sensitive]
    return _shape([(r.group, r.option, r.value) for r in rows])


def _store(s: Session, domain_id: str, config: Config) -> None:
    for group, options in config.items():
        for option, value in options.items():
            s.merge(
                m.DomainConfigOption(
                    domain_id=domain_id,
                    group=group,
                    option=option,
                    value=value,
                    sensitive=option in SENSITIVE[group],
                )
            )


def update(
    s: Session, domain_id: str, body: Config, group: str | None, option: str | None
) -> Config:
    """PATCH: options merged in; one group or one option only when the path names it (which
    must exist already). Answers the whole configuration."""
    config = {group: body} if group and option else body
    check_config(config)
    check_group_and_option(group, option)
    if group:
        if len(config) != 1 or (option and len(config.get(group, {})) != 1):
            if option:
                raise invalid(
                    f"Trying to update option {option} in group {group}, so that, and only "
                    "that, option must be specified  in the config"
                )
            raise invalid(
                f"Trying to update group {group}, so that, and only that, group must be "
                "specified in the config"
            )
        if group not in config:
            raise invalid(
                f"request to update group {group}, but config provided contains group "
                f"{next(iter(config))} instead"
            )
        if option and option not in config[group]:
            raise invalid(
                f"Trying to update option {option} in group {group}, but config provided "
                f"contains option {next(iter(config[group]))} instead"
            )
        if not _rows(s, domain_id, group, option):
            raise not_found(domain_id, group, option)
    _store(s, domain_id, config)
    s.flush()
    return show(s, domain_id, None, None)


def remove(s: Session, domain_id: str, group: str | None, option: str | None) -> None:
    """DELETE: the whole configuration, one group or one option (404 if it is not set)."""
    check_group_and_option(group, option)
    if group:
        current = {r.option: r.value for r in _rows(s, domain_id, group)}
        if not current:
            raise not_found(domain_id, group, None)
        if option and not current.get(option):
            raise not_found(domain_id, group, option)
    for row in _rows(s, domain_id, group, option):
        s.delete(row)


def defaults(group: str | None, option: str | None) -> Config:
    """``/v3/domains/config[/{group}[/{option}]]/default``."""
    check_group_and_option(group, option)
    if option is not None:
        assert group is not None
        if option not in DEFAULTS[group]:
            raise invalid(
                f"Reading the default for option {option} in group {group} is not supported"
            )
        return {option: DEFAULTS[group][option]}
    groups = [group] if group else list(DEFAULTS)
    return {g: dict(DEFAULTS[g]) for g in groups}


def security_compliance(domain_id: str, default_domain_id: str, option: str | None) -> Config:
    """What anyone may read of ``[security_compliance]``, for the default domain only."""
    if domain_id != default_domain_id:
        raise invalid(
            "Reading security compliance information for any domain other than the default "
            "domain is not allowed or supported."  # Keystone's own period, and the format's
        )
    if option is not None:
        if option not in READABLE_COMPLIANCE:
            raise invalid(
                "Reading security compliance values other than password_regex and "
                "password_regex_description is not allowed."
            )
        return {option: READABLE_COMPLIANCE[option]}
    return {SECURITY_COMPLIANCE: dict(READABLE_COMPLIANCE)}
