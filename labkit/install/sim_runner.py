"""Run install steps against the sim: host steps go to the sim's ``/_sim`` API, the rest
(waiting for a URL, creating Keystone objects) run here, as they would from a laptop."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from labkit import probe
from labkit.errors import InstallError
from labkit.install import client_steps
from labkit.install import steps as st
from labkit.sim.client import SimClient


class SimRunner:
    def __init__(
        self, client: SimClient, secrets: dict[str, str], connect: Callable[[], Any]
    ) -> None:
        self.client = client
        self.secrets = secrets
        self._connect = connect

    def check(self, step: st.Step, changed_paths: set[str]) -> bool:
        if isinstance(step, st.ChooseSetting):
            step = self._chosen(step)
            if not isinstance(step, st.IniSet):
                return True
        if isinstance(step, st.WaitHttp):
            return False  # always wait: it is quick when the service already answers
        if client_steps.is_client_step(step):
            return client_steps.check(self._connect(), step, self.secrets)
        answer = self.client.step(step.host, step.to_dict(), "check", self.secrets, changed_paths)
        return bool(answer["done"])

    def apply(self, step: st.Step, changed_paths: set[str]) -> tuple[int, list[str]]:
        if isinstance(step, st.ChooseSetting):
            step = self._chosen(step)
            if not isinstance(step, st.IniSet):
                return 0, []
        if isinstance(step, st.WaitHttp):
            return self._wait(step)
        if client_steps.is_client_step(step):
            return client_steps.apply(self._connect(), step, self.secrets)
        answer = self.client.step(step.host, step.to_dict(), "apply", self.secrets, changed_paths)
        changed_paths.update(answer.get("changed_paths", []))
        output = [st.mask_secrets(line, self.secrets) for line in answer.get("output", [])]
        return int(answer["exit_code"]), output

    @staticmethod
    def _chosen(step: st.ChooseSetting) -> st.Step:
        """The edit the probe leads to on a simulated host (its answer is ``sim_answer``):
        an ini setting the sim applies, or -- for a file of plain lines such as qemu.conf,
        which the sim's hosts do not keep -- the step itself, counted as done."""
        value = step.if_true if step.sim_answer else step.if_false
        if not step.section:
            return step
        return st.IniSet(
            title=step.title,
            host=step.host,
            why=step.why,
            path=step.path,
            settings=((step.section, step.key, value),),
        )

    @staticmethod
    def _wait(step: st.WaitHttp) -> tuple[int, list[str]]:
        deadline = time.monotonic() + step.timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                status = probe.get(step.url, timeout=3).status_code
                if status < 500:
                    return 0, [f"{step.url} answered {status}"]
                last = f"HTTP {status}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.2)
        raise InstallError(
            f"{step.url} did not answer within {step.timeout:.0f} s ({last}).",
            "Look at the service's log (`labkit sim logs SERVICE`).",
        )
