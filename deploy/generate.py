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
    names = list(servers)
    if len(names) != 2:
        sys.exit("settings.toml must name exactly two servers")
    for pair in settings["pairs"]:
        for server in names:
            files[f"volume-{server}-{pair['name']}.yaml"] = volume(
                f"{server}-{pair['name']}", servers[server]["address"], pair["path"], pair["size"], "data", pair["name"])

    def cron_job(pair, job_name, file_name, schedule, args, mounts):
        """One CronJob of a pair; `mounts` are the server names whose folders it sees."""
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
                            "securityContext": {
                                "runAsNonRoot": True, "runAsUser": job["run_as_user"], "runAsGroup": job["run_as_user"],
                                "fsGroup": job["run_as_user"], "seccompProfile": {"type": "RuntimeDefault"},
                            },
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
                                "securityContext": {
                                    "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
                                },
                                "resources": {
                                    "requests": {"cpu": job["cpu_request"], "memory": job["memory_request"]},
                                    "limits": {"cpu": job["cpu_limit"], "memory": job["memory_limit"]},
                                },
                                "volumeMounts": [{"name": server, "mountPath": f"/mnt/{server}"} for server in mounts]
                                + [{"name": "logs", "mountPath": "/var/log/ha-sync"}],
                            }],
                            "volumes": [
                                {"name": server, "persistentVolumeClaim": {"claimName": f"pvc-{server}-{pair['name']}"}} for server in mounts
                            ] + [{"name": "logs", "persistentVolumeClaim": {"claimName": "pvc-ha-sync-logs"}}],
                        },
                    },
                }},
            },
        }

    common = ["--log-dir=/var/log/ha-sync", "--log-format=json", f"--lock-ttl={job['lock_ttl_seconds']}", "--lock=kubernetes"]
    for pair in settings["pairs"]:
        # What a pair leaves out, in order (first match wins); see docs/cli.md#filters.
        filters = [f"--exclude={pattern}" for pattern in pair.get("excludes", [])]
        mode = pair.get("mode", "one-way")
        if mode not in ("one-way", "bidirectional"):
            sys.exit(f"pair {pair['name']}: mode must be \"one-way\" or \"bidirectional\", not {mode!r}")
        if mode == "bidirectional":
            # One job syncs both ways against the pair's state archive on the logs volume.
            args = [
                f"--src=/mnt/{names[0]}", f"--dest=/mnt/{names[1]}", f"--pair={pair['name']}", "--bidirectional",
                f"--side-names={names[0]},{names[1]}",
            ] + common + filters
            if settings.get("dry_run", True):
                args.append("--dry-run")
            cron_job(pair, f"ha-sync-{pair['name']}", f"cron-{pair['name']}.yaml", settings["schedules"]["bidirectional"], args, names)
            continue
        for source, destination in ((names[0], names[1]), (names[1], names[0])):
            direction = f"{source}-to-{destination}"
            args = [f"--src=/mnt/{source}", f"--dest=/mnt/{destination}", f"--pair={pair['name']}", f"--direction={direction}"] + common + filters
            if settings.get("dry_run", True):
                args.append("--dry-run")
            cron_job(
                pair, f"ha-sync-{pair['name']}-{direction}", f"cron-{pair['name']}-{direction}.yaml", settings["schedules"][direction], args,
                [source, destination])

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
                        "securityContext": {
                            "runAsNonRoot": True, "runAsUser": job["run_as_user"], "runAsGroup": job["run_as_user"],
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
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
                            "securityContext": {
                                "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
                            },
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

    files["kustomization.yaml"] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": sorted(name for name in files if name != "kustomization.yaml"),
    }
    return files


def render(files):
    header = "# Generated by deploy/generate.py from deploy/settings.toml: edit those, not this file.\n"
    rendered = {}
    for name, content in files.items():
        documents = content if isinstance(content, list) else [content]
        rendered[name] = header + "---\n".join(emit(document) for document in documents)
    return rendered


def main():
    with open(os.path.join(HERE, "settings.toml"), "rb") as handle:
        settings = tomllib.load(handle)
    rendered = render(manifests(settings))
    existing = {name for name in os.listdir(HERE) if name.endswith(".yaml")}
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
        with open(os.path.join(HERE, name), "w") as handle:
            handle.write(text)
    print(f"wrote {len(rendered)} files to deploy/")


if __name__ == "__main__":
    main()
