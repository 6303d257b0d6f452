import Foundation
import KubernetesLease
import KubernetesTestSupport
import SyncCore
import SyncTestSupport
import Testing

/// The binary with `--lock kubernetes` against the fake API server over HTTPS.
@Suite("ha-sync with a Kubernetes Lease", .serialized)
struct LeaseEndToEndTests {
    let tree: TemporaryTree
    let source: String
    let destination: String
    let logs: String
    static let namespace = "infrastructure"
    static let lease = "ha-sync-games"

    init() throws {
        tree = try TemporaryTree("lease")
        source = try tree.directory("src")
        destination = try tree.directory("dest")
        logs = try tree.directory("logs")
    }

    func kubeconfig(_ api: FakeKubernetesAPI, token: String = "sync-token") throws -> String {
        let path = tree.root + "/kubeconfig-\(token)"
        try Kubeconfig.write(
            to: path, server: api.server, certificateAuthorityPEM: api.certificateAuthorityPEM, token: token, namespace: Self.namespace)
        return path
    }

    func run(_ api: FakeKubernetesAPI, pod: String, direction: String = "dell-to-hp", token: String = "sync-token", extra: [String] = []) throws
        -> HASyncProcess
    {
        let (from, to) = direction == "dell-to-hp" ? (source, destination) : (destination, source)
        return try HASyncProcess(
            [
                "--src", from, "--dest", to, "--pair", "games", "--direction", direction, "--log-dir", logs, "--output", "json",
                "--lock", "kubernetes", "--kubeconfig", try kubeconfig(api, token: token), "--lock-ttl", "10", "--workers", "1",
            ] + extra,
            environment: ["POD_NAME": pod])
    }

    /// A source file whose copy with --verify takes several seconds (sparse, so cheap to make).
    func slowSource(gibibytes: Int = 3) throws {
        try writeSparseFile(source + "/slow.bin", size: gibibytes << 30)
    }

    func withAPI(_ body: (FakeKubernetesAPI) async throws -> Void) async throws {
        let api = try await FakeKubernetesAPI.start(tokens: ["sync-token": FakeKubernetesAPI.allVerbs, "reader": ["get"]])
        do {
            try await body(api)
        } catch {
            await api.stop()
            throw error
        }
        await api.stop()
    }

    @Test(.timeLimit(.minutes(2)))
    func twoRunsTogetherOneSyncsTheOtherIsHeldAndTheLeaseIsRenewedThenReleased() async throws {
        try await withAPI { api in
            try slowSource()
            let first = try run(api, pod: "pod-a", extra: ["--verify"])
            #expect(try await waitUntil(timeout: 30) { api.lease(namespace: Self.namespace, name: Self.lease) != nil })
            let lease = try #require(api.lease(namespace: Self.namespace, name: Self.lease))
            // Readable prefix, then a suffix unique to this run.
            let identity = try #require(lease.spec.holderIdentity)
            #expect(identity.hasPrefix("pod-a/dell-to-hp/"))
            #expect(identity.split(separator: "/").last.map { $0.count == 8 && $0.allSatisfy(\.isHexDigit) } == true)
            #expect(lease.spec.leaseDurationSeconds == 10)

            let second = try await run(api, pod: "pod-b", direction: "hp-to-dell").wait()
            #expect(second.status == 0, "a held Lease is not a failure")
            let locked = second.jsonLines.first { $0["type"] as? String == "locked" }
            #expect((locked?["holder"] as? String)?.hasPrefix("pod-a/dell-to-hp") == true)

            // Renewed every third of the TTL.
            let renewedBefore = try #require(lease.spec.renewTime)
            #expect(
                try await waitUntil(timeout: 8) {
                    (api.lease(namespace: Self.namespace, name: Self.lease)?.spec.renewTime ?? renewedBefore) > renewedBefore
                })
            first.signal(SIGTERM)
            let outcome = try await first.wait()
            #expect(outcome.status == 143)
            #expect(api.lease(namespace: Self.namespace, name: Self.lease) == nil, "released on SIGTERM")
        }
    }

    /// Two runs with the same pod name and direction (a run outside a pod, a reused host name):
    /// the second must see the first's Lease as held, never as its own.
    @Test(.timeLimit(.minutes(2)))
    func aSecondRunWithTheSameIdentityIsHeldAndNeverDisturbsTheFirst() async throws {
        try await withAPI { api in
            try slowSource()
            let first = try run(api, pod: "vm", extra: ["--verify"])
            #expect(try await waitUntil(timeout: 30) { api.lease(namespace: Self.namespace, name: Self.lease) != nil })
            let held = try #require(api.lease(namespace: Self.namespace, name: Self.lease))

            let second = try await run(api, pod: "vm").wait(timeout: 30)
            #expect(second.status == 0)
            #expect(second.jsonLines.contains { $0["type"] as? String == "locked" }, "\(second.stdout)")
            let after = try #require(api.lease(namespace: Self.namespace, name: Self.lease), "the second run must not delete the first's Lease")
            #expect(after.spec.holderIdentity == held.spec.holderIdentity)

            let outcome = try await first.wait(timeout: 90)
            #expect(outcome.status == 0, "\(outcome.stderr)")
            #expect(!outcome.stderr.contains("deleted by someone else"))
            #expect(api.lease(namespace: Self.namespace, name: Self.lease) == nil, "released by its holder at the end: \(outcome.stderr)")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aLeaseHandedToAnotherHolderStopsTheRunWithinOneHeartbeat() async throws {
        try await withAPI { api in
            try slowSource()
            let started = try run(api, pod: "pod-a", extra: ["--verify"])
            #expect(try await waitUntil(timeout: 30) { !temporaryFiles(in: destination).isEmpty })
            api.hand(namespace: Self.namespace, name: Self.lease, to: "pod-z/hp-to-dell")
            let handedAt = Date()
            let outcome = try await started.wait()
            let stoppedAfter = outcome.exitedAt.timeIntervalSince(handedAt)
            #expect(stoppedAfter < 3 + 3, "stopped within one heartbeat (3 s) and a little, not \(stoppedAfter) s: \(outcome.stderr)")
            #expect(outcome.status == 1, "\(outcome.stderr)")
            #expect(outcome.stderr.contains("now held by pod-z/hp-to-dell"))
            #expect(!FileManager.default.fileExists(atPath: destination + "/slow.bin"))
            #expect(temporaryFiles(in: destination).isEmpty, "the copy in flight was discarded")
            #expect(
                api.lease(namespace: Self.namespace, name: Self.lease)?.spec.holderIdentity == "pod-z/hp-to-dell",
                "someone else's Lease is left alone")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func anUnreachableAPIServerFencesTheRunBeforeTheRenewDeadline() async throws {
        try await withAPI { api in
            try slowSource(gibibytes: 4)
            let started = try run(api, pod: "pod-a", extra: ["--verify"])
            #expect(try await waitUntil(timeout: 30) { !temporaryFiles(in: destination).isEmpty })
            let acquired = try #require(api.lease(namespace: Self.namespace, name: Self.lease)?.spec.renewTime)
            api.setUnavailable(true)
            let outcome = try await started.wait()
            let fencedAfter = Double(Int64((outcome.exitedAt.timeIntervalSince1970 * 1e6).rounded()) - acquired.microseconds) / 1e6
            #expect(outcome.status == 1, "\(outcome.stderr)")
            #expect(outcome.stderr.contains("renew deadline"))
            #expect(fencedAfter < 10 + 5, "stopped before anyone else could take the Lease (\(fencedAfter) s)")
            #expect(temporaryFiles(in: destination).isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aCrashedHoldersLeaseIsTakenOverOnlyOnceExpired() async throws {
        try await withAPI { api in
            try slowSource(gibibytes: 2)
            let crashed = try run(api, pod: "pod-a", extra: ["--verify"])
            #expect(try await waitUntil(timeout: 30) { api.lease(namespace: Self.namespace, name: Self.lease) != nil })
            crashed.signal(SIGKILL)
            _ = try await crashed.wait()
            let stale = try #require(api.lease(namespace: Self.namespace, name: Self.lease))
            let early = try await run(api, pod: "pod-b").wait()
            #expect(early.jsonLines.contains { $0["type"] as? String == "locked" }, "not before it expires")
            let expiry = try #require(stale.spec.renewTime).adding(seconds: 10 + 5)
            let wait = Double(expiry.microseconds - MicroTime(Timestamp.now()).microseconds) / 1e6 + 0.5
            if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
            let late = try await run(api, pod: "pod-b").wait()
            #expect(late.status == 0, "\(late.stderr)")
            #expect(late.summary?["created"] as? Int == 1)
            #expect(api.lease(namespace: Self.namespace, name: Self.lease) == nil, "released after the run")
            #expect(late.stderr.contains("took over an expired Lease"))
        }
    }

    @Test func aBadTokenIsAClearErrorWithoutTheToken() async throws {
        try await withAPI { api in
            try TemporaryTree.write(source, "a", "a")
            let outcome = try await run(api, pod: "pod-a", token: "N0t-a-real-t0ken").wait()
            #expect(outcome.status == 1)
            #expect(outcome.stderr.contains("Unauthorized (401)"))
            #expect(!outcome.stderr.contains("N0t-a-real-t0ken") && !outcome.stdout.contains("N0t-a-real-t0ken"))
            #expect(!FileManager.default.fileExists(atPath: destination + "/a"), "no lock, no sync")
            let forbidden = try await run(api, pod: "pod-a", token: "reader").wait()
            #expect(forbidden.status == 1)
            #expect(forbidden.stderr.contains("Forbidden (403)"))
        }
    }
}
