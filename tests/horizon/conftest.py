"""Fixtures of the dashboard tests (defined in :mod:`tests.horizon.fixtures`, shared with
``tests/browser``)."""

from tests.horizon.fixtures import (  # noqa: F401
    horizon_lab,
    horizon_url,
    horizon_users,
    horizon_venv,
)
