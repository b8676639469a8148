import NIOCore
import NetPrimitives

#if canImport(Glibc)
import Glibc
#endif

/// A classic BPF socket filter that keeps only packets whose IPv4 TTL / IPv6 hop limit is at
/// least `minimum` (RFC 5881 §5: exactly 255 for single hop; RFC 5883 §5: a configured minimum
/// for multihop). On a UDP socket the filter sees the UDP header at offset 0 and the IP header
/// through the SKF_NET_OFF window.
enum BFDTTLFilter {
    /// `struct sock_filter` (linux/filter.h).
    struct Instruction {
        var code: UInt16
        var jumpIfTrue: UInt8
        var jumpIfFalse: UInt8
        var constant: UInt32
    }

    /// `struct sock_fprog`.
    struct Program {
        var length: UInt16
        var filter: UnsafeMutablePointer<Instruction>
    }

    static let netOffset: UInt32 = 0xFFF0_0000 // SKF_NET_OFF, -0x100000

    static func instructions(family: IPFamily, minimum: UInt8) -> [Instruction] {
        // TTL is byte 8 of the IPv4 header, Hop Limit byte 7 of the IPv6 header.
        let offset: UInt32 = family == .ipv4 ? 8 : 7
        return [
            Instruction(code: 0x30, jumpIfTrue: 0, jumpIfFalse: 0, constant: netOffset + offset), // ld b [net + offset]
            Instruction(code: 0x35, jumpIfTrue: 0, jumpIfFalse: 1, constant: UInt32(minimum)),   // jge #minimum
            Instruction(code: 0x06, jumpIfTrue: 0, jumpIfFalse: 0, constant: 0xFFFF_FFFF),        // ret: keep
            Instruction(code: 0x06, jumpIfTrue: 0, jumpIfFalse: 0, constant: 0),                  // ret: drop
        ]
    }

    static func attach(to channel: Channel, family: IPFamily, minimum: UInt8) -> EventLoopFuture<Void> {
        #if canImport(Glibc)
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let program = instructions(family: family, minimum: minimum)
        let storage = UnsafeMutablePointer<Instruction>.allocate(capacity: program.count)
        storage.initialize(from: program, count: program.count)
        let future = provider.unsafeSetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_ATTACH_FILTER),
                                                    value: Program(length: UInt16(program.count), filter: storage))
        future.whenComplete { _ in storage.deallocate() }
        return future
        #else
        return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        #endif
    }
}
