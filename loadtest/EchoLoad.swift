import Connection
import ByteBuffers
import EventLoop
import Glibc
import WebSocket

/// The echo workload: C connections to /echo, each keeping P messages of S bytes in flight,
/// sending one more for every echo received. Measures round trips per second.
final class EchoLoad: WebSocketClientDelegate {
    struct Options {
        var target: WebSocketURL
        var connections: Int
        var pipeline: Int
        var messageBytes: Int
        var warmup: Double
        var duration: Double
        var gatewayPID: Int32?
        /// For a wss:// target.
        var tls: ClientTLS?
        /// Offer permessage-deflate.
        var compression: CompressionWorkspace?
    }

    struct Report {
        var echoesPerSecond: Double
        var echoes: UInt64
        var seconds: Double
        var connectionsOpen: Int
        var failures: Int
        var wrongEchoes: UInt64
        var clientCPU: Double
        var gatewayCPU: Double?
    }

    private let loop: EventLoop
    private let options: Options
    private var clients: [WebSocketClient] = []
    private let frame: SharedBytes
    private var echoes: UInt64 = 0
    private var wrongEchoes: UInt64 = 0
    private var open = 0
    private var failures = 0
    private var lastSecondEchoes: UInt64 = 0

    init(loop: EventLoop, options: Options) {
        self.loop = loop
        self.options = options
        // One masked frame, built once and queued by reference for every send: the generator
        // does no per-message work beyond counting.
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: options.messageBytes)
        frame = SharedBytes.copying(FrameEncoder.maskedFrame(opcode: .binary, payload: payload, maskKey: 0x1234_5678))
    }

    func run() -> Report {
        for index in 0..<options.connections {
            let client = WebSocketClient(loop: loop, target: options.target, index: index, subprotocols: [], tls: options.tls,
                                         compression: options.compression)
            client.delegate = self
            clients.append(client)
            do { try client.start() } catch {
                failures += 1
                print("connect \(index) failed: \(error)")
            }
        }
        let start = MonotonicClock.now()
        var measureStart = (echoes: UInt64(0), client: CPUSample.ownProcess(), gateway: options.gatewayPID.flatMap(CPUSample.process))
        var measuring = false
        var report: Report?
        var nextTick = start + 1_000_000_000
        while report == nil {
            loop.runOnce(maxWait: 50)
            let now = MonotonicClock.now()
            if now >= nextTick {
                nextTick += 1_000_000_000
                let elapsed = Double(now - start) / 1e9
                print(String(format: "t=%5.1fs  echoes/s=%10.0f  open=%d  failures=%d", elapsed, Double(echoes - lastSecondEchoes), open, failures))
                lastSecondEchoes = echoes
            }
            let elapsed = Double(now - start) / 1e9
            if !measuring && elapsed >= options.warmup {
                measuring = true
                measureStart = (echoes, CPUSample.ownProcess(), options.gatewayPID.flatMap(CPUSample.process))
            }
            if measuring && elapsed >= options.warmup + options.duration {
                let clientEnd = CPUSample.ownProcess()
                let gatewayEnd = options.gatewayPID.flatMap(CPUSample.process)
                let seconds = Double(clientEnd.wallNanoseconds - measureStart.client.wallNanoseconds) / 1e9
                let counted = echoes - measureStart.echoes
                var gatewayCPU: Double?
                if let first = measureStart.gateway, let last = gatewayEnd { gatewayCPU = CPUSample.utilisation(from: first, to: last) }
                report = Report(echoesPerSecond: Double(counted) / seconds, echoes: counted, seconds: seconds,
                                connectionsOpen: open, failures: failures, wrongEchoes: wrongEchoes,
                                clientCPU: CPUSample.utilisation(from: measureStart.client, to: clientEnd),
                                gatewayCPU: gatewayCPU)
            }
        }
        for client in clients { client.close() }
        for _ in 0..<20 { loop.runOnce(maxWait: 10) }
        return report!
    }

    func clientDidOpen(_ client: WebSocketClient, subprotocol: String?) {
        open += 1
        for _ in 0..<options.pipeline { client.send(frame) }
    }

    func client(_ client: WebSocketClient, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        echoes &+= 1
        if payload.count != options.messageBytes || opcode != .binary { wrongEchoes &+= 1 }
        client.send(frame)
    }

    func clientDidClose(_ client: WebSocketClient, closeCode: CloseCode?, error: String?) {
        if client.didOpen { open -= 1 }
        if let error {
            failures += 1
            print("connection \(client.index) ended: \(error)")
        }
    }
}
