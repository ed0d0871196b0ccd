"""What the Keystone sim tests send by hand (the request openstacksdk would build)."""

from __future__ import annotations

from typing import Any


def admin_password_body(password: str) -> dict[str, Any]:
    """``POST /v3/auth/tokens``'s body: admin's password, scoped to the admin project."""
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "domain": {"name": "Default"},
                        "password": password,
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }
