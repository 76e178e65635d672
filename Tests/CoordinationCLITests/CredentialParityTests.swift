import Coordination
import CoordinationEtcd
import CoordinationTestSupport
import CoordinationZooKeeper
import Foundation
import Testing

/// Credentials that cannot be meant are refused before any connection, with status 7 and the same
/// words, on ZooKeeper and etcd alike. An empty password file exited 7 on ZooKeeper, but 10 on an
/// etcd with auth on ("no such user, or a wrong password", not naming the file) and 0 on one with
/// auth off; `etcd://bob@host` was refused on ZooKeeper only; `zookeeper://@host` logged in as the
/// digest user '' and locked the keys it created to that user, while etcd warned.
@Suite("credential input is refused alike on ZooKeeper and etcd", .serverLoadLimit)
struct CredentialParityTests {
    /// One way of giving credentials that cannot be meant.
    enum Input: String, CaseIterable, CustomTestStringConvertible {
        case emptyPasswordFile, lineBreakPasswordFile, emptyPasswordFileFromEnvironment, emptyPasswordInConfigFile
        case urlUserWithoutPassword, urlUserWithEmptyPassword, urlAtWithoutUser, emptyUserName

        var testDescription: String { rawValue }

        /// coord's arguments and environment for `url` (a URL without user info); files go into `folder`.
        func invocation(url: String, folder: CoordProcess) throws -> (arguments: [String], environment: [String: String]) {
            func withUserInfo(_ userInfo: String) -> String { url.replacingOccurrences(of: "://", with: "://\(userInfo)@") }
            let store = ["--store", url]
            switch self {
            case .emptyPasswordFile:
                return (store + ["--username", "bob", "--password-file", try folder.write("", to: "password")], [:])
            case .lineBreakPasswordFile:
                return (store + ["--username", "bob", "--password-file", try folder.write("\r\n", to: "password")], [:])
            case .emptyPasswordFileFromEnvironment:
                return (store, ["COORD_USERNAME": "bob", "COORD_PASSWORD_FILE": try folder.write("", to: "password")])
            case .emptyPasswordInConfigFile:
                return (store + ["--config", try folder.write(#"{"username": "bob", "password": ""}"#, to: "coord.json")], [:])
            case .urlUserWithoutPassword:
                return (["--store", withUserInfo("bob")], [:])
            case .urlUserWithEmptyPassword:
                return (["--store", withUserInfo("bob:")], [:])
            case .urlAtWithoutUser:
                return (["--store", withUserInfo("")], [:])
            case .emptyUserName:
                return (store + ["--username", "", "--password-file", try folder.write("pw-1\n", to: "password")], [:])
            }
        }

        /// What the one line on stderr says on every backend, `SCHEME` standing for the URL's scheme
        /// and `FOLDER` for the scratch folder: the problem and where to fix it.
        var refusal: String {
            switch self {
            case .emptyPasswordFile, .lineBreakPasswordFile:
                "coord: password file FOLDER/password from --password-file is empty, and an empty password is refused on ZooKeeper and etcd "
                    + "alike: write the password in the file (an empty one is most often not yet written, or a failed command's output)"
            case .emptyPasswordFileFromEnvironment:
                "coord: password file FOLDER/password from environment variable COORD_PASSWORD_FILE is empty, and an empty password is refused "
                    + "on ZooKeeper and etcd alike: write the password in the file (an empty one is most often not yet written, or a failed command's output)"
            case .emptyPasswordInConfigFile:
                "coord: the password from key 'password' of config file FOLDER/coord.json is empty, and an empty password is refused on "
                    + "ZooKeeper and etcd alike: give the password itself there"
            case .urlUserWithoutPassword, .urlUserWithEmptyPassword:
                "names user 'bob' but \(self == .urlUserWithoutPassword ? "no" : "an empty") password; put it in the store URL "
                    + "(SCHEME://bob:PASSWORD@host/…) or give the password setting (with coord: --password-file, COORD_PASSWORD "
                    + "or COORD_PASSWORD_FILE, 'password' in the config file) (from --store)"
            case .urlAtWithoutUser:
                "has an '@' with no user name before it; write SCHEME://USER:PASSWORD@host/… to log in, or leave out the '@' (from --store)"
            case .emptyUserName:
                "coord: the user name from --username is empty: give the user name, or leave the setting out to connect without credentials"
            }
        }
    }

    @Test("credentials that cannot be meant exit 7 before any connection, in one line that reads the same on ZooKeeper and etcd", arguments: Input.allCases)
    func refusedAlike(_ input: Input) async throws {
        var lines: [String: String] = [:]
        for backend in [TestBackend.zookeeper, .etcd] {
            let handles = try TestHandles(backend)
            try await TestHandles.closing(handles) {
                let url = try #require(backend.url(handles.namespace))
                let folder = try CoordProcess()
                defer { folder.removeDirectory() }
                let (arguments, environment) = try input.invocation(url: url, folder: folder)
                var coord = folder
                coord.environment.merge(environment) { $1 }
                let result = try await coord.run(arguments + ["kv", "ls", "/"])
                #expect(result.status == 7, "\(backend.name): \(result.stderr)")
                #expect(result.stderrLines.count == 1, "\(backend.name): \(result.stderr)")
                let line = (result.stderrLines.first ?? "")
                    .replacingOccurrences(of: folder.directory.path, with: "FOLDER")
                    .replacingOccurrences(of: "\(backend.name)://", with: "SCHEME://")
                #expect(line.hasSuffix(input.refusal), "\(backend.name): \(line)")
                // The same words but the URL itself (its hosts and namespace).
                lines[backend.name] = line.replacingOccurrences(of: url.replacingOccurrences(of: "\(backend.name)://", with: ""), with: "HOSTS")
                #expect(!result.stderr.contains("pw-1"), "the password never shows")
            }
        }
        #expect(lines["zookeeper"] == lines["etcd"], "\(lines)")
    }

    /// A store URL's credentials are checked by each backend: once, in one place, for both.
    @Test("both backends' URL readers refuse the same user info with the same words", arguments: ["bob", "bob:", "", ":pw-2"])
    func urlReadersAgree(_ userInfo: String) throws {
        let zookeeper = #expect(throws: CoordinationError.self) {
            _ = try ZooKeeperConfiguration(url: StoreURL("zookeeper://\(userInfo)@h1:1/ns"))
        }
        let etcd = #expect(throws: CoordinationError.self) { _ = try EtcdConfiguration(url: StoreURL("etcd://\(userInfo)@h1:1/ns")) }
        #expect(zookeeper?.code == .invalidConfiguration && etcd?.code == .invalidConfiguration)
        let messages = [(zookeeper, "zookeeper://"), (etcd, "etcd://")].map { error, scheme in
            (error?.message ?? "").replacingOccurrences(of: scheme, with: "SCHEME://")
        }
        #expect(messages[0] == messages[1], "\(messages)")
        #expect(!messages.joined().contains("pw-2"))
    }

    /// Settings given by hand, not through a URL: ZooKeeper logged in as the digest `bob:` and
    /// locked the keys it created to it, etcd sent the login and reported etcd's refusal (10).
    /// Refused alike before any connection: the servers named here do not exist.
    @Test("stores opened from settings by hand refuse credentials not in pairs alike, before connecting", arguments: [
        ("bob", nil), ("bob", ""), ("", "pw-3"), (nil, "pw-3"),
    ] as [(String?, String?)])
    func storesOpenedByHandAgree(user: String?, password: String?) async throws {
        let zookeeper = await #expect(throws: CoordinationError.self) {
            _ = try await ZooKeeperStore(configuration: ZooKeeperConfiguration(hosts: ["127.0.0.1:1"], user: user, password: password))
        }
        let etcd = await #expect(throws: CoordinationError.self) {
            _ = try await EtcdStore(configuration: EtcdConfiguration(endpoints: ["127.0.0.1:1"], user: user, password: password))
        }
        #expect(zookeeper?.code == .invalidConfiguration && etcd?.code == .invalidConfiguration, "\(String(describing: zookeeper)) \(String(describing: etcd))")
        let messages = [(zookeeper, "ZooKeeper"), (etcd, "etcd")].map { error, store in
            (error?.message ?? "").replacingOccurrences(of: store, with: "STORE")
        }
        #expect(messages[0] == messages[1], "\(messages)")
        #expect(!messages.joined().contains("pw-3"))
    }
}
