/// Why etcd refused to serve a watch stream, read from either form it takes: an `error` object
/// (the gateway's, with a gRPC code), or a `canceled` result whose `cancel_reason` is a gRPC
/// status in words. etcd 3.4 refuses a watch whose token expired or was lost (simple tokens live
/// in the member's memory, so a restart loses them) in the second form:
/// `rpc error: code = Unauthenticated desc = etcdserver: invalid auth token`.
struct WatchRefusal: Equatable {
    let grpcCode: Int
    let message: String

    init(grpcCode: Int, message: String) {
        self.grpcCode = grpcCode
        self.message = message
    }

    /// The refusal a `cancel_reason` states; `nil` when it states no gRPC status.
    init?(cancelReason reason: String) {
        guard let codeStart = reason.range(of: "code = ") else { return nil }
        let rest = reason[codeStart.upperBound...]
        let name = rest.prefix { !$0.isWhitespace }
        guard let code = Self.codes[String(name)] else { return nil }
        grpcCode = code
        message = rest.range(of: "desc = ").map { String(rest[$0.upperBound...]) } ?? reason
    }

    /// The HTTP status the gateway gives the same refusal of a plain request.
    var httpStatus: Int {
        switch grpcCode {
        case 3: 400
        case 7: 403
        case 16: 401
        case 14: 503
        default: 500
        }
    }

    /// The same refusal as a plain request's, from the member at `endpoint`.
    func failure(at endpoint: String?) -> GatewayFailure {
        .status(httpStatus, grpcCode: grpcCode, message: Gateway.oneLine(message) ?? "", endpoint: endpoint)
    }

    /// gRPC's status code names, as `status.Code.String()` spells them.
    private static let codes: [String: Int] = [
        "Canceled": 1, "Unknown": 2, "InvalidArgument": 3, "DeadlineExceeded": 4, "NotFound": 5, "AlreadyExists": 6,
        "PermissionDenied": 7, "ResourceExhausted": 8, "FailedPrecondition": 9, "Aborted": 10, "OutOfRange": 11,
        "Unimplemented": 12, "Internal": 13, "Unavailable": 14, "DataLoss": 15, "Unauthenticated": 16,
    ]
}
