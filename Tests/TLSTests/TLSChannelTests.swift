import EventLoop
import Testing
import TestSupport
@testable import TLS

/// Collects what a channel puts on the wire.
final class Wire: TransportOutput {
    var bytes: [UInt8] = []
    func transportWrite(_ data: UnsafeRawBufferPointer) { bytes += data }
    func take() -> [UInt8] { defer { bytes = [] }; return bytes }
}

/// A client and a server channel joined in memory, no sockets: every byte of the handshake
/// and of the records goes through `deliver`, which can split it anywhere.
final class ChannelPair {
    let certificates: TestCertificates
    let server: TLSChannel
    let client: TLSChannel
    let serverWire = Wire()
    let clientWire = Wire()
    let serverStatistics = TLSStatistics()
    let clientStatistics = TLSStatistics()
    var serverReceived: [UInt8] = []
    var clientReceived: [UInt8] = []

    init(host: String = "localhost", caPath: String? = nil, insecure: Bool = false) throws {
        certificates = try TestCertificates()
        let serverContext = try TLSServerContext(certificatePath: certificates.certificate, keyPath: certificates.key)
        let clientContext = try TLSClientContext(caPath: caPath ?? certificates.caCertificate, insecure: insecure)
        server = serverContext.makeChannel(statistics: serverStatistics)
        client = clientContext.makeChannel(host: host, statistics: clientStatistics)
        server.output = serverWire
        client.output = clientWire
    }

    deinit { certificates.remove() }

    /// Feeds `bytes` to `channel` in pieces of `chunk` bytes and reads all plaintext out.
    @discardableResult
    static func deliver(_ bytes: [UInt8], to channel: TLSChannel, chunk: Int, into received: inout [UInt8]) -> TransportRead {
        var last = TransportRead.needInput
        var offset = 0
        var plaintext = [UInt8](repeating: 0, count: 65536)
        repeat {
            let end = min(bytes.count, offset + chunk)
            bytes[offset..<end].withUnsafeBytes { piece in
                channel.receive(ciphertext: piece)
                reading: while true {
                    last = plaintext.withUnsafeMutableBytes { channel.readPlaintext(into: $0) }
                    switch last {
                    case .bytes(let n): received += plaintext[0..<n]
                    default: break reading
                    }
                }
                channel.receive(ciphertext: nil)
            }
            offset = end
            if case .failed = last { return last }
        } while offset < bytes.count
        return last
    }

    /// Runs the handshake to its end, cutting every flight into `chunk`-byte pieces.
    @discardableResult
    func handshake(chunk: Int = .max) -> TransportRead {
        client.start()
        var last = TransportRead.needInput
        for _ in 0..<10 {
            let toServer = clientWire.take()
            if !toServer.isEmpty { last = Self.deliver(toServer, to: server, chunk: chunk, into: &serverReceived) }
            if case .failed = last { return last }
            let toClient = serverWire.take()
            if !toClient.isEmpty { last = Self.deliver(toClient, to: client, chunk: chunk, into: &clientReceived) }
            if case .failed = last { return last }
            if client.isEstablished && server.isEstablished && clientWire.bytes.isEmpty && serverWire.bytes.isEmpty { break }
        }
        return last
    }
}

@Suite struct TLSChannelTests {
    @Test func handshakeAtEveryChunkSizeNegotiatesTLS13AndALPN() throws {
        for chunk in [1, 7, 100, 5000, Int.max] {
            let pair = try ChannelPair()
            pair.handshake(chunk: chunk)
            #expect(pair.server.isEstablished && pair.client.isEstablished, "chunk \(chunk)")
            #expect(pair.server.protocolVersion == "TLSv1.3")
            #expect(pair.server.applicationProtocol == "http/1.1")
            #expect(pair.serverStatistics.handshakesCompleted == 1)
        }
    }

    @Test func plaintextRoundTripsAndOneWriteIsOneRecord() throws {
        let pair = try ChannelPair()
        pair.handshake()
        let message = (0..<maxRecordPlaintext).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        message.withUnsafeBytes { pair.server.writePlaintext($0) }
        let wire = pair.serverWire.take()
        // One record: a 5-byte header whose length covers the rest.
        #expect(Int(wire[3]) << 8 | Int(wire[4]) == wire.count - 5)
        #expect(pair.serverStatistics.recordsSealed == 1)
        ChannelPair.deliver(wire, to: pair.client, chunk: 3, into: &pair.clientReceived)
        #expect(pair.clientReceived == message)

        Array("GET / HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { pair.client.writePlaintext($0) }
        ChannelPair.deliver(pair.clientWire.take(), to: pair.server, chunk: 1, into: &pair.serverReceived)
        #expect(pair.serverReceived == Array("GET / HTTP/1.1\r\n\r\n".utf8))
    }

    @Test func closeNotifyEndsTheInput() throws {
        let pair = try ChannelPair()
        pair.handshake()
        pair.server.closeNotify()
        let result = ChannelPair.deliver(pair.serverWire.take(), to: pair.client, chunk: .max, into: &pair.clientReceived)
        #expect(result == .closed)
    }

    @Test func plaintextHTTPIsAnsweredWithAPlain400() throws {
        let pair = try ChannelPair()
        let result = ChannelPair.deliver(Array("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n".utf8), to: pair.server, chunk: .max, into: &pair.serverReceived)
        #expect(result == .failed("plaintext HTTP request on the TLS port"))
        let answer = String(decoding: pair.serverWire.take(), as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(answer.contains("use https:// or wss://"))
        #expect(pair.serverStatistics.plaintextRequests == 1)
        #expect(pair.serverStatistics.failedBadInput == 1)
    }

    @Test func garbageFailsTheHandshake() throws {
        let pair = try ChannelPair()
        let garbage = [UInt8](repeating: 0x16, count: 5) + [UInt8](repeating: 0xff, count: 200)
        let result = ChannelPair.deliver(garbage, to: pair.server, chunk: .max, into: &pair.serverReceived)
        guard case .failed = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(pair.serverStatistics.failedBadInput == 1)
        #expect(pair.serverStatistics.handshakesCompleted == 0)
    }

    @Test func aTruncatedHelloWaitsThenCountsAsAbandoned() throws {
        let pair = try ChannelPair()
        pair.client.start()
        let hello = pair.clientWire.take()
        let result = ChannelPair.deliver(Array(hello[0..<(hello.count / 2)]), to: pair.server, chunk: .max, into: &pair.serverReceived)
        #expect(result == .needInput)
        pair.server.socketDidClose(byPeer: true)
        #expect(pair.serverStatistics.failedPeerLeft == 1)
    }

    @Test func theClientRefusesAServerItCannotVerify() throws {
        // Wrong name.
        let wrongName = try ChannelPair(host: "example.com")
        guard case .failed(let why) = wrongName.handshake() else {
            Issue.record("a certificate for localhost was accepted for example.com")
            return
        }
        #expect(why.contains("certificate verify failed"))
        // Unknown CA: the server's own leaf as the only trust anchor is not its issuer.
        let other = try TestCertificates()
        defer { other.remove() }
        let unknownCA = try ChannelPair(caPath: other.caCertificate)
        guard case .failed = unknownCA.handshake() else {
            Issue.record("a certificate from an unknown CA was accepted")
            return
        }
        // --insecure skips verification.
        let insecure = try ChannelPair(host: "example.com", insecure: true)
        insecure.handshake()
        #expect(insecure.client.isEstablished)
    }
}
