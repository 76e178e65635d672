import Foundation

/// kazoo (PyPI: `pip install kazoo`), a ZooKeeper client no one here wrote, driven from tests to
/// cross-check what the stores read and write.
public enum Kazoo {
    public static let install = "python3 -m pip install kazoo"

    /// Reads or writes every path given on stdin, as JSON `{path: base64}`, under the chroot-less
    /// absolute paths; prints the same shape for reads. Writes make missing ancestors. `delete`
    /// removes each path of a list and everything beneath (a missing one is no error): the
    /// clean-up of znodes no key can name when a test of the store's own delete failed.
    static let script = """
        import base64, json, sys
        from kazoo.client import KazooClient
        mode, hosts = sys.argv[1], sys.argv[2]
        request = json.load(sys.stdin)
        zk = KazooClient(hosts=hosts, timeout=10)
        zk.start(timeout=10)
        try:
            if mode == "read":
                out = {}
                for path in request:
                    data, stat = zk.get(path)
                    out[path] = {"data": base64.b64encode(data or b"").decode(), "version": stat.version,
                                 "czxid": stat.czxid, "null": data is None}
                print(json.dumps(out))
            elif mode == "delete":
                for path in request:
                    zk.delete(path, recursive=True)
                print("{}")
            else:
                for path, value in request.items():
                    zk.create(path, base64.b64decode(value), makepath=True)
                print("{}")
        finally:
            zk.stop()
            zk.close()
        """

    /// What `read` prints per path.
    public struct Read: Decodable, Sendable {
        public var data: String
        public var version: Int64
        public var czxid: Int64
        public var null: Bool
    }

    /// Runs the script in `mode` ("read" or "delete" with a list of paths, "write" with `{path: base64}`).
    public static func run(_ mode: String, _ request: some Encodable, hosts: [String] = TestEnvironment.zookeeperHosts) async throws -> Data {
        try await PythonScript.run(script, [mode, hosts.joined(separator: ",")], input: try JSONEncoder().encode(request))
    }
}
