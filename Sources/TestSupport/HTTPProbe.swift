import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking HTTP/1.1 GET over loopback, for probing `/metrics`, `/healthz` and
/// `/readyz` in tests without pulling an HTTP client into them.
public enum HTTPProbe {
    public struct Response: Sendable {
        public let status: Int
        public let body: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func get(host: String = "127.0.0.1", port: Int, path: String, timeout: Double = 5) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect to \(host):\(port): errno \(errno)") }
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            data.append(contentsOf: buffer[0..<count])
            if data.count > 64 << 20 { break }
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let headerEnd = text.range(of: "\r\n\r\n"),
              let statusLine = text[..<headerEnd.lowerBound].split(separator: "\r\n").first,
              let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { throw Failure(description: "malformed response: \(text.prefix(200))") }
        return Response(status: status, body: String(text[headerEnd.upperBound...]))
    }
}
