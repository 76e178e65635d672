import CoordinationLocalServers
import Foundation
import Testing

/// `coord kv` against a private etcd with authentication enabled (the shared one's auth is never touched).
@Suite("coord against an etcd with auth enabled", .serverLoadLimit)
struct EtcdLoginCommandTests {
    /// With a '/', which a store URL's password must percent-encode.
    static let password = "pw/\(UUID().uuidString.prefix(8))"

    /// A wrong password said "etcd refused the request: etcdserver: authentication failed,
    /// invalid user ID or password": neither which user was refused nor where the password came from.
    @Test("a wrong password exits 10 naming the user and where to fix it, never the password; the right one from a file works, and in a store URL with its '/' written %2F", .etcdBinary)
    func wrongPasswordNamesTheUserAndTheFix() async throws {
        let cluster = EtcdCluster(size: 1, folderPrefix: "coord-login-")
        defer { cluster.stopAll() }
        try await cluster.start(cluster.members[0])
        try await cluster.waitUntilServing()
        let endpoint = cluster.endpoints[0], port = cluster.members[0].clientPort
        for (path, body) in [
            ("/v3/auth/user/add", #"{"name":"root","password":"\#(Self.password)"}"#), ("/v3/auth/role/add", #"{"name":"root"}"#),
            ("/v3/auth/user/grant", #"{"user":"root","role":"root"}"#), ("/v3/auth/enable", "{}"),
        ] {
            _ = try #require(await LoopbackHTTP.postJSON(port: port, path: path, body: body, timeout: .seconds(5)), "\(path)")
        }

        let coord = try CoordProcess(environment: ["COORD_STORE": "etcd://\(endpoint)/app", "COORD_USERNAME": "root"])
        defer { coord.removeDirectory() }
        let wrongFile = try coord.write("not-\(Self.password)\n", to: "wrong")
        let wrong = try await coord.run(["--password-file", wrongFile, "kv", "put", "/a", "1"])
        #expect(wrong.status == 10, "\(wrong.stderr)")
        #expect(wrong.stderrLines.count == 1, "\(wrong.stderr)")
        #expect(wrong.stderr.hasPrefix("coord: etcd at http://\(endpoint) refused the login of user 'root': no such user, or a wrong password; check"), "\(wrong.stderr)")
        #expect(wrong.stderr.contains("--password-file") && wrong.stderr.contains("COORD_PASSWORD"), "\(wrong.stderr)")
        #expect(!wrong.stderr.contains(Self.password), "the password never shows")

        let rightFile = try coord.write(Self.password + "\n", to: "right")
        let put = try await coord.run(["--password-file", rightFile, "kv", "put", "/a", "1"])
        #expect(put.status == 0, "\(put.stderr)")
        let get = try await coord.run(["--password-file", rightFile, "kv", "get", "/a"])
        #expect(get.status == 0 && get.stdoutText == "1", "\(get.stderr)")

        // In a store URL the password's '/' is written %2F, and decoded before the login; as it
        // is, it is refused before any I/O, with a message that says to write %2F.
        let encoded = Self.password.replacingOccurrences(of: "/", with: "%2F")
        let inURL = try await coord.run(["--store", "etcd://root:\(encoded)@\(endpoint)/app", "config", "check"])
        #expect(inURL.status == 0 && inURL.stdoutText.contains("ok: etcd"), "\(inURL.stdoutText)\(inURL.stderr)")
        let raw = try await coord.run(["--store", "etcd://root:\(Self.password)@\(endpoint)/app", "config", "check"])
        #expect(raw.status == 7 && raw.stderr.contains("percent-encode any '/', '?' or '#' in them (%2F, %3F, %23)"), "\(raw.stderr)")
        let secretPart = try #require(Self.password.split(separator: "/").last)
        #expect(!inURL.stdoutText.contains(secretPart) && !inURL.stderr.contains(secretPart) && !raw.stderr.contains(secretPart))
    }

    /// A refusal for want of a grant said "etcd refused the request: etcdserver: permission denied; a
    /// user limited to a prefix needs…" without the user: with the user from COORD_USERNAME or a
    /// config file, out of sight, the reader could not tell which role to grant.
    @Test("a user whose role does not grant the namespace exits 10 in one line naming that user and the grant to give, never the password", .etcdBinary)
    func refusedGrantNamesTheUser() async throws {
        let cluster = EtcdCluster(size: 1, folderPrefix: "coord-grant-")
        defer { cluster.stopAll() }
        try await cluster.start(cluster.members[0])
        try await cluster.waitUntilServing()
        let endpoint = cluster.endpoints[0], port = cluster.members[0].clientPort
        func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        for (path, body) in [
            ("/v3/auth/user/add", #"{"name":"root","password":"\#(Self.password)"}"#), ("/v3/auth/role/add", #"{"name":"root"}"#),
            ("/v3/auth/user/grant", #"{"user":"root","role":"root"}"#),
            ("/v3/auth/user/add", #"{"name":"bob","password":"\#(Self.password)"}"#), ("/v3/auth/role/add", #"{"name":"other"}"#),
            ("/v3/auth/role/grant", #"{"name":"other","perm":{"permType":"READWRITE","key":"\#(base64("/other"))","range_end":"\#(base64("/othes"))"}}"#),
            ("/v3/auth/user/grant", #"{"user":"bob","role":"other"}"#), ("/v3/auth/enable", "{}"),
        ] {
            _ = try #require(await LoopbackHTTP.postJSON(port: port, path: path, body: body, timeout: .seconds(5)), "\(path)")
        }

        let coord = try CoordProcess(environment: ["COORD_STORE": "etcd://\(endpoint)/app", "COORD_USERNAME": "bob"])
        defer { coord.removeDirectory() }
        let passwordFile = try coord.write(Self.password + "\n", to: "password")
        let refused = try await coord.run(["--password-file", passwordFile, "kv", "get", "/a"])
        #expect(refused.status == 10, "\(refused.stderr)")
        #expect(refused.stderrLines.count == 1, "\(refused.stderr)")
        // Which server refused, as the login's refusal says: stores may come from several config files.
        #expect(refused.stderr.hasPrefix("coord: etcd at http://\(endpoint) refused the request: etcdserver: permission denied to user 'bob'; "), "\(refused.stderr)")
        #expect(refused.stderr.contains("etcdctl role grant-permission ROLE --prefix=true readwrite coordination/sequence/app"), "\(refused.stderr)")
        #expect(!refused.stderr.contains(Self.password), "the password never shows")
        // Where the role does grant it, the same user gets in.
        let own = try await coord.run(["--password-file", passwordFile, "--namespace", "/other", "kv", "put", "/a", "1"])
        #expect(own.status == 0, "\(own.stderr)")
    }
}
