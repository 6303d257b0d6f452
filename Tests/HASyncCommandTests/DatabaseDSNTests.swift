import Testing

@testable import AuditDSN
@testable import SyncRunner

@Suite("Database DSN")
struct DatabaseDSNTests {
    @Test func goDriverForm() throws {
        let dsn = try DatabaseDSN(
            parsing: "ha_sync:p@ss:w/rd@tcp(general-purpose-db.infrastructure.svc.cluster.local:3306)/general_db?tls=true&timeout=5s")
        guard case .mysql(let endpoint) = dsn else {
            Issue.record("expected mysql")
            return
        }
        #expect(endpoint.user == "ha_sync")
        #expect(endpoint.password == "p@ss:w/rd")
        #expect(endpoint.host == "general-purpose-db.infrastructure.svc.cluster.local")
        #expect(endpoint.port == 3306)
        #expect(endpoint.database == "general_db")
        #expect(endpoint.parameters == ["tls": "true", "timeout": "5s"])
        #expect(!dsn.description.contains("p@ss"))
        #expect(dsn.description == "mysql://ha_sync:***@general-purpose-db.infrastructure.svc.cluster.local:3306/general_db")
    }

    @Test func urlFormWithPercentEncodedPassword() throws {
        let dsn = try DatabaseDSN(parsing: "mysql://bob:a%40b%2Fc@127.0.0.1:3307/db")
        guard case .mysql(let endpoint) = dsn else {
            Issue.record("expected mysql")
            return
        }
        #expect(endpoint.password == "a@b/c")
        #expect(endpoint.port == 3307)
        #expect(!dsn.description.contains("a@b"))
    }

    @Test func unixSocketAndDefaultPort() throws {
        guard case .mysql(let socket) = try DatabaseDSN(parsing: "root@unix(/run/mysqld/mysqld.sock)/general_db") else {
            Issue.record("expected mysql")
            return
        }
        #expect(socket.socket == "/run/mysqld/mysqld.sock")
        #expect(socket.password.isEmpty)
        guard case .mysql(let plain) = try DatabaseDSN(parsing: "mysql://u:p@db/general_db") else {
            Issue.record("expected mysql")
            return
        }
        #expect(plain.port == 3306)
    }

    @Test func sqlite() throws {
        #expect(try DatabaseDSN(parsing: "sqlite:///var/log/ha-sync/ha-sync.db") == .sqlite(path: "/var/log/ha-sync/ha-sync.db"))
        #expect(throws: DatabaseDSN.ParseError.self) { try DatabaseDSN(parsing: "sqlite://relative.db") }
    }

    @Test(arguments: [
        "postgres://u:hunter2@h/db",
        "u:hunter2@tcp(h:99999)/db",
        "u:hunter2@tcp(h:3306)/",
        "mysql://:hunter2@h/db",
        "mysql://u:hunter2@h:port/db",
        "mysql://u:hunter2%zz@h/db",
    ])
    func invalidFormsNeverEchoThePassword(_ text: String) {
        do {
            _ = try DatabaseDSN(parsing: text)
            Issue.record("\(text) must be rejected")
        } catch {
            #expect(!"\(error)".contains("hunter2"))
        }
    }
}

@Suite("Path overlap")
struct PathOverlapTests {
    @Test func normalisation() {
        #expect(PathOverlap.normalize("/a/./b//c/") == "/a/b/c")
        #expect(PathOverlap.normalize("/a/b/../c") == "/a/c")
        #expect(PathOverlap.normalize("/") == "/")
    }

    @Test func overlaps() {
        #expect(PathOverlap.check(source: "/data/a", destination: "/data/ab") == nil)
        #expect(PathOverlap.check(source: "/data/a", destination: "/data/a/b") != nil)
        #expect(PathOverlap.check(source: "/", destination: "/x") != nil)
        #expect(PathOverlap.check(source: "/mnt/dell/media", destination: "/mnt/hp/media") == nil)
    }

    @Test func pairNames() {
        #expect(RunConfiguration.isValidPairName("media"))
        #expect(RunConfiguration.isValidPairName("owncloud-2"))
        #expect(!RunConfiguration.isValidPairName("-media"))
        #expect(!RunConfiguration.isValidPairName("Media"))
        #expect(!RunConfiguration.isValidPairName(String(repeating: "a", count: 53)))
        #expect(RunConfiguration.isValidDirection("dell-to-hp"))
        #expect(!RunConfiguration.isValidDirection("dell to hp"))
    }
}
