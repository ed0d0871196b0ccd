"""An install plan as a person would follow it: each step's title, host, why, and the exact
commands from the Install Guide, with secrets shown as the guide's placeholders.

Introduced in notebooks/01-hosts.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from labkit.install import steps as st


def shell_lines(step: st.Step) -> list[str]:
    """The step's commands as they would appear in a terminal session."""
    commands = step.commands()
    if isinstance(step, st.Database) and commands:
        # `mysql` opens a prompt; the SQL is typed there.
        return [f"$ {commands[0]}"] + [f"MariaDB [(none)]> {line}" for line in commands[1:]]
    return [f"$ {line}" for line in commands]


def _notes(step: st.Step) -> list[str]:
    notes = []
    if isinstance(step, st.Command) and step.done_when.what != "never":
        notes.append(f"skipped when {step.done_when.describe()}")
    if isinstance(step, st.Service) and step.restart_on:
        notes.append(f"restarted when {', '.join(step.restart_on)} changed in this run")
    if isinstance(step, st.IdentityObjects):
        notes.append("labkit makes these in one openstacksdk session; the guide's CLI lines:")
    return notes


@dataclass
class PlanView:
    """A layer's steps. Text in terminals and stored outputs; foldable steps in notebooks."""

    layer: str
    steps: Sequence[st.Step]

    def hosts(self) -> list[str]:
        return list(dict.fromkeys(s.host for s in self.steps))

    def headline(self) -> str:
        return (
            f"{self.layer}: {len(self.steps)} steps on {', '.join(self.hosts())} "
            "(secrets shown as the Install Guide's placeholders)"
        )

    def __str__(self) -> str:
        out = [self.headline()]
        for index, step in enumerate(self.steps, start=1):
            out.append(f"{index:>2}. {step.title}  [{step.host}]")
            if step.why:
                out.append(f"    why: {step.why}")
            out += [f"    ({note})" for note in _notes(step)]
            for line in shell_lines(step):
                out += [f"    {part}" for part in line.splitlines()]
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        items = []
        for index, step in enumerate(self.steps, start=1):
            why = f" &mdash; <i>{html.escape(step.why)}</i>" if step.why else ""
            notes = "".join(f"<div><small>{html.escape(n)}</small></div>" for n in _notes(step))
            commands = html.escape("\n".join(shell_lines(step)), quote=False)
            items.append(
                f"<details><summary><b>{index}. {html.escape(step.title)}</b> "
                f"<code>{html.escape(step.host)}</code>{why}</summary>{notes}"
                f"<pre style='margin-left:1.5em'>{commands}</pre></details>"
            )
        return (
            f"<div><b>{html.escape(self.headline())}</b> "
            "<small>(click a step for its commands)</small></div>" + "".join(items)
        )
