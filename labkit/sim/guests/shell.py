"""The guest's shell: the few commands a learner types after ``ssh ubuntu@ADDRESS``.

A command line is parsed the way a POSIX shell does, in small: words with quotes
(``shlex``), ``$VAR`` expansion, ``;`` ``&&`` ``||`` between commands, ``|`` pipes into the
filters (``grep``, ``head``, ``tail``, ``wc``, ``sort``), and ``>`` / ``>>`` into files.
Each command (:mod:`.commands`, :mod:`.netcmds`) is a pure function of the guest's state
(:class:`~.commands.GuestContext`): its files and users (:mod:`.system`), its NICs, and a
:class:`~.commands.Network` that sends packets through the wire -- so ``curl
http://169.254.169.254/...`` and ``ping`` obey the port's security-group rules exactly as
the guest's own traffic does.

The figures are the flavor's: ``nproc`` is its vCPUs, ``free -m`` its RAM less the
kernel's share, ``df -h`` its disk. A command the shell does not know answers as bash does
(``-bash: foo: command not found``, exit status 127).

Nothing here does I/O of its own; the SSH server (:mod:`.sshd`) and cloud-init's
``runcmd`` (:mod:`.cloudinit`) call :meth:`Shell.run`, and tests call it directly.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

from labkit.sim.guests import netcmds
from labkit.sim.guests.commands import COMMANDS, GuestContext, Network, Result, errno_text
from labkit.sim.guests.system import AccessDenied

_VAR = re.compile(r"\$(?:\{(\w+|\?)\}|(\w+|\?))")
__all__ = ["GuestContext", "Network", "Result", "Shell", "netcmds"]


@dataclass
class Shell:
    """One login shell: a user, a working directory, the last exit status."""

    ctx: GuestContext
    user: str
    cwd: str = ""
    status: int = 0
    script: str = ""  # set when running a script: errors name it and the line, as dash does
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        home = self.home(self.user)
        self.cwd = self.cwd or home

    # ---- the prompt and the welcome ------------------------------------------------------
    def prompt(self) -> str:
        system = self.ctx.system
        here = (
            self.cwd.replace(self.home(self.user), "~", 1)
            if self.cwd.startswith(self.home(self.user))
            else self.cwd
        )
        if system.profile.distro == "cirros":
            return "# " if self.user == "root" else "$ "
        sign = "#" if self.user == "root" else "$"
        return f"{self.user}@{system.hostname}:{here}{sign} "

    def motd(self) -> str:
        profile = self.ctx.system.profile
        if profile.distro == "cirros":
            return ""
        return (
            f"Welcome to {profile.pretty_name.split(' (')[0]} (GNU/Linux {profile.kernel} "
            "x86_64)\n\n * Documentation:  https://help.ubuntu.com/\n\n"
        )

    # ---- running a line --------------------------------------------------------------------
    def run(self, line: str, lineno: int = 0) -> Result:
        """Run one command line; the result's output is what the terminal shows."""
        try:
            tokens = self._tokens(line)
        except ValueError:
            return self._fail(2, f"{self.who(lineno)}Syntax error: Unterminated quoted string\n")
        out, err = "", ""
        result = Result()
        pending_op = ";"
        for chain in _split(tokens, ("&&", "||", ";", "&")):
            words, op = chain
            skip = (pending_op == "&&" and self.status != 0) or (
                pending_op == "||" and self.status == 0
            )
            pending_op = op or ";"
            if skip or not words:
                continue
            result = self._pipeline(words, lineno)
            out += result.out
            err += result.err
            self.status = result.code
            if result.exit:
                break
        return Result(self.status, out, err, result.exit)

    def _tokens(self, line: str) -> list[str]:
        lexer = shlex.shlex(self._expand(line), posix=True, punctuation_chars=";&|>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)

    def _expand(self, line: str) -> str:
        """``$VAR`` and ``${VAR}`` outside single quotes."""
        out = []
        for part in re.split(r"('[^']*')", line):
            if part.startswith("'") and part.endswith("'") and len(part) > 1:
                out.append(part)
            else:
                out.append(_VAR.sub(lambda m: self.var(m[1] or m[2]), part))
        return "".join(out)

    def var(self, name: str) -> str:
        system = self.ctx.system
        values = {
            "USER": self.user,
            "LOGNAME": self.user,
            "HOME": self.home(self.user),
            "HOSTNAME": system.hostname,
            "PWD": self.cwd,
            "SHELL": system.users[self.user].shell if self.user in system.users else "/bin/sh",
            "?": str(self.status),
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            **self.env,
        }
        return values.get(name, "")

    def _pipeline(self, words: list[str], lineno: int) -> Result:
        stdin: str | None = None
        result = Result()
        stages = [w for w, _ in _split(words, ("|",))]
        for n, stage in enumerate(stages):
            argv, target, append = _redirection(stage)
            if target == "":
                return self._fail(2, f"{self.who(lineno)}Syntax error: newline unexpected\n")
            result = self.command(argv, stdin, lineno) if argv else Result()
            if target is not None:
                try:
                    self.ctx.system.write_as(self.user, self.path(target), result.out, append)
                except (AccessDenied, FileNotFoundError, IsADirectoryError) as exc:
                    reason = errno_text(exc)
                    if self.script:  # dash
                        reason = (
                            "Directory nonexistent" if reason.startswith("No such") else (reason)
                        )
                        message = f"cannot create {target}: {reason}"
                    else:
                        message = f"{target}: {reason}"
                    return Result(2 if self.script else 1, "", f"{self.who(lineno)}{message}\n")
                result = Result(result.code, "", result.err, result.exit)
            if n < len(stages) - 1:
                stdin = result.out
                result = Result(result.code, "", result.err, result.exit)
        return result

    def command(self, argv: list[str], stdin: str | None, lineno: int) -> Result:
        name, args = argv[0], argv[1:]
        handler = COMMANDS.get(name)
        if handler is None:
            return self._fail(127, f"{self.who(lineno)}{name}: {self._not_found()}\n")
        return handler(self, args, stdin)

    def _not_found(self) -> str:
        return "not found" if self.script else self.ctx.system.profile.not_found

    def who(self, lineno: int) -> str:
        """bash: ``-bash: ``; a /bin/sh script: ``/path/to/script: 3: ``."""
        if self.script:
            return f"{self.script}: {lineno}: "
        return f"{self.ctx.system.profile.shell}: "

    def _fail(self, code: int, err: str) -> Result:
        return Result(code, "", err)

    def home(self, user: str) -> str:
        found = self.ctx.system.users.get(user)
        return found.home if found is not None else "/"

    def path(self, path: str) -> str:
        if path == "~" or path.startswith("~/"):
            path = self.home(self.user) + path[1:]
        return posixpath.normpath(posixpath.join(self.cwd, path))

    def sub(self, user: str) -> Shell:
        return Shell(self.ctx, user, self.cwd, self.status, self.script, dict(self.env))


# ---- parsing helpers ---------------------------------------------------------------------------


def _split(tokens: list[str], separators: tuple[str, ...]) -> list[tuple[list[str], str]]:
    """Words between separators, each with the separator that ended it."""
    out: list[tuple[list[str], str]] = []
    words: list[str] = []
    for token in tokens:
        if token in separators:
            out.append((words, token))
            words = []
        else:
            words.append(token)
    out.append((words, ""))
    return out


def _redirection(words: list[str]) -> tuple[list[str], str | None, bool]:
    """(argv, target file or None, append?); "" as target: a ``>`` with no file."""
    for op in (">>", ">"):
        if op in words:
            at = words.index(op)
            target = words[at + 1] if at + 1 < len(words) else ""
            return words[:at] + words[at + 2 :], target, op == ">>"
    return words, None, False
