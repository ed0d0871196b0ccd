"""The files labkit writes into a local lab host's root (pure renderers).

Each returns the file's text; :mod:`labkit.hosts.rootfs` writes them. Kept apart so tests can
read exactly what a host gets.
"""

from __future__ import annotations

from labkit.envs import SshEnv
from labkit.hosts.aptsources import AptSource

HEADER = (
    "# Written by labkit (local lab host {host} of env {env}); `labkit hosts up` rewrites it.\n"
)


def etc_hosts(env: SshEnv, host: str) -> str:
    """All the env's hosts by name: RabbitMQ's node name needs the short hostname to
    resolve, and every service finds the controller as ``controller``."""
    lines = [
        HEADER.format(host=host, env=env.name).rstrip("\n"),
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
        "",
    ]
    for h in env.hosts:
        names = [h.name]
        if "controller" in h.roles and h.name != "controller":
            names.append("controller")
        lines.append(f"{h.address}\t{' '.join(names)}")
    return "\n".join(lines) + "\n"


def hostname(host: str) -> str:
    return f"{host}\n"


def resolv_conf(env: SshEnv, host: str) -> str:
    # No DNS server on the lab network: lookups of names not in /etc/hosts fail at once
    # (nothing answers on 127.0.0.1:53) instead of hanging for timeouts.
    return HEADER.format(host=host, env=env.name) + (
        "# No name server: lab names are in /etc/hosts; apt reaches mirrors through the\n"
        "# apt proxy on the gateway, which resolves them.\n"
    )


def apt_proxy(proxy_url: str) -> str:
    return (
        "// Written by labkit: apt reaches the machine's mirrors through labkit's caching\n"
        "// proxy on the lab gateway (no NAT: this host has no other way out).\n"
        f'Acquire::http::Proxy "{proxy_url}";\n'
    )


def dpkg_unsafe_io() -> str:
    """dpkg without an fsync per unpacked file. A lab host's root is thrown away by
    ``hosts down`` and made again from the cached tarball, so a crash mid-install loses
    nothing worth the wait, while the fsyncs make dpkg wait on the disk for each of the
    tens of thousands of files the OpenStack packages unpack."""
    return (
        "# Written by labkit: lab host roots are disposable; skip dpkg's per-file fsync.\n"
        "force-unsafe-io\n"
    )


def dpkg_no_docs() -> str:
    """dpkg leaves out documentation, manual pages and message translations, as minimal
    container images do (Debian's and Ubuntu's docker images ship the same excludes).

    A lab host is a place to run OpenStack, not a docs machine: the learner reads the
    guide and ``--help`` on this machine, and every service answers in English anyway
    (oslo.i18n falls back to the original message when no catalog is found). The OpenStack
    packages bring ~8,500 such files (~180 MB) that dpkg would unpack one by one. Copyright
    files stay (each package's licence), and so does ``locale.alias``, which the C library
    reads (the ``locales`` package links it there when a learner installs it). Nothing a
    service runs or reads lives under these paths."""
    return (
        "# Written by labkit: a lab host, not a docs machine -- no docs, manual pages or\n"
        "# translations (as in minimal container images); licences stay.\n"
        "path-exclude=/usr/share/doc/*\n"
        "path-include=/usr/share/doc/*/copyright\n"
        "path-exclude=/usr/share/man/*\n"
        "path-exclude=/usr/share/info/*\n"
        "path-exclude=/usr/share/groff/*\n"
        "path-exclude=/usr/share/lintian/*\n"
        "path-exclude=/usr/share/locale/*\n"
        "path-include=/usr/share/locale/locale.alias\n"
    )


# Where the deferred byte-compilation keeps its queue and its two programs (host paths).
PY3COMPILE_QUEUE = "/var/lib/labkit/py3compile.queue"
PY3COMPILE_SHIM = "usr/lib/labkit/dpkg-path/py3compile"
PY3COMPILE_RUN = "usr/local/sbin/labkit-py3compile-queued"
PY3COMPILE_HOOK = "etc/apt/apt.conf.d/90labkit-py3compile"


def py3compile_shim() -> str:
    """A ``py3compile`` that, called from a package's maintainer script, queues the call
    instead of compiling -- see :func:`py3compile_queued`. Only maintainer scripts run by
    apt find it: its folder leads apt's ``DPkg::Path`` (:func:`apt_py3compile_hook`).

    Each python3-* package's postinst byte-compiles its own modules (``py3compile -p
    PACKAGE``): one Python start for py3compile and one for its compiler per package. A
    controller installs ~270 of them in one apt run; measured on a lab controller, the
    per-package calls cost 99 s CPU and one call over the same files 42 s, the same .pyc
    files. Called any other way, it is Debian's py3compile."""
    return (
        "#!/bin/sh\n"
        "# Written by labkit. Called from a package's maintainer script (dpkg sets\n"
        "# DPKG_MAINTSCRIPT_PACKAGE), queue the byte-compilation: apt runs\n"
        f"# /{PY3COMPILE_RUN} after dpkg and compiles every queued package at once.\n"
        "[ -x /usr/bin/py3compile ] || exit 0  # as the postinst's `command -v` would\n"
        'if [ -n "$DPKG_MAINTSCRIPT_PACKAGE" ]; then\n'
        f"    mkdir -p {PY3COMPILE_QUEUE.rpartition('/')[0]}\n"
        f"    printf '%s\\n' \"$*\" >> {PY3COMPILE_QUEUE}\n"
        "    exit 0\n"
        "fi\n"
        'exec /usr/bin/py3compile "$@"\n'
    )


def py3compile_queued() -> str:
    """Compile what the maintainer scripts queued, run by apt after each dpkg run.

    ``py3compile -p PACKAGE`` compiles the package's public modules, i.e. its files under
    /usr/lib/python3/dist-packages: one ``py3compile`` over that folder compiles the same
    files for all queued packages at once (modules compiled already are skipped by their
    timestamps; Debian's exclude lists apply the same way). A call with more arguments (a
    package's private folder, e.g. python3's own /usr/share/python3) runs as it was asked.
    When compiling fails, the queue stays for the next run and apt reports the error, as it
    would report the failed postinst."""
    return (
        "#!/bin/sh\n"
        "# Written by labkit: byte-compile the Python modules the packages of this apt\n"
        f"# run queued (/{PY3COMPILE_SHIM}), all public modules in one py3compile.\n"
        f"queue={PY3COMPILE_QUEUE}\n"
        '[ -s "$queue" ] || exit 0\n'
        'work="$queue.$$"\n'
        'mv "$queue" "$work"\n'
        "rc=0\n"
        'if grep -qE "^-p [^ ]+ *$" "$work"; then\n'
        "    /usr/bin/py3compile -q /usr/lib/python3/dist-packages || rc=$?\n"
        "fi\n"
        "while read -r args; do\n"
        '    case "$args" in\n'
        '        "-p "*" "*) /usr/bin/py3compile $args || rc=$? ;;  # more than a package\n'
        '        "-p "*) ;;  # compiled above\n'
        "        *) /usr/bin/py3compile $args || rc=$? ;;\n"
        "    esac\n"
        'done < "$work"\n'
        'if [ "$rc" -ne 0 ]; then\n'
        '    cat "$work" >> "$queue"\n'
        "fi\n"
        'rm -f "$work"\n'
        "exit $rc\n"
    )


def apt_py3compile_hook() -> str:
    """apt's PATH for dpkg's maintainer scripts (``DPkg::Path``, Debian's default
    /usr/sbin:/usr/bin:/sbin:/bin) with the queueing py3compile's folder -- which holds
    nothing else -- first, and the queue compiled after each dpkg run."""
    folder = "/" + PY3COMPILE_SHIM.rpartition("/")[0]
    return (
        "// Written by labkit: maintainer scripts queue their py3compile calls\n"
        f"// ({folder}/py3compile), compiled once after dpkg.\n"
        f'DPkg::Path "{folder}:/usr/sbin:/usr/bin:/sbin:/bin";\n'
        f'DPkg::Post-Invoke {{ "/{PY3COMPILE_RUN}"; }};\n'
    )


def apt_sources(sources: list[AptSource]) -> str:
    """deb822 sources with http URIs (the proxy upgrades to https where the machine does)."""
    stanzas = []
    for src in sources:
        lines = [
            "Types: deb",
            f"URIs: {src.http_uri}",
            f"Suites: {' '.join(src.suites)}",
            f"Components: {' '.join(src.components)}",
        ]
        if src.signed_by and "\n" not in src.signed_by:
            lines.append(f"Signed-By: {src.signed_by}")
        stanzas.append("\n".join(lines))
    return "# Written by labkit: the machine's mirrors, reached through the apt proxy.\n" + (
        "\n\n".join(stanzas) + "\n"
    )


def sshd_config(address: str, port: int) -> str:
    """sshd drop-in: the lab's key only, on the host's management address only."""
    return (
        "# Written by labkit: only the lab's key logs in, on the management address.\n"
        f"ListenAddress {address}:{port}\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UseDNS no\n"
        "PidFile /run/sshd.pid\n"
    )


def authorized_keys(public_line: str) -> str:
    return f"{public_line.strip()}\n"
