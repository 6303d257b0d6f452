#!/usr/bin/env python3
"""Writes the Kubernetes manifests under deploy/ from deploy/settings.toml.

    python3 deploy/generate.py          rewrite the manifests
    python3 deploy/generate.py --check  exit 1 if the committed manifests differ from what
                                        the settings produce (run by the tests)

`kubectl apply -k deploy/` then deploys everything: the service account and its Role (leases
only), the log volume, a PersistentVolume and claim per pair and server, two CronJobs per pair,
and the dashboard's Deployment, Service and Ingress. The database secret is never generated:
docs/operations.md says how to create it.
"""

import json
import os
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
APP = "ha-sync"


def emit(value, indent=0):
    """A small, deterministic YAML writer: mappings, sequences, and JSON-quoted scalars."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}\n"
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:\n{emit(item, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {scalar(item)}\n")
        return "".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict) and item:
                body = emit(item, indent + 1)
                first, _, rest = body.partition("\n")
                lines.append(f"{pad}- {first.strip()}\n{rest}")
            elif isinstance(item, list) and item:
                lines.append(f"{pad}-\n{emit(item, indent + 1)}")
            else:
                lines.append(f"{pad}- {scalar(item)}\n")
        return "".join(lines)
    return f"{pad}{scalar(value)}\n"


def scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(value)


def labels(component, pair=None):
    result = {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": component}
    if pair:
        result["ha-sync/pair"] = pair
    return result


def pod_security(job, fs_group=False):
    """Every pod runs as the configured non-root user under the runtime's seccomp profile;
    `fs_group` also gives mounted volumes that group (the jobs' NFS folders)."""
    security = {"runAsNonRoot": True, "runAsUser": job["run_as_user"], "runAsGroup": job["run_as_user"]}
    if fs_group:
        security["fsGroup"] = job["run_as_user"]
    security["seccompProfile"] = {"type": "RuntimeDefault"}
    return security


# Every container: no privilege escalation, a read-only root file system, no capabilities.
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def manifests(settings):
    ns = settings["namespace"]
    job = settings["job"]
    files = {}

    files["serviceaccount.yaml"] = {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": APP, "namespace": ns, "labels": labels("sync")},
    }
    files["rbac.yaml"] = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": APP, "namespace": ns, "labels": labels("sync")},
            "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "get", "update", "delete"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": APP, "namespace": ns, "labels": labels("sync")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": APP},
            "subjects": [{"kind": "ServiceAccount", "name": APP, "namespace": ns}],
        },
    ]

    def volume(name, server, path, size, component, pair=None):
        return [
            {
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": f"pv-{name}", "labels": labels(component, pair)},
                "spec": {
                    "capacity": {"storage": size}, "accessModes": ["ReadWriteMany"],
                    "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                    "nfs": {"server": server, "path": path},
                },
            },
            {
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": f"pvc-{name}", "namespace": ns, "labels": labels(component, pair)},
                "spec": {
                    "accessModes": ["ReadWriteMany"], "storageClassName": "", "volumeName": f"pv-{name}",
                    "resources": {"requests": {"storage": size}},
                },
            },
        ]

    logs = settings["logs"]
    files["volume-logs.yaml"] = volume("ha-sync-logs", logs["server"], logs["path"], logs["size"], "logs")

    servers = settings["servers"]
    # The first two servers are the HA pair; more may be named as fan-out destinations (caches).
    names = list(servers)[:2]
    if len(names) != 2:
        sys.exit("settings.toml must name at least two servers")
    remote_pairs = [pair for pair in settings["pairs"] if transport(pair) == "remote"]
    for pair in settings["pairs"]:
        if transport(pair) == "remote":
            continue  # reached through the servers' `ha-sync serve`, not NFS
        for server in fan_out_servers(pair, servers) or names:
            files[f"volume-{server}-{pair['name']}.yaml"] = volume(
                f"{server}-{pair['name']}", servers[server]["address"], pair["path"], pair["size"], "data", pair["name"])

    def cron_job(pair, job_name, file_name, schedule, args, mounts):
        """One CronJob of a pair; `mounts` are the server names whose folders it sees (none for a
        remote pair, which gets the peer token and CA instead)."""
        remote = transport(pair) == "remote"
        extra_mounts = [{"name": "peer-token", "mountPath": "/etc/ha-sync/token", "readOnly": True},
                        {"name": "peer-ca", "mountPath": "/etc/ha-sync/ca", "readOnly": True}] if remote else []
        extra_volumes = [{"name": "peer-token", "secret": {"secretName": "ha-sync-peer-token"}},
                         # Both servers' certificates come from one CA, which each TLS secret carries as ca.crt.
                        {"name": "peer-ca", "secret": {"secretName": f"ha-sync-serve-{names[0]}-tls",
                                                       "items": [{"key": "ca.crt", "path": "ca.crt"}]}}] if remote else []
        files[file_name] = {
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": job_name, "namespace": ns, "labels": labels("sync", pair["name"])},
            "spec": {
                "schedule": schedule,
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 300,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {
                    "backoffLimit": 0,
                    "template": {
                        "metadata": {"labels": labels("sync", pair["name"])},
                        "spec": {
                            "serviceAccountName": APP,
                            "restartPolicy": "Never",
                            "terminationGracePeriodSeconds": job["termination_grace_seconds"],
                            "securityContext": pod_security(job, fs_group=True),
                            "containers": [{
                                "name": "ha-sync",
                                "image": settings["image"],
                                "imagePullPolicy": "IfNotPresent",
                                "args": args,
                                "env": [
                                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                    # From the environment, not an argument: arguments show in process lists.
                                    {"name": "HA_SYNC_DB_DSN", "valueFrom": {"secretKeyRef": {"name": "ha-sync-db-secret", "key": "HA_SYNC_DB_DSN"}}},
                                ],
                                "securityContext": CONTAINER_SECURITY,
                                "resources": {
                                    "requests": {"cpu": job["cpu_request"], "memory": job["memory_request"]},
                                    "limits": {"cpu": job["cpu_limit"], "memory": job["memory_limit"]},
                                },
                                "volumeMounts": [{"name": server, "mountPath": f"/mnt/{server}"} for server in mounts]
                                + [{"name": "logs", "mountPath": "/var/log/ha-sync"}] + extra_mounts,
                            }],
                            "volumes": [
                                {"name": server, "persistentVolumeClaim": {"claimName": f"pvc-{server}-{pair['name']}"}} for server in mounts
                            ] + [{"name": "logs", "persistentVolumeClaim": {"claimName": "pvc-ha-sync-logs"}}] + extra_volumes,
                        },
                    },
                }},
            },
        }

    common = ["--log-dir=/var/log/ha-sync", "--log-format=json", f"--lock-ttl={job['lock_ttl_seconds']}", "--lock=kubernetes"]
    for pair in settings["pairs"]:
        # What a pair leaves out, in order (first match wins); see docs/cli.md#filters.
        filters = [f"--exclude={pattern}" for pattern in pair.get("excludes", [])]
        if "versions_max_size" in pair:
            # The version store's cap (see docs/cli.md#versions); the alert below watches it too.
            size_bytes(pair["versions_max_size"], pair["name"])
            filters.append(f"--versions-max-size={pair['versions_max_size']}")
        mode = pair.get("mode", "one-way")
        if mode not in ("one-way", "bidirectional", "fan-out"):
            sys.exit(f"pair {pair['name']}: mode must be \"one-way\", \"bidirectional\" or \"fan-out\", not {mode!r}")
        remote = transport(pair) == "remote"
        if mode == "fan-out":
            # One job: one walk of the source feeds every destination (docs/cli.md#fan-out).
            source, *destinations = fan_out_servers(pair, servers)
            args = [f"--src=/mnt/{source}"] + [f"--dest=/mnt/{d}" for d in destinations] + [
                f"--pair={pair['name']}", f"--direction=from-{source}"] + common + filters + fan_out_flags(pair)
            if settings.get("dry_run", True):
                args.append("--dry-run")
            cron_job(pair, f"ha-sync-{pair['name']}", f"cron-{pair['name']}.yaml", fan_out_schedule(pair, settings), args, [source] + destinations)
            continue

        def side(server):
            # A remote pair names each server's `ha-sync serve` (its Service in this namespace).
            return f"hasync://ha-sync-serve-{server}.{ns}.svc:{SERVE_PORT}/{pair['name']}" if remote else f"/mnt/{server}"

        peer = ["--peer-token-file=/etc/ha-sync/token/token", "--peer-ca=/etc/ha-sync/ca/ca.crt"] if remote else []
        if mode == "bidirectional":
            # One job syncs both ways against the pair's state archive on the logs volume.
            args = [
                f"--src={side(names[0])}", f"--dest={side(names[1])}", f"--pair={pair['name']}", "--bidirectional",
                f"--side-names={names[0]},{names[1]}",
            ] + common + peer + filters
            if settings.get("dry_run", True):
                args.append("--dry-run")
            cron_job(
                pair, f"ha-sync-{pair['name']}", f"cron-{pair['name']}.yaml", settings["schedules"]["bidirectional"], args,
                [] if remote else names)
            continue
        for source, destination in ((names[0], names[1]), (names[1], names[0])):
            direction = f"{source}-to-{destination}"
            args = [f"--src={side(source)}", f"--dest={side(destination)}", f"--pair={pair['name']}", f"--direction={direction}"] + common + peer + filters
            if settings.get("dry_run", True):
                args.append("--dry-run")
            cron_job(
                pair, f"ha-sync-{pair['name']}-{direction}", f"cron-{pair['name']}-{direction}.yaml", settings["schedules"][direction], args,
                [] if remote else [source, destination])

    if remote_pairs:
        serve(settings, files, remote_pairs)

    dashboard = settings["dashboard"]
    files["ui.yaml"] = [
        {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "ha-sync-ui", "namespace": ns, "labels": labels("dashboard")},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels("dashboard")},
                "template": {
                    "metadata": {"labels": labels("dashboard")},
                    "spec": {
                        "serviceAccountName": APP,
                        "securityContext": pod_security(job),
                        "containers": [{
                            "name": "ha-sync-ui",
                            "image": settings["image"],
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/usr/local/bin/ha-sync-ui"],
                            "args": ["--port=8080"],
                            "env": [{"name": "HA_SYNC_DB_DSN", "valueFrom": {"secretKeyRef": {"name": "ha-sync-db-secret", "key": "HA_SYNC_DB_DSN"}}}],
                            "ports": [{"name": "http", "containerPort": 8080}],
                            # Ready while the process runs: the page itself says when the database is away.
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 30},
                            "securityContext": CONTAINER_SECURITY,
                            "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
                        }],
                    },
                },
            },
        },
        {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "ha-sync-ui", "namespace": ns, "labels": labels("dashboard")},
            "spec": {"type": "ClusterIP", "selector": labels("dashboard"), "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]},
        },
        {
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {
                "name": "ha-sync-ui", "namespace": ns, "labels": labels("dashboard"),
                "annotations": {"cert-manager.io/cluster-issuer": dashboard["cluster_issuer"]},
            },
            "spec": {
                "tls": [{"hosts": [dashboard["host"]], "secretName": "ha-sync-ui-tls"}],
                "rules": [{
                    "host": dashboard["host"],
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "ha-sync-ui", "port": {"name": "http"}}}}]},
                }],
            },
        },
    ]

    monitoring(settings, files)

    files["kustomization.yaml"] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": sorted(name for name in files if name != "kustomization.yaml" and "/" not in name),
    }
    return files


SERVE_PORT = 7443


def fan_out_servers(pair, servers):
    """A fan-out pair's source and destinations (server names), checked; `None` for other pairs."""
    if pair.get("mode") != "fan-out":
        return None
    name = pair["name"]
    if transport(pair) != "nfs":
        sys.exit(f"pair {name}: a fan-out pair reaches its servers through NFS mounts; transport = \"remote\" is not supported for it")
    source = pair.get("source")
    destinations = pair.get("destinations", [])
    if source not in servers:
        sys.exit(f"pair {name}: source must name a server in [servers], got {source!r}")
    if not destinations or any(d not in servers or d == source for d in destinations) or len(set(destinations)) != len(destinations):
        sys.exit(f"pair {name}: destinations must list other servers of [servers], each once, got {destinations!r}")
    return [source] + destinations


def fan_out_flags(pair):
    """The ordered-publication options of a fan-out pair."""
    flags = [f"--publish-after={rule}" for rule in pair.get("publish_after", [])]
    flags += [f"--publish-last={rule}" for rule in pair.get("publish_last", [])]
    if pair.get("delay_updates", False):
        flags.append("--delay-updates")
    if "min_age" in pair:
        flags.append(f"--min-age={pair['min_age']}")
    return flags


def fan_out_schedule(pair, settings):
    schedule = pair.get("schedule", settings["schedules"].get("fan-out"))
    if schedule is None:
        sys.exit(f"pair {pair['name']}: a fan-out pair needs a schedule (schedule = \"...\" on the pair, or fan-out in [schedules])")
    return schedule


def transport(pair):
    value = pair.get("transport", "nfs")
    if value not in ("nfs", "remote"):
        sys.exit(f"pair {pair['name']}: transport must be \"nfs\" or \"remote\", not {value!r}")
    return value


def serve(settings, files, remote_pairs):
    """`ha-sync serve` on each server for the remote pairs: a Deployment pinned to the server's
    node with the pairs' folders as hostPath volumes, a Service, a ServiceAccount of its own;
    and, in deploy/remote/ (cert-manager's CRDs, applied on their own), the private CA and
    each server's certificate. The token Secret is created by hand (docs/operations.md)."""
    ns = settings["namespace"]
    job = settings["job"]
    files["serve-serviceaccount.yaml"] = {
        "apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
        "metadata": {"name": "ha-sync-serve", "namespace": ns, "labels": labels("serve")},
    }
    pki = [
        {"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
         "metadata": {"name": "ha-sync-selfsigned", "namespace": ns, "labels": labels("serve")}, "spec": {"selfSigned": {}}},
        {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
         "metadata": {"name": "ha-sync-peer-ca", "namespace": ns, "labels": labels("serve")},
         "spec": {"isCA": True, "commonName": "ha-sync private CA", "secretName": "ha-sync-peer-ca-key",
                  "privateKey": {"algorithm": "ECDSA", "size": 256}, "duration": "87600h",
                  "issuerRef": {"name": "ha-sync-selfsigned", "kind": "Issuer"}}},
        {"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
         "metadata": {"name": "ha-sync-peer-ca", "namespace": ns, "labels": labels("serve")},
         "spec": {"ca": {"secretName": "ha-sync-peer-ca-key"}}},
    ]
    for server, config in settings["servers"].items():
        name = f"ha-sync-serve-{server}"
        pki.append({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": name, "namespace": ns, "labels": labels("serve")},
            "spec": {"secretName": f"{name}-tls", "duration": "2160h", "renewBefore": "720h",
                     "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                     "dnsNames": [f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"], "ipAddresses": [config["address"]],
                     "usages": ["server auth", "digital signature"],
                     "issuerRef": {"name": "ha-sync-peer-ca", "kind": "Issuer"}},
        })
        roots = [f"--root={pair['name']}={pair['path']}" for pair in remote_pairs]
        files[f"serve-{server}.yaml"] = [
            {
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": ns, "labels": labels("serve")},
                "spec": {
                    "replicas": 1,
                    # One server process per node and its data: never two at once.
                    "strategy": {"type": "Recreate"},
                    "selector": {"matchLabels": {**labels("serve"), "ha-sync.io/server": server}},
                    "template": {
                        "metadata": {"labels": {**labels("serve"), "ha-sync.io/server": server}},
                        "spec": {
                            "serviceAccountName": "ha-sync-serve",
                            "automountServiceAccountToken": False,
                            "nodeSelector": {"kubernetes.io/hostname": config.get("node", server)},
                            "securityContext": pod_security(job),
                            "containers": [{
                                "name": "ha-sync-serve",
                                "image": settings["image"],
                                "imagePullPolicy": "IfNotPresent",
                                "args": ["serve", f"--listen=0.0.0.0:{SERVE_PORT}", "--tls-cert=/etc/ha-sync/tls/tls.crt",
                                         "--tls-key=/etc/ha-sync/tls/tls.key", "--token-file=/etc/ha-sync/token/token",
                                         "--log-format=json"] + roots,
                                "ports": [{"name": "peer", "containerPort": SERVE_PORT}],
                                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "peer", "scheme": "HTTPS"}, "periodSeconds": 10},
                                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "peer", "scheme": "HTTPS"}, "periodSeconds": 30},
                                "securityContext": CONTAINER_SECURITY,
                                "resources": {
                                    "requests": {"cpu": job["cpu_request"], "memory": job["memory_request"]},
                                    "limits": {"cpu": job["cpu_limit"], "memory": job["memory_limit"]},
                                },
                                "volumeMounts": [{"name": "tls", "mountPath": "/etc/ha-sync/tls", "readOnly": True},
                                                 {"name": "token", "mountPath": "/etc/ha-sync/token", "readOnly": True}]
                                + [{"name": f"data-{pair['name']}", "mountPath": pair["path"]} for pair in remote_pairs],
                            }],
                            "volumes": [{"name": "tls", "secret": {"secretName": f"{name}-tls"}},
                                        {"name": "token", "secret": {"secretName": "ha-sync-peer-token"}}]
                            + [{"name": f"data-{pair['name']}", "hostPath": {"path": pair["path"], "type": "Directory"}} for pair in remote_pairs],
                        },
                    },
                },
            },
            {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": ns, "labels": labels("serve")},
                "spec": {"type": "ClusterIP", "selector": {**labels("serve"), "ha-sync.io/server": server},
                         "ports": [{"name": "peer", "port": SERVE_PORT, "targetPort": "peer"}]},
            },
        ]
    files["remote/pki.yaml"] = pki
    files["remote/kustomization.yaml"] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["pki.yaml"],
    }


UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def size_bytes(text, pair):
    """Bytes of a size as ha-sync's --versions-max-size reads it (binary units: 500M, 50G, 2T)."""
    number, unit = text[:-1], text[-1:].upper()
    if unit not in UNITS or not number.isdigit():
        sys.exit(f"pair {pair}: versions_max_size must look like 500M, 50G or 2T, not {text!r}")
    return int(number) * UNITS[unit]


def schedule_period_seconds(schedule):
    """The longest gap between two runs of a cron schedule whose minute field is a step or a list
    and whose other fields are all `*` (the shapes settings.toml uses); one day otherwise."""
    minute, *rest = schedule.split()
    if any(field != "*" for field in rest):
        return 86_400
    if minute.startswith("*/") and minute[2:].isdigit():
        return int(minute[2:]) * 60
    minutes = sorted(int(value) for value in minute.split(",") if value.isdigit())
    if not minutes:
        return 3600
    gaps = [b - a for a, b in zip(minutes, minutes[1:])] + [60 - minutes[-1] + minutes[0]]
    return max(gaps) * 60


def monitoring(settings, files):
    """Alerts (a PrometheusRule), the dashboard's scrape (a ServiceMonitor) and a Grafana
    dashboard, under deploy/monitoring/: a separate kustomization, since they need the
    prometheus-operator's CRDs (`kubectl apply -k deploy/monitoring/`)."""
    ns = settings["namespace"]
    rules = [
        {
            "alert": "HaSyncRunFailed",
            "expr": 'ha_sync_last_run_status{job="ha-sync-ui"} == 2',
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "ha-sync {{ $labels.pair }} ({{ $labels.direction }}): the last run failed",
                "description": "The last real run of the pair failed; the dashboard's run view and the job's log say why.",
            },
        },
        {
            "alert": "HaSyncRunPartiallyFailed",
            "expr": 'ha_sync_last_run_status{job="ha-sync-ui"} == 1',
            "for": "1h",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "ha-sync {{ $labels.pair }} ({{ $labels.direction }}): some paths keep failing",
                "description": "Runs finish with failed paths; the dashboard lists them under the run's failed operations.",
            },
        },
        {
            "alert": "HaSyncConflictsWaiting",
            "expr": 'ha_sync_last_run_conflicts{job="ha-sync-ui"} > 0',
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "ha-sync {{ $labels.pair }}: {{ $value }} conflict copies made by the last run",
                "description": "A path changed on both sides; both versions are kept (*.conflict-<side>-<time>.*). Pick one and delete the other.",
            },
        },
        {
            "alert": "HaSyncDashboardStoreDown",
            "expr": 'ha_sync_store_up{job="ha-sync-ui"} == 0',
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "ha-sync dashboard cannot read the audit store",
                "description": "Syncs go on (their opslogs wait on the log volume), but the dashboard and these alerts see nothing new.",
            },
        },
    ]
    for pair in settings["pairs"]:
        mode = pair.get("mode", "one-way")
        if mode == "fan-out":
            # One direction label per destination: from-<source>.1, .2, ...
            source, *destinations = fan_out_servers(pair, settings["servers"])
            directions = [(f"from-{source}.{index + 1}", fan_out_schedule(pair, settings)) for index in range(len(destinations))]
        elif mode == "bidirectional":
            directions = [("both", settings["schedules"]["bidirectional"])]
        else:
            directions = [(direction, settings["schedules"][direction]) for direction in ("dell-to-hp", "hp-to-dell")]
        for direction, schedule in directions:
            window = 2 * schedule_period_seconds(schedule)
            selector = f'job="ha-sync-ui",pair="{pair["name"]}",direction="{direction}"'
            rules.append({
                "alert": "HaSyncNoRecentSuccess",
                "expr": f"time() - ha_sync_last_success_timestamp_seconds{{{selector}}} > {window}",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": f"ha-sync {pair['name']} ({direction}): no successful run in {window // 60} minutes",
                    "description": "Two schedule periods passed without a successful real run (failed, refused or not scheduled).",
                },
            })
        if "versions_max_size" in pair:
            cap = size_bytes(pair["versions_max_size"], pair["name"])
            rules.append({
                "alert": "HaSyncVersionStoreOverCap",
                "expr": f'ha_sync_version_store_bytes{{job="ha-sync-ui",pair="{pair["name"]}"}} > {cap}',
                "for": "1h",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": f"ha-sync {pair['name']}: version store over its {pair['versions_max_size']} cap",
                    "description": "The keep rules could not bring the store under its cap (versions younger than --keep-min are kept).",
                },
            })
    files["monitoring/prometheus-rule.yaml"] = {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": {"name": APP, "namespace": ns, "labels": labels("monitoring")},
        "spec": {"groups": [{"name": APP, "rules": rules}]},
    }
    files["monitoring/servicemonitor.yaml"] = {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": "ha-sync-ui", "namespace": ns, "labels": labels("monitoring")},
        "spec": {
            "selector": {"matchLabels": labels("dashboard")},
            "namespaceSelector": {"matchNames": [ns]},
            # job="ha-sync-ui": the Service's name, which the rules select on.
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}],
        },
    }
    files["monitoring/kustomization.yaml"] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["prometheus-rule.yaml", "servicemonitor.yaml"],
    }
    files["grafana/ha-sync.json"] = grafana_dashboard()


def grafana_dashboard():
    """A Grafana dashboard on the dashboard's /metrics series (import it, pick the Prometheus data source)."""
    def panel(index, title, kind, expr, legend, unit, x, y, w=12, h=8):
        return {
            "id": index, "title": title, "type": kind, "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr, "legendFormat": legend}],
        }
    by = "{{pair}} {{direction}}"
    panels = [
        panel(1, "Last run status (0 ok, 1 partial, 2 failed, 3 running)", "stat", 'ha_sync_last_run_status{job="ha-sync-ui"}', by, "none", 0, 0, 24, 5),
        panel(2, "Time since last success", "timeseries", 'time() - ha_sync_last_success_timestamp_seconds{job="ha-sync-ui"}', by, "s", 0, 5),
        panel(3, "Bytes copied by the last run", "timeseries", 'ha_sync_last_run_bytes{job="ha-sync-ui"}', by, "bytes", 12, 5),
        panel(4, "Duration of the last run", "timeseries", 'ha_sync_last_run_duration_seconds{job="ha-sync-ui"}', by, "s", 0, 13),
        panel(5, "Files in the last run, by kind", "timeseries", 'ha_sync_last_run_files{job="ha-sync-ui"}', by + " {{kind}}", "none", 12, 13),
        panel(6, "Running now: files done", "timeseries", 'ha_sync_run_progress_files{job="ha-sync-ui"} and on(pair, direction) ha_sync_run_running == 1', by, "none", 0, 21),
        panel(7, "Conflict copies made by the last run", "stat", 'ha_sync_last_run_conflicts{job="ha-sync-ui"}', by, "none", 12, 21),
        panel(8, "Version store size", "timeseries", 'ha_sync_version_store_bytes{job="ha-sync-ui"}', by, "bytes", 0, 29),
        panel(9, "Audit store reachable", "stat", 'ha_sync_store_up{job="ha-sync-ui"}', "", "bool", 12, 29),
    ]
    return {
        "title": "HA Sync", "uid": "ha-sync", "schemaVersion": 39, "version": 1, "editable": True,
        "time": {"from": "now-24h", "to": "now"}, "refresh": "1m", "tags": ["ha-sync"],
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}]},
        "panels": panels,
    }


def render(files):
    header = "# Generated by deploy/generate.py from deploy/settings.toml: edit those, not this file.\n"
    rendered = {}
    for name, content in files.items():
        if name.endswith(".json"):
            # JSON has no comments: docs/operations.md says the file is generated.
            rendered[name] = json.dumps(content, indent=2, sort_keys=True) + "\n"
            continue
        documents = content if isinstance(content, list) else [content]
        rendered[name] = header + "---\n".join(emit(document) for document in documents)
    return rendered


def main():
    global HERE
    settings_path = os.path.join(HERE, "settings.toml")
    if "--settings" in sys.argv:
        # Another site's settings into another folder (the tests try the remote mode this way).
        settings_path = sys.argv[sys.argv.index("--settings") + 1]
        HERE = sys.argv[sys.argv.index("--out") + 1]
    with open(settings_path, "rb") as handle:
        settings = tomllib.load(handle)
    rendered = render(manifests(settings))
    existing = {
        os.path.relpath(os.path.join(folder, name), HERE)
        for folder in (HERE, os.path.join(HERE, "monitoring"), os.path.join(HERE, "grafana"), os.path.join(HERE, "remote")) if os.path.isdir(folder)
        for name in os.listdir(folder) if name.endswith((".yaml", ".json"))
    }
    if "--check" in sys.argv:
        stale = [name for name, text in rendered.items() if not os.path.exists(os.path.join(HERE, name)) or open(os.path.join(HERE, name)).read() != text]
        extra = sorted(existing - set(rendered))
        if stale or extra:
            print("deploy/ is out of date with settings.toml; run python3 deploy/generate.py", file=sys.stderr)
            for name in stale + extra:
                print(f"  {name}", file=sys.stderr)
            sys.exit(1)
        print(f"deploy/: {len(rendered)} files match settings.toml")
        return
    for name in existing - set(rendered):
        os.remove(os.path.join(HERE, name))
    for name, text in rendered.items():
        os.makedirs(os.path.dirname(os.path.join(HERE, name)), exist_ok=True)
        with open(os.path.join(HERE, name), "w") as handle:
            handle.write(text)
    print(f"wrote {len(rendered)} files to deploy/")


if __name__ == "__main__":
    main()
