"""Reading a service's config file (``/etc/<service>/<service>.conf``) the way oslo.config does.

Every room describes the options it acts on as a frozen dataclass with a ``read(path)``
classmethod (``KeystoneConf``, ``GlanceConf`` ...) built on :class:`ConfFile`, which keeps
oslo.config's habits: no interpolation, later duplicate keys win, ``[DEFAULT]`` values are
seen from every section, list options are comma separated (optionally in brackets), and a
bad value names the file, section and option. Writing config files is the install steps'
business (:mod:`.ini`, which edits like ``crudini``).
"""

from __future__ import annotations

import configparser
from pathlib import Path


class ConfError(ValueError):
    """A value oslo.config would refuse (the service does not start)."""


class ConfFile:
    def __init__(self, parser: configparser.ConfigParser, label: str) -> None:
        self.parser = parser
        self.label = label  # e.g. "glance-api.conf", for error messages

    @classmethod
    def read(cls, path: Path) -> ConfFile:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(path)
        except configparser.Error as exc:
            raise ConfError(f"{path.name}: cannot parse: {exc}") from None
        return cls(parser, path.name)

    def get(self, section: str, key: str, default: str = "") -> str:
        return self.parser.get(section, key, fallback=default).strip()

    def has(self, section: str, key: str) -> bool:
        return self.parser.has_option(section, key)

    def get_int(self, section: str, key: str, default: int) -> int:
        value = self.get(section, key, str(default))
        try:
            return int(value or default)
        except ValueError:
            raise ConfError(f"{self.label} [{section}] {key}: not an integer: {value!r}") from None

    def get_bool(self, section: str, key: str, default: bool = False) -> bool:
        value = self.get(section, key, "").lower()
        if not value:
            return default
        if value in ("true", "yes", "on", "1"):
            return True
        if value in ("false", "no", "off", "0"):
            return False
        raise ConfError(f"{self.label} [{section}] {key}: not a boolean: {value!r}")

    def get_list(self, section: str, key: str, default: str = "") -> list[str]:
        return split_list(self.get(section, key, default))

    def sections(self) -> list[str]:
        return self.parser.sections()


def split_list(value: str) -> list[str]:
    """oslo.config ListOpt: comma separated, optionally in brackets, items may be quoted."""
    value = value.strip().removeprefix("[").removesuffix("]")
    return [item.strip().strip("'\"") for item in value.split(",") if item.strip()]
