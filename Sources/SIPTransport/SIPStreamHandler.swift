import NIOCore
import SIPCore

/// Frames SIP messages on a TCP or TLS connection by Content-Length (RFC 3261 §18.3) and answers
/// CRLFCRLF keep-alive pings with a CRLF pong (RFC 5626 §4.4.1). Garbage closes the connection.
final class SIPStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let transport: SIPTransportLayer
    private let proto: SIPTransportProtocol
    private var framer: SIPStreamFramer
    private var endpoint: SIPEndpoint?

    init(transport: SIPTransportLayer, protocol proto: SIPTransportProtocol, maxMessageSize: Int) {
        self.transport = transport
        self.proto = proto
        self.framer = SIPStreamFramer(maxMessageSize: maxMessageSize)
    }

    func channelActive(context: ChannelHandlerContext) {
        endpoint = transport.register(connection: context.channel, transport: proto)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let endpoint { transport.unregister(endpoint) }
        endpoint = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        framer.append(buffer.readableBytesView)
        guard let endpoint else { return }
        do {
            while let frame = try framer.next() {
                switch frame {
                case .message(let bytes):
                    transport.deliver(bytes, from: endpoint)
                case .ping:
                    var pong = context.channel.allocator.buffer(capacity: 2)
                    pong.writeStaticString("\r\n")
                    context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
                case .pong:
                    break
                }
                // The delegate may have closed us.
                if !context.channel.isActive { return }
            }
        } catch {
            transport.logger.info("closing \(endpoint): \(error.reason)")
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        transport.logger.debug("stream error on \(endpoint?.description ?? "?"): \(error)")
        context.close(promise: nil)
    }
}
