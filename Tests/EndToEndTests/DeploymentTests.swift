import Foundation
import SyncTestSupport
import Testing
import Yams

/// The Kubernetes manifests under deploy/: generated from settings.toml, rendered by kustomize,
/// valid against the Kubernetes schemas, and saying what the specification asks.
@Suite("Deployment manifests")
struct DeploymentTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try CapturedProcess.run("/usr/bin/env", arguments, in: repository)
    }

    static func rendered() throws -> [[String: Any]] {
        let result = try run(["kubectl", "kustomize", "deploy/"])
        guard result.status == 0 else { throw DeployError("kubectl kustomize deploy/ failed: \(result.output)") }
        return try Yams.load_all(yaml: result.output).compactMap { $0 as? [String: Any] }
    }

    struct DeployError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    @Test func committedManifestsMatchTheGenerator() throws {
        let result = try Self.run(["python3", "deploy/generate.py", "--check"])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func everyObjectValidatesAgainstTheKubernetesSchemas() throws {
        let render = try Self.run(["kubectl", "kustomize", "deploy/"])
        try #require(render.status == 0, "\(render.output)")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rendered-\(UUID().uuidString).yaml").path
        try render.output.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let validation = try Self.run(["kubernetes-validate", "--strict", "--quiet", file])
        #expect(validation.status == 0, "\(validation.output)")
    }

    @Test func cronJobsCarryTheSchedulesAndArgumentsOfTheSpecification() throws {
        let objects = try Self.rendered()
        #expect(!objects.contains { $0["kind"] as? String == "Secret" }, "the secret is never committed")
        let jobs = objects.filter { $0["kind"] as? String == "CronJob" }
        // Two one-way jobs per pair, except the bidirectional pairs' one job each.
        #expect(jobs.count == 4 * 2 + 2 * 1)
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

    @Test func theRoleGrantsNothingButLeases() throws {
        let objects = try Self.rendered()
        let roles = objects.filter { ["Role", "ClusterRole"].contains($0["kind"] as? String) }
        #expect(roles.count == 1)
        let rules = try #require(roles.first?["rules"] as? [[String: Any]])
        #expect(rules.count == 1)
        #expect(rules[0]["apiGroups"] as? [String] == ["coordination.k8s.io"])
        #expect(rules[0]["resources"] as? [String] == ["leases"])
        #expect(Set(rules[0]["verbs"] as? [String] ?? []) == ["create", "get", "update", "delete"])
    }

    @Test func storageIsOneNFSVolumePerPairAndServerPlusTheLogs() throws {
        let volumes = try Self.rendered().filter { $0["kind"] as? String == "PersistentVolume" }
        #expect(volumes.count == 13)
        for volume in volumes {
            let spec = volume["spec"] as! [String: Any]
            #expect(spec["accessModes"] as? [String] == ["ReadWriteMany"])
            #expect((spec["nfs"] as? [String: Any])?["server"] != nil)
        }
        let logs = try #require(volumes.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "pv-ha-sync-logs" })
        #expect(((logs["spec"] as? [String: Any])?["capacity"] as? [String: Any])?["storage"] as? String == "10Gi")
    }
}
