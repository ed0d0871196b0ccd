"""The commands of the guest's shell, one small function each.

Every command is ``handler(session, args, stdin) -> Result``: it reads and changes the
guest's state through the session (:class:`Session`: the user, the working directory, the
guest's :class:`GuestContext`) and returns what the terminal shows and the exit status.
:func:`command` registers a handler under its names; :mod:`.shell` parses a command line
and calls them, :mod:`.netcmds` adds the ones that send packets (``ip``, ``curl``,
``ping``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from labkit.sim.core.hypervisor import GuestNic
from labkit.sim.core.wire import Verdict, WireResponse
from labkit.sim.guests.system import AccessDenied, GuestSystem, human_size


class Network(Protocol):
    """How the guest's packets leave it: through the wire, from one of its NICs."""

    def http(self, method: str, host: str, port: int, path: str) -> WireResponse:
        """Raises :class:`~labkit.sim.core.wire.WireError` when no connection is made."""
        ...

    def ping(self, destination: str) -> Verdict:
        """One ICMP echo to ``destination`` (on-link, or through the gateway)."""
        ...


@dataclass
class GuestContext:
    """What the shell sees of the guest it runs in."""

    system: GuestSystem
    nics: tuple[GuestNic, ...]
    net: Network
    now: Callable[[], datetime]
    booted_at: datetime
    sessions: Callable[[], int] = lambda: 1
    sleep: Callable[[float], None] = lambda seconds: None


@dataclass
class Result:
    code: int = 0
    out: str = ""
    err: str = ""
    exit: bool = False  # the shell ends (exit, logout)


class Session(Protocol):
    """What a command sees of the shell running it."""

    ctx: GuestContext
    user: str
    cwd: str
    status: int
    script: str

    def path(self, path: str) -> str:
        """``path`` made absolute (``~`` and the working directory resolved)."""
        ...

    def who(self, lineno: int) -> str:
        """The prefix of the shell's own error messages (``-bash: ``)."""
        ...

    def var(self, name: str) -> str: ...

    def home(self, user: str) -> str: ...

    def run(self, line: str, lineno: int = 0) -> Result: ...

    def command(self, argv: list[str], stdin: str | None, lineno: int) -> Result: ...

    def sub(self, user: str) -> Session:
        """A shell for ``user`` in the same place (``sudo``, ``sh -c``)."""
        ...


def errno_text(exc: Exception) -> str:
    if isinstance(exc, AccessDenied):
        return "Permission denied"
    if isinstance(exc, IsADirectoryError):
        return "Is a directory"
    return "No such file or directory"


Handler = Callable[[Session, list[str], "str | None"], Result]
COMMANDS: dict[str, Handler] = {}


def command(*names: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            COMMANDS[name] = handler
        return handler

    return register


def known_commands() -> list[str]:
    return sorted(COMMANDS)


@command("hostname")
def _hostname(sh: Session, args: list[str], stdin: str | None) -> Result:
    system = sh.ctx.system
    if "-f" in args or "--fqdn" in args:
        return Result(out=f"{system.fqdn or system.hostname}\n")
    if "-I" in args or "--all-ip-addresses" in args:
        return Result(out=" ".join(n.address for n in sh.ctx.nics) + " \n")
    if args and not args[0].startswith("-"):
        if sh.user != "root":
            return Result(1, "", "hostname: you must be root to change the host name\n")
        system.hostname = args[0]
        return Result()
    return Result(out=f"{system.hostname}\n")


@command("whoami")
def _whoami(sh: Session, args: list[str], stdin: str | None) -> Result:
    return Result(out=f"{sh.user}\n")


@command("id")
def _id(sh: Session, args: list[str], stdin: str | None) -> Result:
    system = sh.ctx.system
    name = next((a for a in args if not a.startswith("-")), sh.user)
    user = system.users.get(name)
    if user is None:
        return Result(1, "", f"id: '{name}': no such user\n")
    if "-u" in args:
        return Result(out=f"{user.uid}\n")
    if "-n" in args and "-u" in args:
        return Result(out=f"{user.name}\n")
    groups = [f"{user.gid}({user.name})"] + [
        f"{system.group_id(g)}({g})" for g in sorted(user.groups, key=system.group_id)
    ]
    return Result(
        out=f"uid={user.uid}({user.name}) gid={user.gid}({user.name}) groups={','.join(groups)}\n"
    )


@command("uname")
def _uname(sh: Session, args: list[str], stdin: str | None) -> Result:
    profile, system = sh.ctx.system.profile, sh.ctx.system
    fields = {
        "-s": "Linux",
        "-n": system.hostname,
        "-r": profile.kernel,
        "-v": profile.kernel_build,
        "-m": "x86_64",
        "-o": "GNU/Linux",
    }
    if "-a" in args or "--all" in args:
        return Result(
            out=f"Linux {system.hostname} {profile.kernel} {profile.kernel_build} x86_64 "
            "x86_64 x86_64 GNU/Linux\n"
        )
    picked = [fields[a] for a in args if a in fields] or ["Linux"]
    return Result(out=" ".join(picked) + "\n")


@command("uptime")
def _uptime(sh: Session, args: list[str], stdin: str | None) -> Result:
    now = sh.ctx.now()
    seconds = max(0, int((now - sh.ctx.booted_at).total_seconds()))
    if "-p" in args:
        return Result(out=f"up {max(1, seconds // 60)} minutes\n")
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    up = f"{hours}:{minutes:02d}" if hours else f"{minutes} min"
    if days:
        up = f"{days} day{'s' if days > 1 else ''}, {up}"
    users = sh.ctx.sessions()
    return Result(
        out=f" {now.strftime('%H:%M:%S')} up {up},  {users} user{'s' if users != 1 else ''},  "
        "load average: 0.00, 0.01, 0.05\n"
    )


@command("nproc")
def _nproc(sh: Session, args: list[str], stdin: str | None) -> Result:
    return Result(out=f"{sh.ctx.system.vcpus}\n")


@command("free")
def _free(sh: Session, args: list[str], stdin: str | None) -> Result:
    total, used, free, shared, cache, available = sh.ctx.system.memory()
    if "-h" in args:
        cells = [_mi(v) for v in (total, used, free, shared, cache, available)]
        swap = ["0B", "0B", "0B"]
    else:
        div = 1024 if "-g" in args else 1
        mul = 1024 if not ({"-m", "-g"} & set(args)) else 1
        cells = [str(v * mul // div) for v in (total, used, free, shared, cache, available)]
        swap = ["0", "0", "0"]
    head = "               total        used        free      shared  buff/cache   available\n"
    mem = "Mem:    " + "".join(f"{c:>12}" for c in cells) + "\n"
    return Result(out=head + mem + "Swap:   " + "".join(f"{c:>12}" for c in swap) + "\n")


def _mi(mib: int) -> str:
    return f"{mib / 1024:.1f}Gi" if mib >= 1024 else f"{mib}Mi"


@command("df")
def _df(sh: Session, args: list[str], stdin: str | None) -> Result:
    system = sh.ctx.system
    size, used = system.root_disk()
    ram_gib = system.memory()[0] / 1024
    rows = [
        ("udev", ram_gib / 2, 0.0, "/dev"),
        ("tmpfs", ram_gib / 10, 0.0006, "/run"),
        ("/dev/vda1", size, used, "/"),
        ("tmpfs", ram_gib / 2, 0.0, "/dev/shm"),
    ]
    paths = [a for a in args if not a.startswith("-")]
    if paths:  # each path's file system: the longest mount point that contains it
        picked = []
        for path in paths:
            absolute = sh.path(path)
            mounts = [
                r for r in rows if absolute == r[3] or absolute.startswith(r[3].rstrip("/") + "/")
            ]
            picked.append(max(mounts, key=lambda r: len(r[3])))
        rows = list(dict.fromkeys(picked))
    if "-h" in args:
        lines = ["Filesystem      Size  Used Avail Use% Mounted on"]
        for name, total, taken, mount in rows:
            pct = f"{-(-100 * taken // total):.0f}%" if total else "-"
            lines.append(
                f"{name:<15}{human_size(total):>5} {human_size(taken) if taken else '0':>5} "
                f"{human_size(total - taken):>5} {pct:>4} {mount}"
            )
        return Result(out="\n".join(lines) + "\n")
    lines = ["Filesystem     1K-blocks    Used Available Use% Mounted on"]
    for name, total, taken, mount in rows:
        kb, used_kb = int(total * 1024 * 1024), int(taken * 1024 * 1024)
        pct = f"{-(-100 * used_kb // kb)}%" if kb else "-"
        lines.append(f"{name:<14}{kb:>10} {used_kb:>7} {kb - used_kb:>9} {pct:>4} {mount}")
    return Result(out="\n".join(lines) + "\n")


@command("cat")
def _cat(sh: Session, args: list[str], stdin: str | None) -> Result:
    files = [a for a in args if not a.startswith("-") or a == "-"]
    if not files:
        return Result(out=stdin or "")
    out, err, code = "", "", 0
    for name in files:
        if name == "-":
            out += stdin or ""
            continue
        try:
            out += sh.ctx.system.read_as(sh.user, sh.path(name))
        except (AccessDenied, FileNotFoundError, IsADirectoryError) as exc:
            err += f"cat: {name}: {errno_text(exc)}\n"
            code = 1
    return Result(code, out, err)


@command("ls")
def _ls(sh: Session, args: list[str], stdin: str | None) -> Result:
    system = sh.ctx.system
    paths = [a for a in args if not a.startswith("-")] or ["."]
    show_all = any(a.startswith("-") and "a" in a for a in args)
    long = any(a.startswith("-") and "l" in a for a in args)
    out, err, code = [], "", 0
    for name in paths:
        path = sh.path(name)
        if path in system.files:
            out.append(_ls_entry(sh, path, name, long))
        elif path in system.dirs:
            entries = system.listing(path)
            if not show_all:
                entries = [e for e in entries if not e.startswith(".")]
            if len(paths) > 1:
                out.append(f"{name}:")
            out += [_ls_entry(sh, posixpath.join(path, e), e, long) for e in entries]
        else:
            err += f"ls: cannot access '{name}': No such file or directory\n"
            code = 2
    return Result(code, "".join(f"{line}\n" for line in out), err)


def _ls_entry(sh: Session, path: str, shown: str, long: bool) -> str:
    if not long:
        return shown
    system = sh.ctx.system
    found = system.files.get(path)
    if found is None:
        return f"drwxr-xr-x 2 root root 4096 Jan  1 00:00 {shown}"
    bits = "".join(ch if found.mode >> (8 - i) & 1 else "-" for i, ch in enumerate("rwxrwxrwx"))
    size = len(found.content.encode())
    return f"-{bits} 1 {found.owner} {found.group} {size:>5} Jan  1 00:00 {shown}"


@command("pwd")
def _pwd(sh: Session, args: list[str], stdin: str | None) -> Result:
    return Result(out=f"{sh.cwd}\n")


@command("cd")
def _cd(sh: Session, args: list[str], stdin: str | None) -> Result:
    target = sh.path(args[0]) if args else sh.home(sh.user)
    if target not in sh.ctx.system.dirs:
        reason = "Not a directory" if target in sh.ctx.system.files else "No such file or directory"
        return Result(1, "", f"{sh.who(0)}cd: {args[0]}: {reason}\n")
    sh.cwd = target
    return Result()


@command("echo")
def _echo(sh: Session, args: list[str], stdin: str | None) -> Result:
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    elif args and args[0] == "-e":
        args = [a.encode().decode("unicode_escape") for a in args[1:]]
    return Result(out=" ".join(args) + ("\n" if newline else ""))


@command("touch")
def _touch(sh: Session, args: list[str], stdin: str | None) -> Result:
    for name in args:
        path = sh.path(name)
        if path in sh.ctx.system.files or path in sh.ctx.system.dirs:
            continue
        try:
            sh.ctx.system.write_as(sh.user, path, "")
        except (AccessDenied, FileNotFoundError, IsADirectoryError) as exc:
            return Result(1, "", f"touch: cannot touch '{name}': {errno_text(exc)}\n")
    return Result()


@command("mkdir")
def _mkdir(sh: Session, args: list[str], stdin: str | None) -> Result:
    system = sh.ctx.system
    parents = "-p" in args
    for name in (a for a in args if not a.startswith("-")):
        path = sh.path(name)
        parent = posixpath.dirname(path)
        if path in system.dirs:
            if parents:
                continue
            return Result(1, "", f"mkdir: cannot create directory '{name}': File exists\n")
        if parent not in system.dirs and not parents:
            return Result(
                1, "", f"mkdir: cannot create directory '{name}': No such file or directory\n"
            )
        if not system.may_write_in(sh.user, parent if parent in system.dirs else path):
            return Result(1, "", f"mkdir: cannot create directory '{name}': Permission denied\n")
        while path not in system.dirs:
            system.dirs.add(path)
            path = posixpath.dirname(path)
    return Result()


@command("rm")
def _rm(sh: Session, args: list[str], stdin: str | None) -> Result:
    system = sh.ctx.system
    force = any(a.startswith("-") and "f" in a for a in args)
    for name in (a for a in args if not a.startswith("-")):
        path = sh.path(name)
        if path not in system.files:
            if force:
                continue
            reason = "Is a directory" if path in system.dirs else "No such file or directory"
            return Result(1, "", f"rm: cannot remove '{name}': {reason}\n")
        if not system.may_write_in(sh.user, posixpath.dirname(path)):
            return Result(1, "", f"rm: cannot remove '{name}': Permission denied\n")
        del system.files[path]
    return Result()


@command("sleep")
def _sleep(sh: Session, args: list[str], stdin: str | None) -> Result:
    try:
        seconds = float(args[0]) if args else -1
    except ValueError:
        seconds = -1
    if seconds < 0:
        return Result(
            1,
            "",
            "sleep: missing operand\n"
            if not args
            else f"sleep: invalid time interval '{args[0]}'\n",
        )
    sh.ctx.sleep(min(seconds, 1.0))  # a sim: the learner never waits long
    return Result()


@command("true", ":")
def _true(sh: Session, args: list[str], stdin: str | None) -> Result:
    return Result()


@command("false")
def _false(sh: Session, args: list[str], stdin: str | None) -> Result:
    return Result(1)


@command("date")
def _date(sh: Session, args: list[str], stdin: str | None) -> Result:
    return Result(out=sh.ctx.now().strftime("%a %b %d %H:%M:%S UTC %Y") + "\n")


@command("exit", "logout")
def _exit(sh: Session, args: list[str], stdin: str | None) -> Result:
    try:
        code = int(args[0]) if args else sh.status
    except ValueError:
        code = 2
    return Result(code & 0xFF, "", "", exit=True)


@command("clear")
def _clear(sh: Session, args: list[str], stdin: str | None) -> Result:
    return Result(out="\x1b[H\x1b[2J")


@command("env", "printenv")
def _env(sh: Session, args: list[str], stdin: str | None) -> Result:
    names = ("USER", "HOME", "LOGNAME", "SHELL", "PWD", "PATH", "HOSTNAME")
    if args:
        return Result(out="".join(f"{sh.var(a)}\n" for a in args))
    return Result(out="".join(f"{n}={sh.var(n)}\n" for n in names))


@command("which")
def _which(sh: Session, args: list[str], stdin: str | None) -> Result:
    found = [f"/usr/bin/{a}" for a in args if a in COMMANDS]
    return Result(0 if len(found) == len(args) else 1, "".join(f"{f}\n" for f in found))


@command("sudo")
def _sudo(sh: Session, args: list[str], stdin: str | None) -> Result:
    system = sh.ctx.system
    user = system.users.get(sh.user)
    if sh.user != "root" and (user is None or not user.sudo):
        return Result(
            1, "", f"{sh.user} is not in the sudoers file.  This incident will be reported.\n"
        )
    if not args or args[0] in ("-i", "-s") or args[:1] == ["su"]:
        sh.user, sh.cwd = "root", "/root"
        return Result()
    return sh.sub("root").command(args, stdin, 0)


@command("sh", "bash", "dash")
def _sh(sh: Session, args: list[str], stdin: str | None) -> Result:
    if len(args) >= 2 and args[0] == "-c":
        result = sh.sub(sh.user).run(args[1])
        return Result(result.code, result.out, result.err)
    return Result(2, "", f"{sh.who(0)}sh: interactive shells are not emulated here\n")


@command("grep")
def _grep(sh: Session, args: list[str], stdin: str | None) -> Result:
    flags = {a for a in args if a.startswith("-")}
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return Result(2, "", "Usage: grep [OPTION]... PATTERNS [FILE]...\n")
    pattern, files = words[0], words[1:]
    text = stdin or ""
    if files:
        read = _cat(sh, files, None)
        if read.code:
            return Result(2, "", read.err.replace("cat:", "grep:"))
        text = read.out
    try:
        regex = re.compile(pattern, re.IGNORECASE if "-i" in flags else 0)
    except re.error:
        regex = re.compile(re.escape(pattern))
    hits = [line for line in text.splitlines() if bool(regex.search(line)) != ("-v" in flags)]
    if "-c" in flags:
        return Result(0 if hits else 1, f"{len(hits)}\n")
    return Result(0 if hits else 1, "".join(f"{line}\n" for line in hits))


def _count(args: list[str], default: int) -> int:
    for n, arg in enumerate(args):
        if arg == "-n" and n + 1 < len(args) and args[n + 1].lstrip("-").isdigit():
            return abs(int(args[n + 1]))
        if arg.startswith("-") and arg[1:].isdigit():
            return int(arg[1:])
    return default


def _input(sh: Session, args: list[str], stdin: str | None) -> Result:
    files = [
        a for n, a in enumerate(args) if not a.startswith("-") and (n == 0 or args[n - 1] != "-n")
    ]
    return _cat(sh, files, stdin) if files else Result(out=stdin or "")


@command("head")
def _head(sh: Session, args: list[str], stdin: str | None) -> Result:
    text = _input(sh, args, stdin)
    lines = text.out.splitlines(keepends=True)[: _count(args, 10)]
    return Result(text.code, "".join(lines), text.err)


@command("tail")
def _tail(sh: Session, args: list[str], stdin: str | None) -> Result:
    text = _input(sh, args, stdin)
    count = _count(args, 10)
    lines = text.out.splitlines(keepends=True)[-count:] if count else []
    return Result(text.code, "".join(lines), text.err)


@command("wc")
def _wc(sh: Session, args: list[str], stdin: str | None) -> Result:
    text = _input(sh, args, stdin)
    lines, words, chars = text.out.count("\n"), len(text.out.split()), len(text.out.encode())
    picked = [n for flag, n in (("-l", lines), ("-w", words), ("-c", chars)) if flag in args]
    if len(picked) == 1:
        return Result(out=f"{picked[0]}\n")
    return Result(out=f"{lines:>7} {words:>7} {chars:>7}\n")


@command("sort")
def _sort(sh: Session, args: list[str], stdin: str | None) -> Result:
    text = _input(sh, args, stdin)
    return Result(text.code, "".join(f"{line}\n" for line in sorted(text.out.splitlines())))


@command("dpkg")
def _dpkg(sh: Session, args: list[str], stdin: str | None) -> Result:
    installed = sh.ctx.system.packages
    if not args or args[0] not in ("-l", "--list", "-s", "--status"):
        return Result(2, "", "dpkg: need an action option\n")
    wanted = args[1:] or installed
    missing = [p for p in wanted if p not in installed]
    if args[0] in ("-s", "--status"):
        if missing:
            return Result(
                1,
                "",
                f"dpkg-query: package '{missing[0]}' is not installed and no "
                "information is available\n",
            )
        return Result(
            out="".join(f"Package: {p}\nStatus: install ok installed\n\n" for p in wanted)
        )
    if missing:
        return Result(1, "", f"dpkg-query: no packages found matching {missing[0]}\n")
    head = (
        "Desired=Unknown/Install/Remove/Purge/Hold\n"
        "| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend\n"
        "||/ Name           Version      Architecture Description\n"
        "+++-==============-============-============-=================================\n"
    )
    return Result(
        out=head + "".join(f"ii  {p:<14} {'1.0':<12} {'amd64':<12} {p}\n" for p in wanted)
    )


@command("apt")
def _apt(sh: Session, args: list[str], stdin: str | None) -> Result:
    if args[:1] == ["list"] and "--installed" in args:
        return Result(
            out="Listing... Done\n"
            + "".join(f"{p}/trusty,now 1.0 amd64 [installed]\n" for p in sh.ctx.system.packages)
        )
    return Result(
        100,
        "",
        "E: the sim's guests install packages only through cloud-init's "
        "'packages' (there is no mirror to fetch from)\n",
    )


@command("cloud-init")
def _cloud_init(sh: Session, args: list[str], stdin: str | None) -> Result:
    if args[:1] == ["status"]:
        return Result(out="status: done\n")
    return Result(2, "", "usage: cloud-init [-h] [--version] {status} ...\n")
