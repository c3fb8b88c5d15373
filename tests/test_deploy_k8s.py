"""The rendered Kubernetes overlays keep their promises.

Failure domains, PodDisruptionBudgets, backups, Sentinel wiring, the shared
platform's per-tenant isolation and budget, and every PEAK_* variable being
one the code reads: checked on `kubectl kustomize` output, offline.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from deploy_env import entrypoint_required, known_variables

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = ["dedicated", "local", "shared"]
ODOO_COMPONENTS = ["web", "websocket", "queue", "cron"]


def render(path: str) -> list[dict]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def overlays():
    return {name: render(f"k8s/overlays/{name}") for name in OVERLAYS}


def of_kind(docs, kind, namespace=None):
    return [
        d
        for d in docs
        if d["kind"] == kind
        and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]


def named(docs, kind, name, namespace=None):
    matches = [
        d for d in of_kind(docs, kind, namespace) if d["metadata"]["name"] == name
    ]
    assert len(matches) == 1, f"{kind} {name} in {namespace}: {len(matches)} found"
    return matches[0]


def namespaces(docs):
    return sorted(
        {d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")}
    )


def workloads(docs):
    return of_kind(docs, "Deployment") + of_kind(docs, "StatefulSet")


def config_data(docs, namespace):
    maps = [
        d
        for d in of_kind(docs, "ConfigMap", namespace)
        if d["metadata"]["name"].startswith("odoo-peak-config")
    ]
    assert len(maps) == 1
    return maps[0]["data"]


def quantity(value) -> float:
    """CPU in cores or memory in bytes, from a Kubernetes quantity."""
    value = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_set_is_read_by_some_code(overlays, overlay):
    known = known_variables()
    docs = overlays[overlay]
    for ns in namespaces(docs):
        for var in config_data(docs, ns):
            assert (
                var in known
            ), f"{overlay}/{ns}: ConfigMap sets {var}, which no code reads"
    for workload in workloads(docs):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            env_names = [e["name"] for e in container.get("env", [])]
            where = f"{overlay}: {workload['metadata']['name']}/{container['name']}"
            assert len(env_names) == len(
                set(env_names)
            ), f"{where}: duplicate env {env_names}"
            for var in env_names:
                if var.startswith("PEAK_") or var.startswith("AWS_"):
                    assert var in known, f"{where}: sets {var}, which no code reads"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_odoo_pods_have_what_the_entrypoint_and_addons_need(overlays, overlay):
    docs = overlays[overlay]
    for ns in namespaces(docs):
        config = config_data(docs, ns)
        for component in ODOO_COMPONENTS:
            deploy = named(docs, "Deployment", f"odoo-{component}", ns)
            pod = deploy["spec"]["template"]["spec"]
            container = pod["containers"][0]
            env = {e["name"]: e for e in container["env"]}
            available = set(env) | set(config)
            missing = entrypoint_required() - available
            assert not missing, f"{ns}/odoo-{component}: {missing}"
            assert env["PEAK_ODOO_ROLE"]["value"] == component
            # Multiprocess metrics: a writable, pod-private directory.
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volume = mounts[env["PROMETHEUS_MULTIPROC_DIR"]["value"]]
            assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == volume)
            # S3 credentials only through boto3's chain, optional (IRSA).
            for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                assert env[key]["valueFrom"]["secretKeyRef"]["optional"] is True
            assert "PEAK_S3_ACCESS_KEY" not in env
        monitor = named(docs, "ServiceMonitor", "odoo-web", ns)
        auth = monitor["spec"]["endpoints"][0]["authorization"]
        token = named(docs, "Deployment", "odoo-web", ns)["spec"]["template"]["spec"]
        token_ref = next(
            e
            for e in token["containers"][0]["env"]
            if e["name"] == "PEAK_METRICS_TOKEN"
        )
        assert auth["type"] == "Bearer"
        assert auth["credentials"] == {
            "name": token_ref["valueFrom"]["secretKeyRef"]["name"],
            "key": token_ref["valueFrom"]["secretKeyRef"]["key"],
        }
        # The queue pod runs the jobs: its request metrics are scraped too.
        queue_monitor = named(docs, "PodMonitor", "odoo-queue", ns)
        endpoint = queue_monitor["spec"]["podMetricsEndpoints"][0]
        assert endpoint["authorization"] == auth


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_failure_domains_and_disruption_budgets(overlays, overlay):
    docs = overlays[overlay]
    for ns in namespaces(docs):
        for name in ("odoo-web", "odoo-websocket", "odoo-queue", "peak-governor"):
            spread = named(docs, "Deployment", name, ns)["spec"]["template"]["spec"][
                "topologySpreadConstraints"
            ]
            keys = [c["topologyKey"] for c in spread]
            assert "topology.kubernetes.io/zone" in keys, f"{ns}/{name}"
            if overlay == "dedicated" and name in ("odoo-web", "odoo-websocket"):
                zone = next(
                    c
                    for c in spread
                    if c["topologyKey"] == "topology.kubernetes.io/zone"
                )
                assert zone["whenUnsatisfiable"] == "DoNotSchedule"
        pdbs = {
            p["metadata"]["name"]: p for p in of_kind(docs, "PodDisruptionBudget", ns)
        }
        assert {"odoo-web", "odoo-websocket", "peak-governor"} <= set(pdbs)
        cluster = named(docs, "Cluster", "odoo-peak-db", ns)
        assert cluster["spec"]["affinity"]["enablePodAntiAffinity"] is True
        if overlay == "dedicated":
            assert cluster["spec"]["affinity"]["podAntiAffinityType"] == "required"
            assert cluster["spec"]["instances"] >= 3


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_database_backups_and_schedule(overlays, overlay):
    docs = overlays[overlay]
    paths = set()
    for ns in namespaces(docs):
        cluster = named(docs, "Cluster", "odoo-peak-db", ns)
        backup = cluster["spec"]["backup"]
        store = backup["barmanObjectStore"]
        assert re.fullmatch(
            r"s3://[a-z0-9.-]+/([a-z0-9-]+/)?", store["destinationPath"]
        )
        assert store["wal"]["compression"] and store["data"]["compression"]
        assert re.fullmatch(r"[1-9][0-9]*[dwm]", backup["retentionPolicy"])
        paths.add(store["destinationPath"])
        scheduled = named(docs, "ScheduledBackup", "odoo-peak-db-nightly", ns)
        assert scheduled["spec"]["cluster"]["name"] == "odoo-peak-db"
        assert scheduled["spec"]["method"] == "barmanObjectStore"
        assert len(scheduled["spec"]["schedule"].split()) == 6
    # Tenants never share a backup path (barman's server name is the same).
    assert len(paths) == len(namespaces(docs))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_bucket_lifecycle_rule_matches_the_quarantine(overlays, overlay):
    """The rule an operator applies to the attachment bucket expires what the
    GC quarantined, after the days the GC itself waits."""
    docs = overlays[overlay]
    for ns in namespaces(docs):
        config = config_data(docs, ns)
        maps = [
            d
            for d in of_kind(docs, "ConfigMap", ns)
            if d["metadata"]["name"].startswith("odoo-peak-s3-lifecycle")
        ]
        assert len(maps) == 1, f"{overlay}/{ns}: no lifecycle rule"
        (rule,) = json.loads(maps[0]["data"]["s3-lifecycle.json"])["Rules"]
        assert rule["Status"] == "Enabled"
        assert rule["Filter"]["Prefix"] == config["PEAK_S3_QUARANTINE_PREFIX"]
        assert rule["Expiration"]["Days"] == int(config["PEAK_S3_QUARANTINE_DAYS"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_read_cache_fits_the_data_volume(overlays, overlay):
    """The S3 read cache lives in Odoo's data_dir, an emptyDir with a size
    limit: a cache as large as the volume would get the pod evicted."""
    docs, checked = overlays[overlay], 0
    for ns in namespaces(docs):
        cache = int(config_data(docs, ns)["PEAK_S3_CACHE_MAX_BYTES"])
        for workload in of_kind(docs, "Deployment", ns):
            pod = workload["spec"]["template"]["spec"]
            mounts = {
                m["name"]: m["mountPath"]
                for c in pod["containers"]
                for m in c.get("volumeMounts", [])
            }
            for volume in pod.get("volumes", []):
                if mounts.get(volume["name"]) == "/var/lib/odoo":
                    limit = quantity(volume["emptyDir"]["sizeLimit"])
                    assert 0 < cache <= limit / 2, workload["metadata"]["name"]
                    checked += 1
    assert checked, f"{overlay}: no Odoo pod with a data volume"


def test_recovery_manifest_reads_the_dedicated_backups(overlays):
    recovery = render("k8s/recovery")
    cluster = named(recovery, "Cluster", "odoo-peak-db-pitr")
    source = cluster["spec"]["bootstrap"]["recovery"]["source"]
    external = next(
        e for e in cluster["spec"]["externalClusters"] if e["name"] == source
    )
    original = named(overlays["dedicated"], "Cluster", "odoo-peak-db", "odoo-peak")
    store = original["spec"]["backup"]["barmanObjectStore"]
    assert external["barmanObjectStore"]["destinationPath"] == store["destinationPath"]
    assert external["barmanObjectStore"]["serverName"] == original["metadata"]["name"]
    assert cluster["spec"]["imageName"] == original["spec"]["imageName"]
    assert "targetTime" in cluster["spec"]["bootstrap"]["recovery"]["recoveryTarget"]
    # Never writes into the archive it restores from.
    assert "backup" not in cluster["spec"]


def test_dedicated_sessions_go_through_sentinel(overlays):
    docs = overlays["dedicated"]
    config = config_data(docs, "odoo-peak")
    sentinels = config["PEAK_REDIS_SENTINELS"].split(",")
    redis = named(docs, "StatefulSet", "redis", "odoo-peak")
    replicas = redis["spec"]["replicas"]
    service = redis["spec"]["serviceName"]
    assert sentinels == [f"redis-{i}.{service}:26379" for i in range(replicas)]
    assert config["PEAK_REDIS_SENTINEL_MASTER"]
    # The addon refuses PEAK_REDIS_URL together with Sentinels.
    assert "PEAK_REDIS_URL" not in config
    headless = named(docs, "Service", service, "odoo-peak")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    pdb = named(docs, "PodDisruptionBudget", "redis", "odoo-peak")
    assert pdb["spec"]["minAvailable"] == replicas // 2 + 1
    scripts = named(docs, "ConfigMap", "redis-sentinel-scripts", "odoo-peak")["data"]
    for i in range(replicas):
        assert f"redis-{i}" in scripts["find-master.sh"]


def test_shared_tenants_are_isolated_and_within_budget(overlays):
    docs = overlays["shared"]
    tenants = namespaces(docs)
    assert len(tenants) >= 2
    prefixes, buckets, capacities = set(), set(), set()
    for ns in tenants:
        namespace = named(docs, "Namespace", ns)
        assert (
            namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
            == "restricted"
        )
        config = config_data(docs, ns)
        prefixes.add(config["PEAK_REDIS_PREFIX"])
        buckets.add(config["PEAK_S3_BUCKET"])
        capacities.add(int(config["PEAK_QUEUE_JOB_MAX_CAPACITY"]))
        # KEDA reaches this tenant's database, not another's.
        scaled = named(docs, "ScaledObject", "odoo-queue", ns)
        assert (
            scaled["spec"]["triggers"][0]["metadata"]["host"]
            == f"odoo-peak-db-r.{ns}.svc"
        )
        # A governor for this tenant's database only.
        governor_dsn = config["PEAK_GOVERNOR_DSN"]
        assert "host=odoo-peak-db-rw " in governor_dsn
        named(docs, "Deployment", "peak-governor", ns)
        # The quota admits the whole tenant at its largest: HPA maximum,
        # one extra pod per rolling update, every PostgreSQL instance.
        quota = named(docs, "ResourceQuota", "tenant-quota", ns)["spec"]["hard"]
        limits = named(docs, "LimitRange", "tenant-limits", ns)["spec"]["limits"]
        default = next(item for item in limits if item["type"] == "Container")
        hpa = named(docs, "HorizontalPodAutoscaler", "odoo-web", ns)["spec"]
        total = {
            "requests.cpu": 0.0,
            "requests.memory": 0.0,
            "limits.cpu": 0.0,
            "limits.memory": 0.0,
        }
        for deploy in of_kind(docs, "Deployment", ns):
            count = (
                hpa["maxReplicas"]
                if deploy["metadata"]["name"] == "odoo-web"
                else deploy["spec"]["replicas"]
            )
            if (
                deploy["spec"].get("strategy", {}).get("type", "RollingUpdate")
                == "RollingUpdate"
            ):
                count += 1  # surge during a rolling update
            for container in deploy["spec"]["template"]["spec"]["containers"]:
                res = container.get("resources", {})
                for kind in ("requests", "limits"):
                    for resource in ("cpu", "memory"):
                        fallback = default[
                            "defaultRequest" if kind == "requests" else "default"
                        ][resource]
                        value = res.get(kind, {}).get(resource, fallback)
                        total[f"{kind}.{resource}"] += count * quantity(value)
        cluster = named(docs, "Cluster", "odoo-peak-db", ns)["spec"]
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                fallback = default[
                    "defaultRequest" if kind == "requests" else "default"
                ][resource]
                value = cluster["resources"].get(kind, {}).get(resource, fallback)
                total[f"{kind}.{resource}"] += cluster["instances"] * quantity(value)
        for key, used in total.items():
            assert used <= quantity(
                quota[key]
            ), f"{ns}: {key} {used} > quota {quota[key]}"
        assert int(quota["pods"]) >= hpa["maxReplicas"] + 8
    assert len(prefixes) == len(buckets) == len(tenants)
    assert (
        len(capacities) > 1
    ), "the example tenants should show different queue capacities"


def test_overlays_never_hold_secrets(overlays):
    for overlay, docs in overlays.items():
        assert not of_kind(docs, "Secret"), f"{overlay} renders a Secret"
        for ns in namespaces(docs):
            for var, value in config_data(docs, ns).items():
                assert not re.search(
                    r"PASSWORD|SECRET|TOKEN", var
                ), f"{overlay}: {var} in a ConfigMap"
                assert not re.search(
                    r"://[^/@\s]*:[^/@\s]*@", value
                ), f"{overlay}: credentials in {var}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_upgrade_job_is_on_demand_with_the_deployed_image(overlays, overlay):
    docs = overlays[overlay]
    for ns in namespaces(docs):
        cronjob = named(docs, "CronJob", "odoo-upgrade", ns)
        assert cronjob["spec"]["suspend"] is True
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
        pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["args"] == ["upgrade"]
        web = named(docs, "Deployment", "odoo-web", ns)["spec"]["template"]["spec"]
        assert container["image"] == web["containers"][0]["image"]
        config = config_data(docs, ns)
        assert config["PEAK_ODOO_UPGRADE_MODULES"]
        configmap = container["envFrom"][0]["configMapRef"]["name"]
        assert configmap == web["containers"][0]["envFrom"][0]["configMapRef"]["name"]
        env = {e["name"] for e in container["env"]}
        assert not entrypoint_required() - env - set(config)
        assert pod["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_upgrade_runbook_selector_applies_config_and_job_only(overlays, overlay):
    """Step 4 of the rolling upgrade applies only what the Job needs."""
    docs = overlays[overlay]
    selected = [
        d
        for d in docs
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        in ("config", "upgrade")
    ]
    for ns in namespaces(docs):
        mine = [d for d in selected if d["metadata"].get("namespace") == ns]
        assert sorted(d["kind"] for d in mine) == ["ConfigMap", "CronJob"]
        configmap = next(d for d in mine if d["kind"] == "ConfigMap")
        cronjob = next(d for d in mine if d["kind"] == "CronJob")
        pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        ref = pod["containers"][0]["envFrom"][0]["configMapRef"]["name"]
        assert ref == configmap["metadata"]["name"]


@pytest.mark.parametrize(
    "tenant",
    sorted(p.name for p in (ROOT / "k8s/overlays/shared/tenants").iterdir()),
)
def test_each_tenant_renders_alone_into_its_namespace(overlays, tenant):
    """`kubectl apply -k k8s/overlays/shared/tenants/<name>` (runbook)."""
    docs = render(f"k8s/overlays/shared/tenants/{tenant}")
    assert namespaces(docs) == [f"peak-{tenant}"]
    named(docs, "Namespace", f"peak-{tenant}")
    shared = [
        d
        for d in overlays["shared"]
        if d["metadata"].get("namespace") == f"peak-{tenant}"
    ]
    assert len(shared) == len(docs) - 1  # the same resources, plus the Namespace


# What the deployment keeps in its Secrets (never rendered), per overlay: the
# shared platform's Redis URL and the tenant user's password; the dedicated
# Redis' and Sentinels' passwords.
KEY_SECRET = {"PEAK_REDIS_KEY_SECRET": "k" * 64}
SECRETS = {
    "dedicated": {
        "PEAK_REDIS_PASSWORD": "x" * 24,
        "PEAK_REDIS_SENTINEL_PASSWORD": "y" * 24,
        **KEY_SECRET,
    },
    "shared": {
        "PEAK_REDIS_URL": "rediss://redis.platform:6380/0",
        "PEAK_REDIS_PASSWORD": "z" * 24,
        **KEY_SECRET,
    },
}


@pytest.mark.parametrize("overlay", sorted(SECRETS))
def test_odoo_environment_passes_the_doctor_settings_checks(
    overlays, overlay, monkeypatch, tmp_path
):
    """The doctor (and Settings > Readiness) read S3 and Redis with the
    addons' own loaders: what the overlay gives Odoo passes (probes stubbed)."""
    from peak_governor import companions, doctor

    seen = {}

    class Bucket:
        def head_bucket(self, Bucket):
            seen["bucket"] = Bucket

    monkeypatch.setattr(companions, "s3_client", lambda cfg, *a, **k: Bucket())
    monkeypatch.setattr(companions, "redis_ping", lambda cfg, t: seen.update(r=cfg))
    docs = overlays[overlay]
    for ns in namespaces(docs):
        pod = named(docs, "Deployment", "odoo-web", ns)["spec"]["template"]["spec"]
        env = dict(config_data(docs, ns))
        env.update(
            {e["name"]: e["value"] for e in pod["containers"][0]["env"] if "value" in e}
        )
        env.update(SECRETS[overlay], PEAK_METRICS_TOKEN="t" * 32)
        if "PEAK_REDIS_TLS_CA_FILE" in env:  # mounted in the pod (checked by
            ca = tmp_path / "ca.crt"  # test_deploy_k8s_security)
            ca.write_text("CA")
            env["PEAK_REDIS_TLS_CA_FILE"] = str(ca)
        cfg = doctor.DoctorConfig(environ=env)
        for finding in doctor.check_s3(cfg) + doctor.check_redis(cfg):
            assert finding.status == doctor.PASS, f"{overlay}/{ns}: {finding}"
        assert seen["bucket"] == env["PEAK_S3_BUCKET"]
        if overlay == "dedicated":
            assert seen["r"].sentinels and not seen["r"].url
