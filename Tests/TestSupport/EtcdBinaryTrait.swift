import Foundation
import Testing

extension Trait where Self == ConditionTrait {
    /// For tests that start etcd clusters of their own: they need the etcd binary, which CI
    /// always installs (there, its absence fails the test rather than skipping it).
    public static var etcdBinary: Self {
        .enabled("needs the etcd binary (/usr/bin/etcd)") {
            TestEnvironment.isCI || FileManager.default.isExecutableFile(atPath: "/usr/bin/etcd")
        }
    }
}
