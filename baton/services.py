"""The one registry of Baton's services: what the application starts, migrates and documents.

`shared/` is the runtime every service imports and knows none of them; everything that walks
the list of services (the launcher, `baton migrate`, `baton serve`, the generated documents,
the demo, the tests' schema set-up) reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import migrations


@dataclass(frozen=True)
class Service:
    name: str
    default_port: int
    # Processes the service can also run as (`baton serve <name> --role <role>`), each with its
    # default port: a part of the service's work split off to a process of its own.
    roles: tuple[tuple[str, int], ...] = ()

    @property
    def package(self) -> str:
        return f"services.{self.name}"

    @property
    def app_factory(self) -> str:
        """The `module:callable` uvicorn imports (with `factory=True`)."""
        return f"{self.package}.main:create_app"

    def role_port(self, role: str) -> int:
        ports = dict(self.roles)
        if role not in ports:
            known = ", ".join(ports) or "none"
            raise ValueError(f"{self.name} has no role {role!r}; its roles: {known}")
        return ports[role]

    def role_app_factory(self, role: str) -> str:
        """The app factory of one of `roles` (`create_<role>_app` beside `create_app`)."""
        self.role_port(role)
        return f"{self.package}.main:create_{role}_app"


REGISTRY: tuple[Service, ...] = (
    Service("ingest", 8001),
    Service("scoring", 8002),
    # The senders (notifications, outbound webhooks, CRM sync) off the assignment path's core.
    Service("routing", 8003, roles=(("senders", 8013),)),
    Service("feedback", 8004),
)
SERVICES: tuple[str, ...] = tuple(service.name for service in REGISTRY)
DEFAULT_PORTS: dict[str, int] = {service.name: service.default_port for service in REGISTRY}
_BY_NAME = {service.name: service for service in REGISTRY}


def service(name: str) -> Service:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown service {name!r}; expected one of {', '.join(SERVICES)}") from None


def upgrade(name: str, database_url: str, revision: str = "head") -> None:
    """Bring one service's schema to `revision`. Blocking: run it in a thread from async code."""
    migrations.upgrade(service(name).package, database_url, revision)


def upgrade_all(database_url: str) -> None:
    migrations.upgrade_all([s.package for s in REGISTRY], database_url)
