/// The peers `coord bench` compares against: Python clients no one here wrote, run as child
/// processes (`python3 -c SCRIPT ARGS`) against the same server, doing the same loops as the
/// Swift side. Arguments: hosts, key prefix (the bench namespace), warm-up operations.
///
/// A peer is driven over stdin and stdout, one line each way, so that its sequential loops run
/// in chunks alternating with coord's (and the C client's): load that drifts during a run then
/// weighs on every client alike. After connecting and warming up it prints `ready`; then, per
/// request line:
/// - `create|get|set|delete FIRST COUNT`: that operation on keys `k-FIRST`… in turn, answered
///   with a JSON list of the seconds each call took;
/// - `pipelined IN_FLIGHT SECONDS`: the pipelined loop, answered with
///   `{"pipelined": ops_per_second, "pipelinedOperation": "get"|"put"}`;
/// - `done`: cleans up and exits.
enum BenchPeerScripts {
    /// What both scripts share: the warm-up, the timed chunks, the threaded pipelined loop and
    /// the request loop. Each script defines `operations` (name to call), `pipelined_for` and
    /// `clean_up`, then calls `serve()`.
    static let common = #"""
    import json, sys, threading, time
    hosts, prefix, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3])
    value = b"v" * 32

    def answer(payload):
        sys.stdout.write((payload if isinstance(payload, str) else json.dumps(payload)) + "\n")
        sys.stdout.flush()

    def timed(call, first, count):
        samples = []
        for index in range(first, first + count):
            key = "%s/peer/k-%d" % (prefix, index)
            start = time.perf_counter()
            call(key)
            samples.append(time.perf_counter() - start)
        return samples

    def pipelined(operation_for_thread, in_flight, seconds):
        counts = [0] * in_flight
        ready = threading.Barrier(in_flight + 1)
        stop = [0.0]
        def loop(index, operation):
            ready.wait()
            count = 0
            while time.perf_counter() < stop[0]:
                operation()
                count += 1
            counts[index] = count
        operations_ = [operation_for_thread(i) for i in range(in_flight)]
        threads = [threading.Thread(target=loop, args=(i, operations_[i])) for i in range(in_flight)]
        for thread in threads: thread.start()
        started = time.perf_counter()
        stop[0] = started + seconds
        ready.wait()
        for thread in threads: thread.join()
        return sum(counts) / (time.perf_counter() - started)

    def serve(operations, pipelined_for, pipelined_operation, clean_up):
        for index in range(warmup):
            key = "%s/peer/w-%d" % (prefix, index)
            for name in ("create", "get", "set", "delete"): operations[name](key)
        answer("ready")
        for line in sys.stdin:
            words = line.split()
            if not words: continue
            if words[0] in operations:
                answer(timed(operations[words[0]], int(words[1]), int(words[2])))
            elif words[0] == "pipelined":
                in_flight, seconds = int(words[1]), float(words[2])
                rate = pipelined(lambda i: pipelined_for(i, in_flight), in_flight, seconds)
                answer({"pipelined": rate, "pipelinedOperation": pipelined_operation})
            elif words[0] == "done":
                break
            else:
                raise SystemExit("unknown request: " + line.strip())
        clean_up()

    """#

    /// kazoo: synchronous calls for the sequential loops, one thread per operation in flight doing
    /// `get` on its own znode for the pipelined loop (one shared connection, as on the Swift side).
    static let kazoo = common + #"""
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=10)
    zk.ensure_path(prefix + "/peer")
    pipe = []
    def get_for(i, in_flight):
        while len(pipe) < in_flight:
            pipe.append("%s/peer/p-%d" % (prefix, len(pipe)))
            zk.create(pipe[-1], value)
        return lambda: zk.get(pipe[i])
    def clean_up():
        zk.delete(prefix + "/peer", recursive=True)
        zk.stop(); zk.close()
    serve({"create": lambda k: zk.create(k, value), "get": lambda k: zk.get(k),
           "set": lambda k: zk.set(k, value), "delete": lambda k: zk.delete(k)},
          get_for, "get", clean_up)
    """#

    /// etcd3gw: `create` (a create-revision-0 transaction), `get` (range), `put`, `delete`; the
    /// pipelined loop is one thread per operation in flight doing `put` on its own key, each
    /// thread with its own client (a requests session is not meant to be shared across threads).
    static let etcd3gw = common + #"""
    from etcd3gw.client import Etcd3Client
    host, port = hosts.split(",")[0].rsplit(":", 1)
    def client():
        return Etcd3Client(host=host, port=int(port), timeout=10)
    etcd = client()
    def create(key):
        if not etcd.create(key, value): raise SystemExit("create failed: " + key)
    clients = []
    def put_for(i, in_flight):
        while len(clients) < in_flight: clients.append(client())
        key = "%s/peer/p-%d" % (prefix, i)
        return lambda: clients[i].put(key, value)
    def clean_up():
        for i in range(len(clients)): etcd.delete("%s/peer/p-%d" % (prefix, i))
    serve({"create": create, "get": lambda k: etcd.get(k), "set": lambda k: etcd.put(k, value),
           "delete": lambda k: etcd.delete(k)},
          put_for, "put", clean_up)
    """#
}
