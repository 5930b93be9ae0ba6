import ByteBuffers
import EventLoop
import Glibc
import Testing
import TestSupport
@testable import TLS

/// Keeps everything a socket reads and how it ended.
final class Collector: StreamSocketDelegate {
    var received: [UInt8] = []
    var closeReason: StreamSocket.CloseReason?
    func streamSocket(_ socket: StreamSocket, didRead bytes: UnsafeMutableRawBufferPointer) -> Int {
        received += bytes
        return bytes.count
    }
    func streamSocketDidClose(_ socket: StreamSocket, reason: StreamSocket.CloseReason) { closeReason = reason }
}

/// StreamSocket with TLS on both ends of a socketpair, on one loop.
@Suite struct SecureStreamSocketTests {
    let loop: EventLoop
    let certificates: TestCertificates
    let serverContext: TLSServerContext
    let clientContext: TLSClientContext
    let serverStatistics = TLSStatistics()
    let clientStatistics = TLSStatistics()

    init() throws {
        loop = try EventLoop()
        certificates = try TestCertificates()
        serverContext = try TLSServerContext(certificatePath: certificates.certificate, keyPath: certificates.key)
        clientContext = try TLSClientContext(caPath: certificates.caCertificate)
    }

    private func connectedPair() throws -> (server: StreamSocket, serverSide: Collector, client: StreamSocket, clientSide: Collector) {
        let (a, b) = socketPair()
        let server = try StreamSocket(fd: a, loop: loop, maxBufferedInput: 1 << 20, outboundHighWater: 1 << 22,
                                      security: serverContext.makeChannel(statistics: serverStatistics))
        let client = try StreamSocket(fd: b, loop: loop, maxBufferedInput: 1 << 20, outboundHighWater: 1 << 22,
                                      security: clientContext.makeChannel(host: "localhost", statistics: clientStatistics))
        let serverSide = Collector(), clientSide = Collector()
        server.delegate = serverSide
        client.delegate = clientSide
        return (server, serverSide, client, clientSide)
    }

    @Test func outputQueuedBeforeTheHandshakeGoesOutAfterIt() throws {
        defer { certificates.remove() }
        let pair = try connectedPair()
        Array("GET / HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { pair.client.enqueueCopy($0) }
        #expect(pair.client.isAwaitingSecureHandshake)
        #expect(run(loop, until: { pair.serverSide.received.count == 18 }))
        #expect(String(decoding: pair.serverSide.received, as: UTF8.self) == "GET / HTTP/1.1\r\n\r\n")
        #expect(!pair.server.isAwaitingSecureHandshake)
        #expect(serverStatistics.handshakesCompleted == 1)
    }

    @Test func sharedFramesAreGatheredIntoFewRecords() throws {
        defer { certificates.remove() }
        let pair = try connectedPair()
        #expect(run(loop, until: { !pair.server.isAwaitingSecureHandshake && !pair.client.isAwaitingSecureHandshake }))
        // 1,000 frames of 100 bytes queued in one iteration, as a fan-out would.
        let frame = SharedBytes.make(count: 100) { bytes in for i in 0..<100 { bytes[i] = UInt8(i) } }
        for _ in 0..<1000 { pair.server.enqueue(frame) }
        #expect(run(loop, until: { pair.clientSide.received.count == 100_000 }))
        #expect(pair.clientSide.received[0..<100] == pair.clientSide.received[99_900..<100_000])
        // 100,000 bytes in records of up to maxRecordPlaintext: 7, not 1,000.
        #expect(serverStatistics.recordsSealed == (100_000 + maxRecordPlaintext - 1) / maxRecordPlaintext)
        #expect(pair.server.outboundBytes == 0)
    }

    @Test func shutdownSendsCloseNotifyAndThePeerSeesAnOrderlyEnd() throws {
        defer { certificates.remove() }
        let pair = try connectedPair()
        #expect(run(loop, until: { !pair.server.isAwaitingSecureHandshake && !pair.client.isAwaitingSecureHandshake }))
        Array("bye".utf8).withUnsafeBytes { pair.server.enqueueCopy($0) }
        pair.server.shutdownAfterFlush(lingerTimeout: 2_000_000_000)
        #expect(run(loop, until: { pair.clientSide.closeReason != nil && pair.serverSide.closeReason != nil }))
        #expect(pair.clientSide.received == Array("bye".utf8))
        // close_notify reads as the peer's orderly end, then the server sees the EOF.
        #expect(pair.clientSide.closeReason == .peerClosed)
        #expect(pair.serverSide.closeReason == .local)
    }

    @Test func aPlaintextClientGetsA400AndOthersAreUntouched() throws {
        defer { certificates.remove() }
        let good = try connectedPair()
        let (a, b) = socketPair()
        defer { close(b) }
        let plain = try StreamSocket(fd: a, loop: loop, maxBufferedInput: 1 << 20, outboundHighWater: 1 << 22,
                                     security: serverContext.makeChannel(statistics: serverStatistics))
        let plainSide = Collector()
        plain.delegate = plainSide
        TestSupport.write(b, Array("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(run(loop, until: { plainSide.closeReason != nil }))
        #expect(plainSide.closeReason == .transportFailure("plaintext HTTP request on the TLS port"))
        #expect(String(decoding: readAll(b), as: UTF8.self).hasPrefix("HTTP/1.1 400 Bad Request"))
        #expect(serverStatistics.plaintextRequests == 1)
        // The TLS pair on the same loop still works.
        Array("still here".utf8).withUnsafeBytes { good.client.enqueueCopy($0) }
        #expect(run(loop, until: { good.serverSide.received == Array("still here".utf8) }))
    }

    @Test func aPeerThatLeavesMidHandshakeIsCounted() throws {
        defer { certificates.remove() }
        let (a, b) = socketPair()
        let server = try StreamSocket(fd: a, loop: loop, maxBufferedInput: 1 << 20, outboundHighWater: 1 << 22,
                                      security: serverContext.makeChannel(statistics: serverStatistics))
        let side = Collector()
        server.delegate = side
        TestSupport.write(b, [0x16, 0x03, 0x01, 0x02, 0x00, 0x01])  // the start of a client hello
        run(loop, for: 0.05)
        #expect(side.closeReason == nil)
        close(b)
        #expect(run(loop, until: { side.closeReason != nil }))
        #expect(serverStatistics.failedPeerLeft == 1)
    }
}
