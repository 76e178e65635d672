/// The peers `coord bench` compares against: Python clients no one here wrote, run as child
/// processes (`python3 -c SCRIPT ARGS`) against the same server, doing the same loops as the
/// Swift side. Each prints one JSON object on stdout:
/// `{"create": [seconds…], "get": […], "set": […], "delete": […], "pipelined": ops_per_second}`.
/// Arguments: hosts, key prefix (the bench namespace), operations, warm-up, in flight, seconds.
enum BenchPeerScripts {
    /// What both scripts share: argument parsing, the timed loops and the threaded pipelined loop.
    static let common = #"""
    import json, sys, threading, time
    hosts, prefix = sys.argv[1], sys.argv[2]
    operations, warmup, in_flight, seconds = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    value = b"v" * 32

    def timed(call, keys):
        samples = []
        for key in keys:
            start = time.perf_counter()
            call(key)
            samples.append(time.perf_counter() - start)
        return samples

    def sequential(create, get, set_, delete):
        warm = ["%s/peer/w-%d" % (prefix, i) for i in range(warmup)]
        for key in warm:
            create(key); get(key); set_(key); delete(key)
        keys = ["%s/peer/k-%d" % (prefix, i) for i in range(operations)]
        return {"create": timed(create, keys), "get": timed(get, keys),
                "set": timed(set_, keys), "delete": timed(delete, keys)}

    def pipelined(operation_for_thread):
        global stop
        counts = [0] * in_flight
        ready = threading.Barrier(in_flight + 1)
        def loop(index, operation):
            ready.wait()
            count = 0
            while time.perf_counter() < stop:
                operation()
                count += 1
            counts[index] = count
        operations_ = [operation_for_thread(i) for i in range(in_flight)]
        threads = [threading.Thread(target=loop, args=(i, operations_[i])) for i in range(in_flight)]
        for thread in threads: thread.start()
        started = time.perf_counter()
        stop = started + seconds
        ready.wait()
        for thread in threads: thread.join()
        return sum(counts) / (time.perf_counter() - started)
    stop = 0.0

    """#

    /// kazoo: synchronous calls for the sequential loops, one thread per operation in flight doing
    /// `get` on its own znode for the pipelined loop (one shared connection, as on the Swift side).
    static let kazoo = common + #"""
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=10)
    zk.ensure_path(prefix + "/peer")
    result = sequential(lambda k: zk.create(k, value), lambda k: zk.get(k),
                        lambda k: zk.set(k, value), lambda k: zk.delete(k))
    pipe = ["%s/peer/p-%d" % (prefix, i) for i in range(in_flight)]
    for key in pipe: zk.create(key, value)
    result["pipelined"] = pipelined(lambda i: (lambda: zk.get(pipe[i])))
    result["pipelinedOperation"] = "get"
    zk.delete(prefix + "/peer", recursive=True)
    zk.stop(); zk.close()
    print(json.dumps(result))
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
    result = sequential(create, lambda k: etcd.get(k), lambda k: etcd.put(k, value), lambda k: etcd.delete(k))
    clients = [client() for _ in range(in_flight)]
    def put_for(i):
        key = "%s/peer/p-%d" % (prefix, i)
        return lambda: clients[i].put(key, value)
    result["pipelined"] = pipelined(put_for)
    result["pipelinedOperation"] = "put"
    for i in range(in_flight): etcd.delete("%s/peer/p-%d" % (prefix, i))
    print(json.dumps(result))
    """#
}
