import Foundation
import SyncTestSupport
import Testing
import Yams

/// The Kubernetes manifests under deploy/: generated from settings.toml, rendered by kustomize,
/// valid against the Kubernetes schemas, and saying what the specification asks.
@Suite("Deployment manifests")
struct DeploymentTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await CapturedProcess.run("/usr/bin/env", arguments, in: repository)
    }

    static func rendered() async throws -> [[String: Any]] {
        let result = try await run(["kubectl", "kustomize", "deploy/"])
        guard result.status == 0 else { throw DeployError("kubectl kustomize deploy/ failed: \(result.output)") }
        return try Yams.load_all(yaml: result.output).compactMap { $0 as? [String: Any] }
    }

    struct DeployError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    @Test func committedManifestsMatchTheGenerator() async throws {
        let result = try await Self.run(["python3", "deploy/generate.py", "--check"])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func everyObjectValidatesAgainstTheKubernetesSchemas() async throws {
        let render = try await Self.run(["kubectl", "kustomize", "deploy/"])
        try #require(render.status == 0, "\(render.output)")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rendered-\(UUID().uuidString).yaml").path
        try render.output.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let validation = try await Self.run(["kubernetes-validate", "--strict", "--quiet", file])
        #expect(validation.status == 0, "\(validation.output)")
    }

    @Test func cronJobsCarryTheSchedulesAndArgumentsOfTheSpecification() async throws {
        let objects = try await Self.rendered()
        #expect(!objects.contains { $0["kind"] as? String == "Secret" }, "the secret is never committed")
        let jobs = objects.filter { $0["kind"] as? String == "CronJob" }
        // Two one-way jobs per pair, except the bidirectional pairs' one job each.
        let expectedJobs = 4 * 2 + 2 * 1
        #expect(jobs.count == expectedJobs)
        let bidirectional = ["photos", "owncloud"]
        for pair in ["media", "photos", "owncloud", "games", "infra", "ai"] {
            let variants =
                bidirectional.contains(pair)
                ? [("", "*/15 * * * *", "dell", "hp")]
                : [("dell-to-hp", "*/15 * * * *", "dell", "hp"), ("hp-to-dell", "7,22,37,52 * * * *", "hp", "dell")]
            for (direction, schedule, from, to) in variants {
                let name = direction.isEmpty ? "ha-sync-\(pair)" : "ha-sync-\(pair)-\(direction)"
                let job = try #require(jobs.first { ($0["metadata"] as? [String: Any])?["name"] as? String == name }, "\(name)")
                let spec = job["spec"] as! [String: Any]
                #expect(spec["schedule"] as? String == schedule)
                #expect(spec["concurrencyPolicy"] as? String == "Forbid")
                let pod = ((spec["jobTemplate"] as! [String: Any])["spec"] as! [String: Any])["template"] as! [String: Any]
                let podSpec = pod["spec"] as! [String: Any]
                #expect(podSpec["serviceAccountName"] as? String == "ha-sync")
                #expect((podSpec["terminationGracePeriodSeconds"] as? Int ?? 0) >= 60)
                #expect((podSpec["securityContext"] as? [String: Any])?["runAsNonRoot"] as? Bool == true)
                let container = (podSpec["containers"] as! [[String: Any]])[0]
                let args = container["args"] as! [String]
                let modeArguments = direction.isEmpty ? ["--bidirectional", "--side-names=dell,hp"] : ["--direction=\(direction)"]
                for expected in ["--src=/mnt/\(from)", "--dest=/mnt/\(to)", "--pair=\(pair)", "--log-dir=/var/log/ha-sync", "--dry-run"]
                    + modeArguments
                {
                    #expect(args.contains(expected), "\(name): \(expected)")
                }
                #expect(!args.contains { $0.contains("db-dsn") }, "the DSN comes from the environment, never an argument")
                if pair == "owncloud" { #expect(args.contains("--exclude=*.part") && args.contains("--exclude=.owncloudsync.log")) }
                let env = container["env"] as! [[String: Any]]
                let dsn = try #require(env.first { $0["name"] as? String == "HA_SYNC_DB_DSN" })
                #expect(((dsn["valueFrom"] as? [String: Any])?["secretKeyRef"] as? [String: Any])?["name"] as? String == "ha-sync-db-secret")
                let security = container["securityContext"] as! [String: Any]
                #expect(security["readOnlyRootFilesystem"] as? Bool == true)
                #expect(security["allowPrivilegeEscalation"] as? Bool == false)
                #expect((container["resources"] as? [String: Any])?["limits"] != nil)
                let mounts = (container["volumeMounts"] as! [[String: Any]]).compactMap { $0["mountPath"] as? String }
                #expect(Set(mounts) == ["/mnt/dell", "/mnt/hp", "/var/log/ha-sync"])
            }
        }
    }

    @Test func theRoleGrantsNothingButLeases() async throws {
        let objects = try await Self.rendered()
        let roles = objects.filter { ["Role", "ClusterRole"].contains($0["kind"] as? String) }
        #expect(roles.count == 1)
        let rules = try #require(roles.first?["rules"] as? [[String: Any]])
        #expect(rules.count == 1)
        #expect(rules[0]["apiGroups"] as? [String] == ["coordination.k8s.io"])
        #expect(rules[0]["resources"] as? [String] == ["leases"])
        #expect(Set(rules[0]["verbs"] as? [String] ?? []) == ["create", "get", "update", "delete"])
    }

    @Test func storageIsOneNFSVolumePerPairAndServerPlusTheLogs() async throws {
        let volumes = try await Self.rendered().filter { $0["kind"] as? String == "PersistentVolume" }
        #expect(volumes.count == 13)
        for volume in volumes {
            let spec = volume["spec"] as! [String: Any]
            #expect(spec["accessModes"] as? [String] == ["ReadWriteMany"])
            #expect((spec["nfs"] as? [String: Any])?["server"] != nil)
        }
        let logs = try #require(volumes.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "pv-ha-sync-logs" })
        #expect(((logs["spec"] as? [String: Any])?["capacity"] as? [String: Any])?["storage"] as? String == "10Gi")
    }

    // MARK: Remote mode

    /// Generates the manifests of a variant of settings.toml into `scratch/out`, renders them
    /// with kustomize, checks every object against the Kubernetes schemas, and returns them.
    static func generateAndValidate(_ settings: String, in scratch: TemporaryTree) async throws -> [[String: Any]] {
        try settings.write(toFile: scratch.root + "/settings.toml", atomically: true, encoding: .utf8)
        let generated = try await run([
            "python3", "deploy/generate.py", "--settings", scratch.root + "/settings.toml", "--out", scratch.root + "/out",
        ])
        try #require(generated.status == 0, "\(generated.output)")
        let render = try await run(["kubectl", "kustomize", scratch.root + "/out"])
        try #require(render.status == 0, "\(render.output)")
        try render.output.write(toFile: scratch.root + "/all.yaml", atomically: true, encoding: .utf8)
        let validation = try await run(["kubernetes-validate", "--strict", "--quiet", scratch.root + "/all.yaml"])
        #expect(validation.status == 0, "\(validation.output)")
        return try Yams.load_all(yaml: render.output).compactMap { $0 as? [String: Any] }
    }

    @Test func aRemotePairGetsServersCertificatesAndJobsThatNameThem() async throws {
        let scratch = try TemporaryTree("deploy-remote")
        let settings = try String(contentsOf: Self.repository.appendingPathComponent("deploy/settings.toml"), encoding: .utf8)
        let photos = #"{ name = "photos",   path = "/data/photos",   size = "500Gi", mode = "bidirectional", versions_max_size = "50G" }"#
        try #require(settings.contains(photos))
        let remote = settings.replacingOccurrences(of: photos, with: photos.dropLast(2) + #", transport = "remote" }"#)
        let objects = try await Self.generateAndValidate(remote, in: scratch)
        func named(_ kind: String, _ name: String) -> [String: Any]? {
            objects.first { $0["kind"] as? String == kind && ($0["metadata"] as? [String: Any])?["name"] as? String == name }
        }
        func container(_ object: [String: Any]?, cron: Bool) -> [String: Any]? {
            var spec = object?["spec"] as? [String: Any]
            if cron { spec = ((spec?["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any]) }
            let pod = (spec?["template"] as? [String: Any])?["spec"] as? [String: Any]
            return (pod?["containers"] as? [[String: Any]])?.first
        }
        // No NFS volume for the remote pair; the others keep theirs.
        #expect(named("PersistentVolume", "pv-dell-photos") == nil)
        #expect(named("PersistentVolume", "pv-dell-media") != nil)
        let job = try #require(container(named("CronJob", "ha-sync-photos"), cron: true))
        let args = job["args"] as? [String] ?? []
        #expect(args.contains("--src=hasync://ha-sync-serve-dell.infrastructure.svc:7443/photos"))
        #expect(args.contains("--dest=hasync://ha-sync-serve-hp.infrastructure.svc:7443/photos"))
        #expect(args.contains("--peer-token-file=/etc/ha-sync/token/token") && args.contains("--peer-ca=/etc/ha-sync/ca/ca.crt"))
        #expect(!(job["volumeMounts"] as? [[String: Any]] ?? []).contains { ($0["mountPath"] as? String)?.hasPrefix("/mnt/") == true })
        for server in ["dell", "hp"] {
            let deployment = named("Deployment", "ha-sync-serve-\(server)")
            let serve = try #require(container(deployment, cron: false))
            let serveArgs = serve["args"] as? [String] ?? []
            #expect(serveArgs.first == "serve" && serveArgs.contains("--root=photos=/data/photos"))
            #expect(!serveArgs.contains { $0.hasPrefix("--root=media") })
            let pod = ((deployment?["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
            #expect((pod?["nodeSelector"] as? [String: String])?["kubernetes.io/hostname"] == server)
            let volumes = pod?["volumes"] as? [[String: Any]] ?? []
            #expect(volumes.contains { ($0["hostPath"] as? [String: Any])?["path"] as? String == "/data/photos" })
            #expect(volumes.contains { ($0["secret"] as? [String: Any])?["secretName"] as? String == "ha-sync-serve-\(server)-tls" })
            let service = try #require(named("Service", "ha-sync-serve-\(server)"))
            #expect(((service["spec"] as? [String: Any])?["ports"] as? [[String: Any]])?.first?["port"] as? Int == 7443)
        }
        // The certificates: their own kustomization (cert-manager's CRDs), one per server, from a private CA.
        let pki = try await Self.run(["kubectl", "kustomize", scratch.root + "/out/remote"])
        try #require(pki.status == 0, "\(pki.output)")
        let certificates = try Yams.load_all(yaml: pki.output).compactMap { $0 as? [String: Any] }.filter { $0["kind"] as? String == "Certificate" }
        #expect(certificates.count == 3)
        let dell = try #require(certificates.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "ha-sync-serve-dell" })
        let spec = dell["spec"] as? [String: Any]
        #expect(spec?["secretName"] as? String == "ha-sync-serve-dell-tls")
        #expect((spec?["dnsNames"] as? [String])?.contains("ha-sync-serve-dell.infrastructure.svc") == true)
        #expect((spec?["ipAddresses"] as? [String]) == ["192.168.2.100"])
        #expect((spec?["issuerRef"] as? [String: Any])?["name"] as? String == "ha-sync-peer-ca")
    }

    @Test func aFanOutPairIsOneJobWithEveryDestination() async throws {
        let scratch = try TemporaryTree("deploy-fan-out")
        var settings = try String(contentsOf: Self.repository.appendingPathComponent("deploy/settings.toml"), encoding: .utf8)
        let ai = #"  { name = "ai",       path = "/data/ai",       size = "500Gi" },"#
        try #require(settings.contains(ai))
        settings = settings.replacingOccurrences(
            of: ai,
            with: ai + "\n"
                + #"  { name = "netboot", path = "/data/netboot", size = "200Gi", mode = "fan-out", source = "dell", destinations = ["hp", "cache-garage"], publish_after = ["*.json=${stem}.squashfs"], delay_updates = true, min_age = "2m" },"#
        )
        settings = settings.replacingOccurrences(of: "[schedules]", with: "[servers.cache-garage]\naddress = \"192.168.3.10\"\n\n[schedules]")
        let objects = try await Self.generateAndValidate(settings, in: scratch)
        let jobs = objects.filter {
            $0["kind"] as? String == "CronJob" && (($0["metadata"] as? [String: Any])?["name"] as? String)?.contains("netboot") == true
        }
        #expect(jobs.count == 1, "one job feeds every destination")
        let template = ((jobs.first?["spec"] as? [String: Any])?["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any]
        let pod = (template?["template"] as? [String: Any])?["spec"] as? [String: Any]
        let container = (pod?["containers"] as? [[String: Any]])?.first
        let args = container?["args"] as? [String] ?? []
        #expect(
            args.starts(with: ["--src=/mnt/dell", "--dest=/mnt/hp", "--dest=/mnt/cache-garage", "--pair=netboot", "--direction=from-dell"]), "\(args)"
        )
        #expect(args.contains("--publish-after=*.json=${stem}.squashfs") && args.contains("--delay-updates") && args.contains("--min-age=2m"))
        #expect((jobs.first?["spec"] as? [String: Any])?["schedule"] as? String == "*/30 * * * *")
        let claims = (pod?["volumes"] as? [[String: Any]] ?? []).compactMap {
            ($0["persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String
        }
        #expect(Set(claims) == ["pvc-dell-netboot", "pvc-hp-netboot", "pvc-cache-garage-netboot", "pvc-ha-sync-logs"])
        let volume = objects.first {
            $0["kind"] as? String == "PersistentVolume" && ($0["metadata"] as? [String: Any])?["name"] as? String == "pv-cache-garage-netboot"
        }
        #expect(((volume?["spec"] as? [String: Any])?["nfs"] as? [String: Any])?["server"] as? String == "192.168.3.10")
        // The other pairs still sync between the HA pair only.
        #expect(objects.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "pv-cache-garage-media" } == nil)
        // One freshness alert per destination.
        let rules = try String(contentsOfFile: scratch.root + "/out/monitoring/prometheus-rule.yaml", encoding: .utf8)
        for index in 1...2 { #expect(rules.contains("direction=\\\"from-dell.\(index)\\\"") || rules.contains("direction=\"from-dell.\(index)\"")) }

        // Mistakes are named.
        let wrong = settings.replacingOccurrences(of: #"destinations = ["hp", "cache-garage"]"#, with: #"destinations = ["hp", "nowhere"]"#)
        try wrong.write(toFile: scratch.root + "/wrong.toml", atomically: true, encoding: .utf8)
        let refused = try await Self.run([
            "python3", "deploy/generate.py", "--settings", scratch.root + "/wrong.toml", "--out", scratch.root + "/wrong",
        ])
        #expect(refused.status != 0 && refused.output.contains("pair netboot: destinations must list other servers"), "\(refused.output)")
    }

    // MARK: Monitoring

    static func monitoringObjects() async throws -> [[String: Any]] {
        let result = try await run(["kubectl", "kustomize", "deploy/monitoring/"])
        guard result.status == 0 else { throw DeployError("kubectl kustomize deploy/monitoring/ failed: \(result.output)") }
        return try Yams.load_all(yaml: result.output).compactMap { $0 as? [String: Any] }
    }

    /// The PrometheusRule's apiVersion and rule groups.
    static func ruleGroups() async throws -> (apiVersion: String?, groups: [[String: Any]]) {
        let rule = try #require(try await monitoringObjects().first { $0["kind"] as? String == "PrometheusRule" })
        return (rule["apiVersion"] as? String, try #require((rule["spec"] as? [String: Any])?["groups"] as? [[String: Any]]))
    }

    static func temporaryFile(_ name: String, _ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString)-\(name)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The fields the prometheus-operator's PrometheusRule CRD defines, checked as its schema
    /// does: groups need a name and rules; each rule an expr and exactly one of alert or record;
    /// `for` a Prometheus duration; labels and annotations string maps. promtool then parses
    /// every expression and template.
    @Test func thePrometheusRuleMatchesItsSchemaAndPromtoolAcceptsIt() async throws {
        let (apiVersion, groups) = try await Self.ruleGroups()
        #expect(apiVersion == "monitoring.coreos.com/v1")
        #expect(!groups.isEmpty)
        let duration = /^([0-9]+(ms|s|m|h|d|w|y))+$/
        var alerts: [String] = []
        for group in groups {
            #expect((group["name"] as? String)?.isEmpty == false)
            let rules = try #require(group["rules"] as? [[String: Any]])
            for rule in rules {
                #expect(Set(rule.keys).isSubset(of: ["alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"]), "\(rule.keys)")
                #expect((rule["alert"] == nil) != (rule["record"] == nil), "exactly one of alert and record")
                #expect(rule["expr"] is String)
                if let value = rule["for"] { #expect((value as? String)?.wholeMatch(of: duration) != nil, "\(value)") }
                for key in ["labels", "annotations"] where rule[key] != nil {
                    #expect(rule[key] is [String: String], "\(key) must map strings to strings")
                }
                if let alert = rule["alert"] as? String { alerts.append(alert) }
            }
        }
        // What the issue asks the rules to catch, and one freshness alert per scheduled job.
        for expected in ["HaSyncRunFailed", "HaSyncConflictsWaiting", "HaSyncVersionStoreOverCap", "HaSyncDashboardStoreDown"] {
            #expect(alerts.contains(expected), "\(expected)")
        }
        #expect(alerts.filter { $0 == "HaSyncNoRecentSuccess" }.count == 4 * 2 + 2)

        let rulesFile = try Self.temporaryFile("rules.yaml", try Yams.dump(object: ["groups": groups]))
        defer { try? FileManager.default.removeItem(atPath: rulesFile) }
        let check = try await Self.run(["promtool", "check", "rules", rulesFile])
        #expect(check.status == 0, "\(check.output)")
    }

    /// The alerts fire on the series the dashboard exports, and only then (promtool's rule tests).
    @Test func theAlertsFireWhenTheyShould() async throws {
        let groups = try await Self.ruleGroups().groups
        let rulesFile = try Self.temporaryFile("rules.yaml", try Yams.dump(object: ["groups": groups]))
        let alertRules = groups.flatMap { $0["rules"] as? [[String: Any]] ?? [] }
        /// The expected annotations: `summary` as templated for the case, the rule's own `description`.
        func annotations(_ alert: String, _ summary: String) -> String {
            let rule = alertRules.first { $0["alert"] as? String == alert }
            let description = (rule?["annotations"] as? [String: String])?["description"] ?? ""
            let json = try! JSONSerialization.data(withJSONObject: ["summary": summary, "description": description], options: [.sortedKeys])
            return "exp_annotations: " + String(decoding: json, as: UTF8.self)
        }
        let media = "job=\"ha-sync-ui\",pair=\"media\",direction=\"dell-to-hp\""
        let photos = "job=\"ha-sync-ui\",pair=\"photos\",direction=\"both\""
        let tests = """
            rule_files: ["\(rulesFile)"]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
                  - series: 'ha_sync_last_run_status{\(media)}'
                    values: '0 0 2 2'
                  - series: 'ha_sync_last_run_conflicts{\(photos)}'
                    values: '0 3 0'
                  - series: 'ha_sync_last_success_timestamp_seconds{\(media)}'
                    values: '0x60'
                  - series: 'ha_sync_version_store_bytes{\(photos)}'
                    values: '0+1073741824x120'
                alert_rule_test:
                  - eval_time: 1m
                    alertname: HaSyncRunFailed
                    exp_alerts: []
                  - eval_time: 3m
                    alertname: HaSyncRunFailed
                    exp_alerts:
                      - exp_labels: {severity: critical, job: ha-sync-ui, pair: media, direction: dell-to-hp}
                        \(annotations("HaSyncRunFailed", "ha-sync media (dell-to-hp): the last run failed"))
                  - eval_time: 1m
                    alertname: HaSyncConflictsWaiting
                    exp_alerts:
                      - exp_labels: {severity: warning, job: ha-sync-ui, pair: photos, direction: both}
                        \(annotations("HaSyncConflictsWaiting", "ha-sync photos: 3 conflict copies made by the last run"))
                  - eval_time: 2m
                    alertname: HaSyncConflictsWaiting
                    exp_alerts: []
                  - eval_time: 29m
                    alertname: HaSyncNoRecentSuccess
                    exp_alerts: []
                  - eval_time: 31m
                    alertname: HaSyncNoRecentSuccess
                    exp_alerts:
                      - exp_labels: {severity: warning, job: ha-sync-ui, pair: media, direction: dell-to-hp}
                        \(annotations("HaSyncNoRecentSuccess", "ha-sync media (dell-to-hp): no successful run in 30 minutes"))
                  - eval_time: 60m
                    alertname: HaSyncVersionStoreOverCap
                    exp_alerts: []
                  - eval_time: 115m
                    alertname: HaSyncVersionStoreOverCap
                    exp_alerts:
                      - exp_labels: {severity: warning, job: ha-sync-ui, pair: photos, direction: both}
                        \(annotations("HaSyncVersionStoreOverCap", "ha-sync photos: version store over its 50G cap"))
            """
        let testsFile = try Self.temporaryFile("tests.yaml", tests)
        defer {
            try? FileManager.default.removeItem(atPath: rulesFile)
            try? FileManager.default.removeItem(atPath: testsFile)
        }
        let result = try await Self.run(["promtool", "test", "rules", testsFile])
        #expect(result.status == 0, "\(result.output)")
    }

    /// The ServiceMonitor finds the dashboard's Service and port; the Grafana dashboard only
    /// queries series the dashboard exports (docs/api.md lists them).
    @Test func theServiceMonitorAndGrafanaDashboardPointAtRealThings() async throws {
        let monitor = try #require(try await Self.monitoringObjects().first { $0["kind"] as? String == "ServiceMonitor" })
        let spec = try #require(monitor["spec"] as? [String: Any])
        let service = try #require(
            try await Self.rendered().first {
                $0["kind"] as? String == "Service" && ($0["metadata"] as? [String: Any])?["name"] as? String == "ha-sync-ui"
            }
        )
        let serviceLabels = (service["metadata"] as? [String: Any])?["labels"] as? [String: String]
        #expect((spec["selector"] as? [String: Any])?["matchLabels"] as? [String: String] == serviceLabels)
        let ports = ((service["spec"] as? [String: Any])?["ports"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        let endpoints = try #require(spec["endpoints"] as? [[String: Any]])
        #expect(endpoints.allSatisfy { ports.contains($0["port"] as? String ?? "") && $0["path"] as? String == "/metrics" })

        let api = try String(contentsOf: Self.repository.appendingPathComponent("docs/api.md"), encoding: .utf8)
        let dashboard = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.repository.appendingPathComponent("deploy/grafana/ha-sync.json")))
        let panels = try #require((dashboard as? [String: Any])?["panels"] as? [[String: Any]])
        #expect(panels.count >= 6)
        for panel in panels {
            let targets = panel["targets"] as? [[String: Any]] ?? []
            #expect(!targets.isEmpty)
            for target in targets {
                let expr = target["expr"] as? String ?? ""
                let names = expr.matches(of: /ha_sync_[a-z_]+/).map { String($0.output) }
                #expect(!names.isEmpty, "\(expr)")
                for name in names { #expect(api.contains("`\(name)`"), "\(name) is not a documented series") }
            }
        }
    }
}
