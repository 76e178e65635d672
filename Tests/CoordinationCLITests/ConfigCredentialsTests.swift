import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// Credentials, TLS files and config files as a user's real set-up gives them: settings meant for
/// another store, pipes, relative paths. Each case failed before (the audit's repro in its comment).
@Suite("coord's credential settings")
struct ConfigCredentialsTests {
    /// `COORD_USERNAME=bob coord run --until-idle jobs.json` and a config file made for a real
    /// store used with `--store memory://` exited 7: "memory:// takes no credentials"; a config
    /// file's `tlsCa` shut out a `--store zookeeper://…` the same way.
    @Test("a user name, password or TLS file from the environment or a config file that the store cannot use is left out, with a note")
    func settingsForAnotherStoreAreLeftOut() async throws {
        let coord = try CoordProcess(environment: ["COORD_USERNAME": "bob"])
        defer { coord.removeDirectory() }
        let exported = try await coord.run(["kv", "ls", "/"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stderrLines == [
            "coord: note: user 'bob' from environment variable COORD_USERNAME is not used: it applies to ZooKeeper and etcd stores, "
                + "not memory:// (which takes no credentials)",
        ])
        let config = try coord.write(#"{"store": "etcds://127.0.0.1:2379/app", "tlsCa": "/ca.pem", "password": "pw-7"}"#, to: "other.json")
        let check = try await coord.run(["--config", config, "--store", "memory://", "config", "check"])
        #expect(check.status == 0, "\(check.stderr)")
        let lines = check.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("TLS CA ") && $0.hasSuffix("; not applied: only etcds:// stores use it)") }, "\(check.stdoutText)")
        #expect(lines.contains { $0.hasPrefix("username ") && $0.hasSuffix("; not applied: memory:// takes no credentials)") }, "\(check.stdoutText)")
        #expect(lines.contains { $0.hasPrefix("store ") && $0.hasSuffix("(--store)") }, "nothing that follows is applied: \(check.stdoutText)")
        #expect(check.stderrLines.contains("coord: note: TLS file /ca.pem from key 'tlsCa' of config file \(config) is not used: it applies only to an etcds:// store, not memory://"), "\(check.stderr)")
        #expect(!check.stdoutText.contains("pw-7") && !check.stderr.contains("pw-7"))
    }

    /// `COORD_PASSWORD_FILE=missing coord kv ls /` exited 7 on memory://, where no password is used.
    @Test("a password file is read only when it is used, and a failure says why")
    func passwordFileReadOnlyWhenUsed() async throws {
        let coord = try CoordProcess(environment: ["COORD_PASSWORD_FILE": "/nonexistent/pw"])
        defer { coord.removeDirectory() }
        let unused = try await coord.run(["kv", "ls", "/"])
        #expect(unused.status == 0, "\(unused.stderr)")
        let used = try await coord.run(["--store", "etcd://127.0.0.1:1/ns", "--username", "bob", "kv", "ls", "/"])
        #expect(used.status == 7, "\(used.stderr)")
        #expect(used.stderrLines == ["coord: password file /nonexistent/pw from environment variable COORD_PASSWORD_FILE cannot be read: no such file"])
        let directory = try await coord.run(["--store", "etcd://127.0.0.1:1/ns", "--username", "bob", "--password-file", "/tmp", "kv", "ls", "/"])
        #expect(directory.stderrLines == ["coord: password file /tmp from --password-file cannot be read: it is a directory"], "\(directory.stderr)")
    }

    /// `--password-file <(pass show db)` and `--config /dev/stdin` were refused ("cannot be read",
    /// an NSError dump); a config file's relative `passwordFile` was looked for in the current
    /// directory, so a config in ~/.config/coord could not name the file beside it.
    @Test("a password file or config file may be a pipe; a config file's relative password file is beside it")
    func pipesAndRelativePaths() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let fromStdin = try await coord.run(
            ["--config", "/dev/stdin", "config", "check"], input: Array(#"{"store": "memory://piped", "logLevel": "error"}"#.utf8))
        #expect(fromStdin.status == 0, "\(fromStdin.stderr)")
        #expect(fromStdin.stdoutText.contains("memory://piped"), "\(fromStdin.stdoutText)")
        #expect(fromStdin.stdoutText.contains("(read, from --config)"), "\(fromStdin.stdoutText)")

        // A user and a password from a pipe: the ZooKeeper URL is checked before any connection,
        // so an empty password read from the pipe would be refused here, a real one is not.
        let piped = try await coord.run(
            ["--store", "zookeeper://127.0.0.1:1/ns", "--username", "bob", "--password-file", "/dev/stdin", "--session-ttl", "2s", "config", "check"],
            input: Array("pw-8\n".utf8), timeout: .seconds(30))
        #expect(piped.status == 9, "read, applied, then the connection fails: \(piped.stderr)")
        #expect(piped.stdoutText.contains("zookeeper://bob:***@127.0.0.1:1/ns"), "\(piped.stdoutText)")

        let folder = try coord.write("", to: "conf/keep")
        let configFolder = URL(fileURLWithPath: folder).deletingLastPathComponent().path
        _ = try coord.write("pw-9\n", to: "conf/secret")
        let config = try coord.write(
            #"{"store": "zookeeper://127.0.0.1:1/ns", "username": "app", "passwordFile": "secret"}"#, to: "conf/coord.json")
        let relative = try await coord.run(["--config", config, "--session-ttl", "2s", "config", "check"], timeout: .seconds(30))
        #expect(relative.stdoutText.contains("\(configFolder)/secret"), "\(relative.stdoutText)")
        #expect(relative.status == 9, "\(relative.stderr)")
        #expect(![piped.stdoutText, piped.stderr, relative.stdoutText, relative.stderr].contains { $0.contains("pw-") })
    }

    /// `zookeeper://bob:@host`, an empty password file, and `--username bob` in place of the URL's
    /// `alice:pw` (which then logged in as bob with alice's password) were all taken. An empty
    /// password file was then refused as the store URL's ("names user 'bob' but an empty password;
    /// put it in the store URL … or give the password setting"), naming the wrong thing to fix.
    @Test("a user name and a password go together: an empty one, or the URL's password for another user, is refused")
    func userAndPasswordGoTogether() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let empty = try coord.write("\n", to: "empty")
        let emptyFile = try await coord.run(["--store", "zookeeper://127.0.0.1:1/ns", "--username", "bob", "--password-file", empty, "kv", "ls", "/"])
        #expect(emptyFile.status == 7, "\(emptyFile.stderr)")
        #expect(emptyFile.stderrLines == [
            "coord: password file \(empty) from --password-file is empty, and an empty password is refused on ZooKeeper and etcd alike: "
                + "write the password in the file (an empty one is most often not yet written, or a failed command's output)",
        ])
        // An empty password from a config file, and coord migrate's URL user with an empty password file, name their setting too.
        let config = try coord.write(#"{"username": "bob", "password": ""}"#, to: "empty-password.json")
        let emptyInFile = try await coord.run(["--config", config, "--store", "zookeeper://127.0.0.1:1/ns", "kv", "ls", "/"])
        #expect(emptyInFile.status == 7, "\(emptyInFile.stderr)")
        #expect(emptyInFile.stderrLines == [
            "coord: the password from key 'password' of config file \(config) is empty, and an empty password is refused on ZooKeeper "
                + "and etcd alike: give the password itself there",
        ])
        let migrate = try await coord.run([
            "--password-file", empty, "migrate", "--from", "zookeeper://bob@127.0.0.1:1/ns", "--to", "memory://", "--dry-run",
        ])
        #expect(migrate.status == 7, "\(migrate.stderr)")
        #expect(migrate.stderrLines.last?.hasPrefix("coord: password file \(empty) from --password-file is empty, and an empty password is refused") == true,
            "\(migrate.stderr)")
        let otherUser = try await coord.run(["--store", "zookeeper://alice:pw-10@127.0.0.1:1/ns", "--username", "bob", "kv", "ls", "/"])
        #expect(otherUser.status == 7, "\(otherUser.stderr)")
        #expect(otherUser.stderrLines == [
            "coord: user 'bob' from --username needs a password, and none is given (the store URL's password is for its user, 'alice'): "
                + "give the password with --password-file, COORD_PASSWORD or COORD_PASSWORD_FILE, or 'password' in the config file",
        ])
        let both = try CoordProcess(environment: ["COORD_PASSWORD": "pw-11", "COORD_PASSWORD_FILE": empty])
        defer { both.removeDirectory() }
        let check = try await both.run(["--store", "zookeeper://127.0.0.1:1/ns", "--username", "bob", "--session-ttl", "2s", "config", "check"], timeout: .seconds(30))
        let lines = check.stdoutText.split(separator: "\n").map(String.init)
        #expect(
            lines.contains { $0.hasPrefix("password file ") && $0.hasSuffix("; not applied: the password from environment variable COORD_PASSWORD is used instead)") },
            "\(check.stdoutText)")
        #expect(lines.contains { $0.hasPrefix("password ") && !$0.contains("not applied") }, "\(check.stdoutText)")
        #expect(![emptyFile.stderr, otherUser.stderr, check.stdoutText, check.stderr].contains { $0.contains("pw-1") })
    }

    /// `--config ""` said "config file  (from --config) does not exist"; a relative XDG_CONFIG_HOME
    /// was used (the XDG spec says to ignore it); "none found" did not say where coord looked.
    @Test("where a config file is looked for: an empty --config is refused, a relative XDG_CONFIG_HOME ignored, and config check says where it looked")
    func configFileLookup() async throws {
        let coord = try CoordProcess(environment: ["XDG_CONFIG_HOME": "relative"])
        defer { coord.removeDirectory() }
        _ = try coord.write(#"{"store": "memory://from-relative-xdg"}"#, to: "relative/coord/config.json")
        let empty = try await coord.run(["--config", "", "kv", "ls", "/"])
        #expect(empty.status == 7)
        #expect(empty.stderrLines == ["coord: --config names no config file; give its path, or leave the option out"])
        let check = try await coord.run(["config", "check"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(!check.stdoutText.contains("from-relative-xdg"), "\(check.stdoutText)")
        let fileLine = check.stdoutText.split(separator: "\n").first { $0.hasPrefix("config file ") }.map(String.init) ?? ""
        #expect(fileLine.hasSuffix("(none found at \(coord.directory.path)/coord.json or \(coord.directory.path)/.config/coord/config.json)"), "\(fileLine)")
    }

    /// `echo v | COORD_PASSWORD_FILE=/dev/stdin coord kv put /k` stored "" with status 0: the
    /// password file was read up front though no user name went with it, and stdin with it.
    @Test("a password file that is stdin is read only when used, and a command reading stdin after it is told why it is empty")
    func passwordFromStdin() async throws {
        let handles = try TestHandles(.etcd)
        try await TestHandles.closing(handles) {
            let url = try #require(TestBackend.etcd.url(handles.namespace))
            let coord = try CoordProcess(environment: ["COORD_PASSWORD_FILE": "/dev/stdin"])
            defer { coord.removeDirectory() }
            let unused = try await coord.run(["--store", url, "kv", "put", "/k"], input: Array("piped-value".utf8))
            #expect(unused.status == 0, "\(unused.stderr)")
            let read = try await coord.run(["--store", url, "kv", "get", "/k"])
            #expect(read.stdoutText.hasPrefix("piped-value"), "the value, not the password file, got stdin: \(read.stdoutText)")
            let used = try await coord.run(["--store", url, "--username", "bob", "kv", "put", "/k2"], input: Array("pw-12\n".utf8))
            #expect(used.status == 64, "\(used.stderr)")
            #expect(used.stderr.contains("standard input cannot be read: it was read already, for the password file"), "\(used.stderr)")
        }
    }

    /// `COORD_PASSWORD=x --store etcd://alice:s@h --username bob` said bob had no password; a
    /// config file's user and password, the user overruled by the URL's, gave bob's password to alice.
    @Test("a password goes with the user it was given with: to a user who replaces the URL's, never to the URL's user instead of an overruled one")
    func passwordsFollowTheirUser() async throws {
        let coord = try CoordProcess(environment: ["COORD_PASSWORD": "pw-13"])
        defer { coord.removeDirectory() }
        let replaced = try await coord.run(
            ["--store", "etcd://alice:pw-14@127.0.0.1:1/ns", "--username", "bob", "--session-ttl", "2s", "config", "check"], timeout: .seconds(30))
        #expect(replaced.stdoutText.contains("etcd://bob:***@127.0.0.1:1/ns"), "\(replaced.stdoutText) \(replaced.stderr)")
        #expect(replaced.status == 9, "the settings are taken, then nothing answers: \(replaced.stderr)")

        let other = try CoordProcess(environment: ["COORD_STORE": "zookeeper://alice@127.0.0.1:1/ns"])
        defer { other.removeDirectory() }
        let config = try other.write(#"{"username": "bob", "password": "pw-15"}"#, to: "bob.json")
        let overruled = try await other.run(["--config", config, "config", "check"])
        let lines = overruled.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("password ") && $0.hasSuffix("not applied: it goes with user 'bob', who is not applied)") }, "\(overruled.stdoutText)")
        #expect(lines.contains { $0.hasPrefix("store ") && $0.contains("zookeeper://alice@127.0.0.1:1/ns") }, "\(overruled.stdoutText)")
        #expect(![replaced.stdoutText, replaced.stderr, overruled.stdoutText, overruled.stderr].contains { $0.contains("pw-1") })
    }

    @Test("a store URL that begins or ends with a space, or a config value that is not a string, is refused by name")
    func spacesAndNonStrings() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let spaced = try await coord.run(["--store", "memory://x/ns ", "kv", "ls", "/"])
        #expect(spaced.status == 7)
        #expect(spaced.stderrLines == ["coord: store URL 'memory://x/ns ' begins or ends with a space; remove it (from --store)"])
        let config = try coord.write(#"{"store": null}"#, to: "null.json")
        let null = try await coord.run(["--config", config, "kv", "ls", "/"])
        #expect(null.status == 7)
        #expect(null.stderrLines == [#"coord: config file \#(config): key 'store' must be a string, e.g. "store": "etcd://127.0.0.1:2379/myapp""#])
    }

    /// `COORD_TLS_CA=/missing coord --store etcds://… kv ls /` said "store URL option
    /// cacert=/missing: no such file (from --store)": the URL given was fine, and the variable to
    /// fix went unnamed. A TLS file a setting put in the URL is refused with that setting's name.
    @Test("a TLS file that a setting names is refused naming that setting, not the store URL")
    func tlsFileProblemNamesItsSetting() async throws {
        let coord = try CoordProcess(environment: ["COORD_TLS_CA": "/nonexistent/ca.pem"])
        defer { coord.removeDirectory() }
        let store = "etcds://127.0.0.1:1/app"
        let fromEnvironment = try await coord.run(["--store", store, "kv", "ls", "/"])
        #expect(fromEnvironment.status == 7, "\(fromEnvironment.stderr)")
        #expect(fromEnvironment.stderrLines == [
            "coord: store URL option cacert=/nonexistent/ca.pem: no such file (from environment variable COORD_TLS_CA)",
        ])
        // The URL's cacert (a file that exists) overrules the weaker COORD_TLS_CA; the key needs a certificate.
        let key = try coord.write("not a key", to: "client.key")
        let keyAlone = try await coord.run(["--store", "\(store)?cacert=\(key)", "--tls-key", key, "kv", "ls", "/"])
        #expect(keyAlone.status == 7, "\(keyAlone.stderr)")
        #expect(keyAlone.stderrLines.count == 1 && keyAlone.stderr.hasSuffix("give the certificate too (from --tls-key)\n"), "\(keyAlone.stderr)")
        // The URL's own file stays the URL's.
        let own = try await coord.run(["--store", "\(store)?cacert=/nonexistent/own.pem", "kv", "ls", "/"])
        #expect(own.stderrLines == ["coord: store URL option cacert=/nonexistent/own.pem: no such file (from --store)"], "\(own.stderr)")
    }

    /// `COORD_USERNAME=$'bob\n'` (a value read with its line break) split the note about it over
    /// two lines: notes are one line each, as failures are.
    @Test("a note quoting a setting with a line break or an escape is one line")
    func noteIsOneLine() async throws {
        let coord = try CoordProcess(environment: ["COORD_USERNAME": "bob\n", "COORD_TLS_CA": "/ca\u{1b}[31m.pem"])
        defer { coord.removeDirectory() }
        let result = try await coord.run(["kv", "ls", "/"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderrLines == [
            "coord: note: TLS file /ca\\u{1b}[31m.pem from environment variable COORD_TLS_CA is not used: it applies only to an etcds:// store, not memory://",
            "coord: note: user 'bob ' from environment variable COORD_USERNAME is not used: it applies to ZooKeeper and etcd stores, "
                + "not memory:// (which takes no credentials)",
        ], "\(result.stderr.debugDescription)")
    }
}
