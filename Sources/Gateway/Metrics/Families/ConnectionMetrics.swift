import EventLoop

/// Connections: who is connected, who was turned away, handshakes, HTTP answers and how
/// WebSockets closed.
enum ConnectionMetrics {
    static func render(context: GatewayContext, to out: inout PrometheusText) {
        let m = context.metrics
        out.header("tickstream_build_info", "gauge", "The running build: 1, labelled with its version and the Swift that built it.")
        out.sample("tickstream_build_info", [("version", BuildInfo.version), ("swift", BuildInfo.swiftVersion)], 1)
        out.header("tickstream_connections", "gauge", "Open market-data connections on /ws, by negotiated protocol.")
        out.sample("tickstream_connections", [("protocol", "v1")], m.subscribersV1)
        out.sample("tickstream_connections", [("protocol", "v2")], m.subscribersV2)
        out.metric("tickstream_tcp_connections", "gauge", "Open TCP connections (HTTP, WebSocket, closing).", m.connectionsOpen)
        out.metric("tickstream_websocket_connections", "gauge", "Open WebSocket connections on every endpoint.", m.webSocketsOpen)
        out.metric("tickstream_connections_accepted_total", "counter", "TCP connections accepted.", m.connectionsAccepted)
        out.metric("tickstream_accept_errors_total", "counter", "Failed accepts (EMFILE and the like: the listener pauses 100 ms).",
                   m.acceptErrors)

        out.header("tickstream_refused_connections_total", "counter",
                   "Connections not served, by limit: max_connections (answered 503, or closed past the answer slots), per_address (429), descriptors (the process ran out: closed through the reserve descriptor).")
        for limit in ["descriptors", "max_connections", "per_address"] {
            out.sample("tickstream_refused_connections_total", [("limit", limit)], m.refusedConnections[limit, default: 0])
        }
        out.metric("tickstream_max_connections", "gauge", "Connections served at once (--max-connections or the descriptor limit less 64).",
                   context.maxConnections)
        out.metric("tickstream_pings_sent_total", "counter", "Pings sent to WebSocket peers silent for --ping-interval.", m.pingsSent)
        out.metric("tickstream_idle_closes_total", "counter", "WebSockets closed with 1001 after --idle-timeout of silence.", m.idleCloses)
        out.metric("tickstream_rate_limited_messages_total", "counter", "Client messages and pings dropped for going over --message-rate.",
                   m.rateLimitedMessages)

        out.header("tickstream_handshakes_total", "counter", "WebSocket upgrade attempts by result.")
        for (result, count) in m.handshakes.sorted(by: { $0.key < $1.key }) {
            out.sample("tickstream_handshakes_total", [("result", result)], count)
        }
        out.header("tickstream_http_responses_total", "counter", "HTTP responses by status code (upgrades included as 101).")
        for (code, count) in m.httpResponses.sorted(by: { $0.key < $1.key }) {
            out.sample("tickstream_http_responses_total", [("code", String(code))], count)
        }

        out.header("tickstream_close_codes_sent_total", "counter", "WebSocket Close frames sent, by code.")
        for (code, count) in m.closeCodesSent.sorted(by: { $0.key < $1.key }) {
            out.sample("tickstream_close_codes_sent_total", [("code", String(code))], count)
        }
        out.header("tickstream_close_codes_received_total", "counter", "WebSocket closes received, by code (1005: no code, 1006: no Close frame).")
        for (code, count) in m.closeCodesReceived.sorted(by: { $0.key < $1.key }) {
            out.sample("tickstream_close_codes_received_total", [("code", String(code))], count)
        }
        out.metric("tickstream_close_timeouts_total", "counter", "Peers that did not answer our Close in time.", m.closeTimeouts)

    }
}
