"""The simulated hosts answer "does RabbitMQ take this password?", "is MariaDB reachable?",
"is memcached up?" from memory (every request and every RPC message asks). What the learner
changes must still count at once: each test changes one thing and asks again straight away,
with no wait and no restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from labkit.sim.core.config import SimConfig, SimHost
from labkit.sim.core.runtime import Runtime
from labkit.sim.core.store import Database
from labkit.sim.machines import models as mm
from labkit.sim.machines.machines import AMQP_REFUSED, Machines

URL = "rabbit://openstack:RABBIT_PASS@controller:5672/"
DB_URL = "mysql+pymysql://nova:NOVA_DBPASS@controller/nova_api"
REFUSED = "[Errno 111] ECONNREFUSED"
CNF = "/etc/mysql/mariadb.conf.d/99-openstack.cnf"


@pytest.fixture()
def machines(tmp_path: Path) -> Iterator[Machines]:
    hosts = (
        SimHost("controller", "10.64.0.11", ("controller",), 2, 8.0, 50.0),
        SimHost("worker1", "10.64.0.12", ("worker",), 2, 8.0, 50.0),
    )
    runtime = Runtime(SimConfig(state_dir=tmp_path, port=1, hosts=hosts))
    found = Machines(runtime)
    found.install("controller", ("rabbitmq-server", "mariadb-server", "memcached"))
    yield found
    found.db.dispose()
    runtime.close()


def test_rabbitmq_login_follows_the_broker_and_its_accounts(machines: Machines) -> None:
    assert machines.amqp_error(URL) == REFUSED  # installed, not started
    machines.start("controller", "rabbitmq-server")
    assert machines.amqp_error(URL) == AMQP_REFUSED  # no such user yet
    machines.add_rabbit_user("controller", "openstack", "RABBIT_PASS")
    assert machines.amqp_error(URL) is None
    assert machines.amqp_error(URL) is None  # asked again: the kept answer
    machines.add_rabbit_user("controller", "openstack", "CHANGED")  # rabbitmqctl change_password
    assert machines.amqp_error(URL) == AMQP_REFUSED
    assert machines.amqp_error(URL.replace("RABBIT_PASS", "CHANGED")) is None
    machines.stop("controller", "rabbitmq-server")
    assert machines.amqp_error(URL.replace("RABBIT_PASS", "CHANGED")) == REFUSED


def test_a_change_committed_elsewhere_is_seen(machines: Machines, tmp_path: Path) -> None:
    """A commit through another ``Database`` on machines.db (``keystone-manage`` opening
    the file, a test) moves the file's commit counter: the kept answers are invalidated by
    it at once, not only by this object's own writes."""
    machines.start("controller", "rabbitmq-server")
    machines.add_rabbit_user("controller", "openstack", "RABBIT_PASS")
    assert machines.amqp_error(URL) is None
    assert machines.is_running("rabbitmq-server", "controller")
    other = Database(tmp_path / "machines.db", mm.Base.metadata)
    try:
        with other.write() as s:
            s.execute(
                update(mm.ServiceState)
                .where(mm.ServiceState.name == "rabbitmq-server")
                .values(state="stopped")
            )
    finally:
        other.dispose()
    assert not machines.is_running("rabbitmq-server", "controller")
    assert not machines.is_running("rabbitmq-server")
    assert machines.amqp_error(URL) == REFUSED


def test_is_running_per_host_and_anywhere(machines: Machines) -> None:
    assert not machines.is_running("memcached")
    machines.start("controller", "memcached")
    assert machines.is_running("memcached")
    assert machines.is_running("memcached", "controller")
    assert not machines.is_running("memcached", "worker1")
    machines.stop("controller", "memcached")
    assert not machines.is_running("memcached")


def test_memcached_is_reached_only_while_it_runs(machines: Machines) -> None:
    assert machines.memcached("controller:11211") is None
    machines.start("controller", "memcached")
    cache = machines.memcached("controller:11211")
    assert cache is not None
    assert machines.memcached("10.64.0.11:11211") is cache  # by address as well
    machines.stop("controller", "memcached")
    assert machines.memcached("controller:11211") is None


def test_database_reachability_follows_services_grants_and_the_config_file(
    machines: Machines,
) -> None:
    assert machines.database_error("controller", DB_URL) is not None  # MariaDB stopped
    machines.start("controller", "mariadb")
    machines.create_database("controller", "nova_api", "nova", "NOVA_DBPASS")
    # Debian's MariaDB listens on 127.0.0.1: 'controller' is refused, localhost is not ...
    assert "Connection refused" in str(machines.database_error("controller", DB_URL))
    local = DB_URL.replace("@controller", "@localhost")
    assert machines.database_error("controller", local) is None
    assert "Connection refused" in str(machines.database_error("worker1", local))  # no MariaDB
    # ... until the Install Guide's file makes it listen on the management address.
    machines.write("controller", CNF, "[mysqld]\nbind-address = 10.64.0.11\n")
    assert machines.database_error("controller", DB_URL) is None
    assert machines.database_error("worker1", DB_URL) is None  # from another host too
    machines.write("controller", CNF, "[mysqld]\nbind-address = 127.0.0.1\n")
    assert "Connection refused" in str(machines.database_error("controller", DB_URL))
    machines.write("controller", CNF, "[mysqld]\nbind-address = 0.0.0.0\n")
    assert machines.database_error("controller", DB_URL) is None
    # a wrong password, a changed grant, MariaDB stopped: each counts at once
    wrong = DB_URL.replace("NOVA_DBPASS", "WRONG")
    assert "Access denied" in str(machines.database_error("controller", wrong))
    machines.create_database("controller", "nova_api", "nova", "WRONG")
    assert machines.database_error("controller", wrong) is None
    assert "Access denied" in str(machines.database_error("controller", DB_URL))
    machines.stop("controller", "mariadb")
    assert "Connection refused" in str(machines.database_error("controller", wrong))


def test_the_config_file_removed_counts_too(machines: Machines) -> None:
    machines.start("controller", "mariadb")
    machines.create_database("controller", "nova_api", "nova", "NOVA_DBPASS")
    machines.write("controller", CNF, "[mysqld]\nbind-address = 10.64.0.11\n")
    assert machines.database_error("controller", DB_URL) is None
    machines.path("controller", CNF).unlink()
    assert "Connection refused" in str(machines.database_error("controller", DB_URL))


def test_hosts_resolve_by_name_and_address(machines: Machines) -> None:
    assert machines.resolve_host("controller") == "controller"
    assert machines.resolve_host("10.64.0.12") == "worker1"
    assert machines.resolve_host("localhost") is None
    assert machines.resolve_host("nowhere") is None
