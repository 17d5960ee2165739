import NIOCore
import SIPCore

/// Reads UDP datagrams: one datagram is one SIP message (RFC 3261 §18.3).
final class SIPDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let transport: SIPTransportLayer

    init(transport: SIPTransportLayer) { self.transport = transport }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        transport.udpDatagramRead()
        let envelope = unwrapInboundIn(data)
        let view = envelope.data.readableBytesView
        if transport.consumeQueueProbe(view, from: envelope.remoteAddress) { return }
        // CRLF keep-alives over UDP carry no message; silently absorbed.
        if view.allSatisfy({ $0 == 13 || $0 == 10 || $0 == 32 || $0 == 0 }) { return }
        if STUNKeepAlive.isSTUN(view) {
            if let answer = STUNKeepAlive.response(to: view, from: envelope.remoteAddress) {
                var out = context.channel.allocator.buffer(capacity: answer.count)
                out.writeBytes(answer)
                context.writeAndFlush(NIOAny(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: out)), promise: nil)
            }
            return
        }
        transport.deliver(Array(view), from: SIPEndpoint(transport: .udp, address: envelope.remoteAddress))
    }

    /// The end of one read batch (up to `maxMessagesPerRead` datagrams): what it produced goes out now.
    func channelReadComplete(context: ChannelHandlerContext) {
        transport.endUDPBatch()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP errors on an unconnected UDP socket must not close the listener.
        transport.endUDPBatch()
        transport.logger.debug("udp error: \(error)")
    }
}
