"""Lab hosts: strict SSH to real hosts, and local lab hosts made on this machine.

* :mod:`labkit.hosts.ssh` -- :class:`~labkit.hosts.ssh.HostConnection` (paramiko, strict host
  keys, optional jump host, sudo) and :func:`~labkit.hosts.ssh.trust`;
* :mod:`labkit.hosts.local` -- ``up``/``down``/``status`` of local lab hosts: a Debian 12 root
  per host in its own namespaces, on a bridge carrying the management network;
* :mod:`labkit.hosts.preflight` -- the rows of ``labkit check ENV`` for ssh envs;
* :mod:`labkit.hosts.cli` -- the ``labkit hosts ...`` sub-commands.

Nothing is imported here so that ``import labkit.hosts`` stays cheap and side-effect free.
"""
