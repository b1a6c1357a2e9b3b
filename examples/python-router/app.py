"""A Bindery router written in Python: each tenant's requests go to its own
upstreams.

The same rules and config as the Rust router in ../custom-router. Every
catalog entry of a pooled URL carries a label (`tenant: acme`); a request
names its tenant by a header (`x-tenant: acme`), else by a path prefix
(`/acme/...`), else it belongs to the default tenant. It goes to the
upstreams whose label matches, healthy ones first in turn, and to no one
else: a tenant without upstreams is rejected. TCP connections have no
request head and go to the default tenant, or to every upstream in turn when
there is no default.

componentize-py builds this module into a component of the `router` world
of Bindery's WIT package (bindery:plugin@0.3.0): the `WitWorld` class below
implements the world's exports, `wit_world.imports` holds its imports.
"""
import itertools
import json
from dataclasses import dataclass, field

import wit_world
from componentize_py_types import Err
from wit_world.imports import routing
from wit_world.imports.log import Level, log


@dataclass
class Config:
    label: str = "tenant"
    header: str | None = "x-tenant"
    paths: dict[str, str] = field(default_factory=dict)
    default: str | None = None


def parse(text: str) -> Config:
    """The router's config from its JSON text; `Err` says what is wrong."""
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise Err(f"python-router config is not JSON: {e}")
    if not isinstance(raw, dict):
        raise Err("python-router config is an object: "
                  '{"label", "header", "paths": {prefix: tenant}, "default"}, all optional')
    unknown = sorted(set(raw) - {"label", "header", "paths", "default"})
    if unknown:
        raise Err(f"python-router: unknown config key(s) {unknown}")
    config = Config(**raw)
    if not isinstance(config.label, str) or not config.label:
        raise Err("python-router: label must be a non-empty string")
    for key in ("header", "default"):
        if not isinstance(getattr(config, key), (str, type(None))):
            raise Err(f"python-router: {key} must be a string or null")
    if not isinstance(config.paths, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in config.paths.items()):
        raise Err("python-router: paths maps path prefixes to tenants, both strings")
    for prefix in config.paths:
        if not prefix.startswith("/"):
            raise Err(f"python-router: path prefix {json.dumps(prefix)} must start with '/'")
    return config


# Set by `configure`, once per instance before any `route` call.
CONFIG = Config()


def tenant_of() -> str | None:
    """The tenant the request being routed names (header, then path prefix),
    else the default."""
    if CONFIG.header is not None:
        value = routing.header(CONFIG.header)
        if value is not None:
            return value.strip()
    path = routing.path()
    if path is not None:
        matches = [prefix for prefix in CONFIG.paths if path.startswith(prefix)]
        if matches:
            return CONFIG.paths[max(matches, key=len)]
    return CONFIG.default


def in_turn(candidates: list[routing.Candidate], turn: int, wanted) -> list[int]:
    """Indices `wanted` keeps: healthy ones first from this call's turn (the
    endpoint's, counted by the host across every forwarder thread), then the
    unhealthy ones as a last resort."""
    kept = [i for i in range(len(candidates)) if wanted(i)]
    healthy = [i for i in kept if candidates[i].healthy]
    sick = [i for i in kept if not candidates[i].healthy]
    if healthy:
        start = turn % len(healthy)
        healthy = healthy[start:] + healthy[:start]
    return healthy + sick


class WitWorld(wit_world.WitWorld):
    def configure(self, config: str) -> None:
        global CONFIG
        CONFIG = parse(config)

    def route(self, connection: routing.Connection,
              candidates: list[routing.Candidate]) -> routing.Decision:
        tenant = tenant_of()
        if tenant is None:
            # Nobody named a tenant and there is no default: any upstream.
            return routing.Decision_Try(
                in_turn(candidates, connection.turn, lambda i: True))
        mine = (CONFIG.label, tenant)
        order = in_turn(candidates, connection.turn,
                        lambda i: mine in (routing.labels(i) or []))
        if not order:
            reason = f"no upstream for {CONFIG.label} {json.dumps(tenant)}"
            log(Level.DEBUG, reason)
            return routing.Decision_Reject(reason)
        return routing.Decision_Try(order)
