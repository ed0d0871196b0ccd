"""JSON schemas of Keystone's request bodies, and validation with Keystone's messages.

The schemas mirror Zed's (``keystone/*/schema.py``) property for property, because Keystone
answers a body that does not validate with jsonschema's own text, schema included
(see ``parity/keystone-users-create-noname-400.json``).
"""

from __future__ import annotations

from typing import Any

import jsonschema

from labkit.sim.keystone.errors import SchemaValidationError

_BOOLEAN = {"type": "boolean", "enum": [True, False, None]}
_NULLABLE_BOOLEAN = {"type": ["boolean", "null"], "enum": [True, False, None]}
_ID = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-zA-Z0-9-]+$"}
_NULLABLE_ID = {**_ID, "type": ["string", "null"]}
_NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"[\S]+"}
_SHORT_NAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"[\S]+"}
_DESCRIPTION = {"type": ["string", "null"]}
_TAG = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^,/]*$"}
_TAGS = {"type": "array", "items": _TAG, "required": [], "maxItems": 80, "uniqueItems": True}
_IMMUTABLE = {"type": ["boolean", "null"], "enum": [True, False, None]}
_URL = {"type": "string", "minLength": 0, "maxLength": 225, "pattern": "^[a-zA-Z0-9+.-]+:.+"}

_USER_OPTIONS = {
    "type": "object",
    "properties": {
        name: _NULLABLE_BOOLEAN
        for name in (
            "ignore_change_password_upon_first_use",
            "ignore_lockout_failure_attempts",
            "ignore_password_expiry",
            "ignore_user_inactivity",
            "lock_password",
            "multi_factor_auth_enabled",
        )
    }
    | {
        "multi_factor_auth_rules": {
            "type": ["array", "null"],
            "items": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "uniqueItems": True,
            },
            "uniqueItems": True,
        }
    },
    "additionalProperties": False,
}

_USER_PROPERTIES = {
    "default_project_id": _NULLABLE_ID,
    "description": _DESCRIPTION,
    "domain_id": _ID,
    "enabled": _BOOLEAN,
    "federated": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "idp_id": {"type": "string"},
                "protocols": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "protocol_id": {"type": "string"},
                            "unique_id": {"type": "string"},
                        },
                        "required": ["protocol_id", "unique_id"],
                    },
                    "minItems": 1,
                },
            },
            "required": ["idp_id", "protocols"],
        },
    },
    "name": _NAME,
    "password": {"type": ["string", "null"]},
    "options": _USER_OPTIONS,
}

_OPTIONS_OBJECT = {"type": "object"}

USER_CREATE = {
    "type": "object",
    "properties": _USER_PROPERTIES,
    "options": _OPTIONS_OBJECT,
    "required": ["name"],
    "additionalProperties": True,
}
USER_UPDATE = {
    "type": "object",
    "properties": _USER_PROPERTIES,
    "options": _OPTIONS_OBJECT,
    "minProperties": 1,
    "additionalProperties": True,
}
PASSWORD_CHANGE = {
    "type": "object",
    "properties": {"original_password": {"type": "string"}, "password": {"type": "string"}},
    "required": ["original_password", "password"],
    "additionalProperties": False,
}

_GROUP_PROPERTIES = {"description": _DESCRIPTION, "domain_id": _ID, "name": _SHORT_NAME}
GROUP_CREATE = {
    "type": "object",
    "properties": _GROUP_PROPERTIES,
    "required": ["name"],
    "additionalProperties": True,
}
GROUP_UPDATE = {
    "type": "object",
    "properties": _GROUP_PROPERTIES,
    "minProperties": 1,
    "additionalProperties": True,
}

_PROJECT_OPTIONS = {
    "type": "object",
    "properties": {"immutable": _IMMUTABLE},
    "additionalProperties": False,
}
_PROJECT_PROPERTIES = {
    "description": _DESCRIPTION,
    "domain_id": _NULLABLE_ID,
    "enabled": _BOOLEAN,
    "is_domain": _BOOLEAN,
    "parent_id": _NULLABLE_ID,
    "name": _SHORT_NAME,
    "tags": _TAGS,
    "options": _PROJECT_OPTIONS,
}
PROJECT_CREATE = {
    "type": "object",
    "properties": _PROJECT_PROPERTIES,
    "required": ["name"],
    "additionalProperties": True,
}
PROJECT_UPDATE = {
    "type": "object",
    "properties": _PROJECT_PROPERTIES,
    "minProperties": 1,
    "additionalProperties": True,
}
PROJECT_TAGS = _TAGS

_DOMAIN_PROPERTIES = {
    "description": _DESCRIPTION,
    "enabled": _BOOLEAN,
    "name": _SHORT_NAME,
    "tags": _TAGS,
}
DOMAIN_CREATE = {
    "type": "object",
    "properties": _DOMAIN_PROPERTIES,
    "required": ["name"],
    "additionalProperties": True,
}
DOMAIN_UPDATE = {
    "type": "object",
    "properties": _DOMAIN_PROPERTIES,
    "minProperties": 1,
    "additionalProperties": True,
}

_ROLE_OPTIONS = {
    "type": "object",
    "properties": {"immutable": _IMMUTABLE},
    "additionalProperties": False,
}
_ROLE_PROPERTIES = {"name": _NAME, "description": _DESCRIPTION, "options": _ROLE_OPTIONS}
ROLE_CREATE = {
    "type": "object",
    "properties": _ROLE_PROPERTIES,
    "required": ["name"],
    "additionalProperties": True,
}
ROLE_UPDATE = {
    "type": "object",
    "properties": _ROLE_PROPERTIES,
    "minProperties": 1,
    "additionalProperties": True,
}

_REGION_PROPERTIES = {
    "description": _DESCRIPTION,
    "id": {"type": "string"},
    "parent_region_id": {"type": ["string", "null"]},
}
REGION_CREATE = {"type": "object", "properties": _REGION_PROPERTIES, "additionalProperties": True}
REGION_UPDATE = {
    "type": "object",
    "properties": _REGION_PROPERTIES,
    "minProperties": 1,
    "additionalProperties": True,
}

_SERVICE_TYPE = {"type": "string", "minLength": 1, "maxLength": 255}
_SERVICE_PROPERTIES = {"enabled": _BOOLEAN, "name": _NAME, "type": _SERVICE_TYPE}
SERVICE_CREATE = {
    "type": "object",
    "properties": _SERVICE_PROPERTIES,
    "required": ["type"],
    "additionalProperties": True,
}
SERVICE_UPDATE = {
    "type": "object",
    "properties": _SERVICE_PROPERTIES,
    "minProperties": 1,
    "additionalProperties": True,
}

_ENDPOINT_PROPERTIES = {
    "enabled": _BOOLEAN,
    "interface": {"type": "string", "enum": ["admin", "internal", "public"]},
    "region_id": {"type": "string"},
    "region": {"type": "string"},
    "service_id": {"type": "string"},
    "url": _URL,
}
ENDPOINT_CREATE = {
    "type": "object",
    "properties": _ENDPOINT_PROPERTIES,
    "required": ["interface", "service_id", "url"],
    "additionalProperties": True,
}
ENDPOINT_UPDATE = {
    "type": "object",
    "properties": _ENDPOINT_PROPERTIES,
    "minProperties": 1,
    "additionalProperties": True,
}

# keystone/auth/schema.py token_issue
_SCOPE_ID_NAME = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}
TOKEN_ISSUE = {
    "type": "object",
    "properties": {
        "identity": {
            "type": "object",
            "properties": {
                "methods": {"type": "array", "items": {"type": "string"}},
                "password": {
                    "type": "object",
                    "properties": {
                        "user": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "name": {"type": "string"},
                                "password": {"type": "string"},
                                "domain": _SCOPE_ID_NAME,
                            },
                        }
                    },
                },
                "token": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}},
                    "required": ["id"],
                },
            },
            "required": ["methods"],
        },
        "scope": {
            "type": ["object", "string"],
            "properties": {
                "project": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "id": {"type": "string"},
                        "domain": _SCOPE_ID_NAME,
                    },
                },
                "domain": _SCOPE_ID_NAME,
                "OS-TRUST:trust": {"type": "object", "properties": {"id": {"type": "string"}}},
                "system": {"type": "object", "properties": {"all": {"type": "boolean"}}},
            },
        },
    },
    "required": ["identity"],
}

_VALIDATORS: dict[int, jsonschema.Draft4Validator] = {}


def validate(schema: dict[str, Any], data: Any) -> None:
    """Raise Keystone's 400 for ``data`` that does not match ``schema``."""
    key = id(schema)
    if key not in _VALIDATORS:
        _VALIDATORS[key] = jsonschema.Draft4Validator(schema)
    try:
        _VALIDATORS[key].validate(data)
    except jsonschema.ValidationError as exc:
        if exc.path:
            path = "/".join(str(p) for p in exc.path)
            raise SchemaValidationError(f"Invalid input for field '{path}': {exc}") from None
        raise SchemaValidationError(str(exc)) from None


# keystone/credential/schema.py
_CREDENTIAL_PROPERTIES = {
    "blob": {"type": "string"},
    "project_id": {"type": "string"},
    "type": {"type": "string"},
    "user_id": {"type": "string"},
}
CREDENTIAL_CREATE = {
    "type": "object",
    "properties": _CREDENTIAL_PROPERTIES,
    "additionalProperties": True,
    "oneOf": [
        {
            "title": "ec2 credential requires project_id",
            "required": ["blob", "type", "user_id", "project_id"],
            "properties": {"type": {"enum": ["ec2"]}},
        },
        {
            "title": "non-ec2 credential does not require project_id",
            "required": ["blob", "type", "user_id"],
            "properties": {"type": {"not": {"enum": ["ec2"]}}},
        },
    ],
}
CREDENTIAL_UPDATE = {
    "type": "object",
    "properties": _CREDENTIAL_PROPERTIES,
    "minProperties": 1,
    "additionalProperties": True,
}

# keystone/policy/schema.py
_POLICY_PROPERTIES = {"blob": {"type": "string"}, "type": {"type": "string", "maxLength": 255}}
POLICY_CREATE = {
    "type": "object",
    "properties": _POLICY_PROPERTIES,
    "required": ["blob", "type"],
    "additionalProperties": True,
}
POLICY_UPDATE = {
    "type": "object",
    "properties": _POLICY_PROPERTIES,
    "minProperties": 1,
    "additionalProperties": True,
}

# keystone/application_credential/schema.py
APPLICATION_CREDENTIAL_CREATE = {
    "type": "object",
    "properties": {
        "name": _NAME,
        "description": _DESCRIPTION,
        "secret": {"type": ["null", "string"]},
        "expires_at": {"type": ["null", "string"]},
        "roles": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": _ID, "name": _NAME},
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": False,
            },
        },
        "unrestricted": _BOOLEAN,
        "access_rules": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "minLength": 0,
                        "maxLength": 225,
                        "pattern": r"^\/.*",
                    },
                    "method": {"type": "string", "pattern": r"^(POST|GET|HEAD|PATCH|PUT|DELETE)$"},
                    "service": _ID,
                    "id": _ID,
                },
                "additionalProperties": False,
            },
        },
    },
    "required": ["name"],
    "additionalProperties": True,
}

# keystone/catalog/schema.py endpoint groups, keystone/oauth1/schema.py consumers
_ENDPOINT_GROUP_PROPERTIES = {
    "description": _DESCRIPTION,
    "filters": {"type": "object"},
    "name": _NAME,
}
ENDPOINT_GROUP_CREATE = {
    "type": "object",
    "properties": _ENDPOINT_GROUP_PROPERTIES,
    "required": ["name", "filters"],
}
ENDPOINT_GROUP_UPDATE = {
    "type": "object",
    "properties": _ENDPOINT_GROUP_PROPERTIES,
    "minProperties": 1,
}
CONSUMER_CREATE = {
    "type": "object",
    "properties": {"description": _DESCRIPTION},
    "additionalProperties": True,
}
CONSUMER_UPDATE = {
    "type": "object",
    "properties": {"description": _DESCRIPTION},
    "not": {"required": ["secret"]},
    "minProperties": 1,
    "additionalProperties": True,
}
