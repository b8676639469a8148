// bench-floor: what the speaker's libraries cost by themselves, for bench-scale's floor column.
//
// The process does what a speaker must do for each Service with the libraries it uses
// (SwiftNIO, AsyncHTTPClient) and the same production link (`scripts/build-release bench-floor`),
// and nothing else: it lists and watches the Services, and POSTs one `nodeAssigned` Event (as
// MetalLB's speaker does) for each Service the first time a watch event shows it with an ingress
// IP. It decodes no object (it looks for two byte strings in each event), keeps only the names
// it posted for, plans nothing and speaks no BGP. So its RSS idle is the floor of a process that
// holds an API connection with these libraries, and its CPU per Service the floor of taking in
// the same watch stream and sending the same Events, one at a time, to the same KubeSim.
//
//   bench-floor API_URL TOKEN NODE     (bench-scale starts it in the speaker's namespace)
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Writes a line to standard output at once: bench-scale reads the progress lines from the file
/// it goes to.
func say(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    say("usage: bench-floor API_URL TOKEN NODE")
    exit(2)
}
let api = arguments[1], node = arguments[3]
var headers = HTTPHeaders()
headers.add(name: "Authorization", value: "Bearer \(arguments[2])")
headers.add(name: "Accept", value: "application/json")

// One event loop for the API client, as the speaker's.
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let client = HTTPClient(eventLoopGroupProvider: .shared(group))
let loop = group.next()

/// The position of `needle` in `bytes` at or after `from`.
func find(_ needle: [UInt8], in bytes: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
    guard needle.count <= bytes.count else { return nil }
    var index = from
    while index + needle.count <= bytes.count {
        if bytes[index] == needle[0] && zip(needle.indices, needle).allSatisfy({ bytes[index + $0] == $1 }) { return index }
        index += 1
    }
    return nil
}

/// The JSON string value after `key` (`"key":"`, at or after `from`), as text.
func value(after key: [UInt8], in bytes: UnsafeRawBufferPointer, from: Int) -> String? {
    guard let start = find(key, in: bytes, from: from) else { return nil }
    var end = start + key.count
    while end < bytes.count && bytes[end] != UInt8(ascii: "\"") { end += 1 }
    return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(start + key.count)..<end]), as: UTF8.self)
}

let metadataKey = Array(#""metadata":{"#.utf8), nameKey = Array(#""name":""#.utf8), namespaceKey = Array(#""namespace":""#.utf8)
let ingressKey = Array(#""ingress":[{"#.utf8)

/// The Services to post an Event for, in the order seen; the poster takes them one at a time.
let (toPost, poster) = AsyncStream.makeStream(of: (namespace: String, name: String).self)

/// Splits the watch's answer into lines and hands each Service that shows an ingress IP for the
/// first time to the poster. Called by AsyncHTTPClient on the loop only.
final class Watch: HTTPClientResponseDelegate, @unchecked Sendable {
    typealias Response = Int
    var pending: [UInt8] = []
    var events = 0
    var posted: Set<String> = []

    func didReceiveBodyPart(task: HTTPClient.Task<Int>, _ part: ByteBuffer) -> EventLoopFuture<Void> {
        pending.append(contentsOf: part.readableBytesView)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            events += 1
            pending.withUnsafeBytes { line in
                let line = UnsafeRawBufferPointer(rebasing: line[..<newline])
                guard find(ingressKey, in: line) != nil, let metadata = find(metadataKey, in: line),
                      let name = value(after: nameKey, in: line, from: metadata),
                      let namespace = value(after: namespaceKey, in: line, from: metadata) else { return }
                if posted.insert(namespace + "/" + name).inserted { poster.yield((namespace, name)) }
            }
            pending.removeFirst(newline + 1)
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Int>) throws -> Int { events }
}

// A list, as the speaker's informer starts with; then a watch without a resourceVersion, which
// starts with an ADDED event for each Service there is (the floor needs no list's version).
let list = try await client.execute(request: HTTPClient.Request(url: api + "/api/v1/services", method: .GET, headers: headers)).get()
guard list.status == .ok else {
    say("bench-floor: listing the Services answered \(list.status)")
    exit(1)
}
let watchRequest = try HTTPClient.Request(url: api + "/api/v1/services?watch=1&allowWatchBookmarks=true", method: .GET, headers: headers)
let watch = client.execute(request: watchRequest, delegate: Watch(), eventLoop: .delegateAndChannel(on: loop))
watch.futureResult.whenComplete { result in
    say("bench-floor: the watch ended: \(result)")
    exit(1)
}
say("bench-floor: watching the Services")

var eventHeaders = headers
eventHeaders.add(name: "Content-Type", value: "application/json")
var sent = 0
for await service in toPost {
    sent += 1
    let event = """
    {"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"\(service.name).floor\(sent)","namespace":"\(service.namespace)"},\
    "eventTime":"2026-01-01T00:00:00.000000Z","reportingController":"ironlb.io/bench-floor","reportingInstance":"\(node)","action":"Announce",\
    "reason":"nodeAssigned","regarding":{"kind":"Service","namespace":"\(service.namespace)","name":"\(service.name)","apiVersion":"v1"},\
    "note":"announcing from node \\"\(node)\\" with protocol \\"bgp\\"","type":"Normal"}
    """
    let request = try HTTPClient.Request(url: api + "/apis/events.k8s.io/v1/namespaces/\(service.namespace)/events", method: .POST,
                                         headers: eventHeaders, body: .string(event))
    let answer = try await client.execute(request: request).get()
    if answer.status != .created { say("bench-floor: an Event POST answered \(answer.status)") }
    if sent % 1000 == 0 { say("bench-floor: \(sent) Events posted") }
}
