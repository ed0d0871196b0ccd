"""The installs facade: a layer's plan (the steps as a person would type them), running it
on the lab's hosts, and which layers are in place -- the same on the sim and on real hosts,
skipped on an existing cloud.

Introduced in notebooks/01-hosts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from labkit import install
from labkit.display import Text
from labkit.install import steps as st
from labkit.install.runner import StepResult, apply_plan
from labkit.lab.backends import Backend
from labkit.lab.identity import Identity

if TYPE_CHECKING:
    from labkit.widgets.plan import PlanView

STATE_LAYERS_FILE = "installed-layers"


def install_order(*layers: str) -> list[str]:
    """``layers`` and everything below them, each once, lowest first."""
    order: list[str] = []
    for layer in layers:
        order += [name for name in install.layers_up_to(layer) if name not in order]
    return order


class Installs:
    def __init__(self, backend: Backend, identity: Identity) -> None:
        self.backend = backend
        self.identity = identity

    @property
    def _layers_file(self) -> Path:
        return self.backend.paths.root / STATE_LAYERS_FILE

    def plan(self, layer: str) -> list[st.Step]:
        return list(install.get(layer).plan(self.backend.plan_context()))

    def show_plan(self, layer: str) -> PlanView | Text:
        """A layer's install steps as a person would type them."""
        from labkit.widgets.plan import PlanView

        if not self.backend.has_hosts:
            return Text(
                f"{self.backend.env.name} is an existing cloud: labkit installs nothing there."
            )
        return PlanView(layer, self.plan(layer))

    def install(self, layer: str, show: bool = True) -> list[StepResult]:
        """Run one layer's installer (its requirements must be installed already)."""
        from labkit.widgets.progress import InstallProgress

        if not self.backend.has_hosts:
            if show:
                print(f"Skipped: {self.backend.env.name} is an existing cloud; nothing to install.")
            return []
        self.backend.start()
        progress = InstallProgress(layer, show)
        results = apply_plan(self.plan(layer), self.backend.runner(), progress, layer=layer)
        progress.finish(results)
        # A layer may start something on this machine once its plan ran (Horizon next to
        # the sim: labkit.install.horizon.after_install).
        after = getattr(install.get(layer), "after_install", None)
        for line in after(self.backend) if after else []:
            if show:
                print(line)
        self._record(layer)
        if layer == "keystone":
            self.backend.write_clouds_yaml()
        self.identity.forget_connections()
        return results

    def ensure(self, *layers: str, show: bool = False) -> None:
        """Make sure ``layers`` (and everything below them) are installed and running."""
        self.backend.start()
        if not self.backend.has_hosts:
            return
        for name in install_order(*layers):
            self.install(name, show=show)

    def _record(self, layer: str) -> None:
        path = self._layers_file
        done = set(path.read_text().split()) if path.is_file() else set()
        done.add(layer)
        path.write_text("\n".join(sorted(done)) + "\n")

    def installed(self) -> list[str]:
        path = self._layers_file
        return sorted(path.read_text().split()) if path.is_file() else []
