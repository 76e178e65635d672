import Foundation

/// Makes sure descriptors 0, 1 and 2 are open before coord opens anything else.
enum StandardDescriptors {
    /// Opens `/dev/null` onto each of stdin, stdout and stderr that is closed. Started as
    /// `coord lock x -- cmd <&-`, the next descriptor coord opened (an epoll handle, a socket to
    /// the store) would become fd 0, 1 or 2: the command would inherit it as its stdin or stdout,
    /// and coord's own output could go into a socket. Call first thing, before any other open.
    static func openClosedOnes() {
        for descriptor in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] {
            guard fcntl(descriptor, F_GETFD) == -1, errno == EBADF else { continue }
            // open gives the lowest free descriptor: this one, as the lower ones are open by now.
            let opened = open("/dev/null", descriptor == STDIN_FILENO ? O_RDONLY : O_WRONLY)
            if opened >= 0, opened != descriptor {
                _ = dup2(opened, descriptor)
                close(opened)
            }
        }
    }
}
