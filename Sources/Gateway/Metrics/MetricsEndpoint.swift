import Bus
import EventLoop
import MarketData
import WebSocket

/// Renders `GET /metrics` from the gateway's counters.
enum MetricsEndpoint {
    static func render(context: GatewayContext, service: MarketDataService, connections: ConnectionRegistry, bus: MarketBus? = nil) -> String {
        let m = context.metrics
        var out = PrometheusText()

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

        if context.configuration.jwtSecret != nil || context.configuration.jwtPublicKeyPath != nil {
            out.metric("tickstream_auth_tokens_accepted_total", "counter", "Valid tokens presented at /ws upgrades.", m.tokensAccepted)
            out.header("tickstream_auth_failures_total", "counter",
                       "/ws upgrades refused with 401, by reason: missing, malformed, algorithm (none, unknown or without a key here), signature, expired, not_yet_valid, claims.")
            for reason in ["algorithm", "claims", "expired", "malformed", "missing", "not_yet_valid", "signature"] {
                out.sample("tickstream_auth_failures_total", [("reason", reason)], m.tokenRejections[reason, default: 0])
            }
            out.metric("tickstream_auth_expiry_closes_total", "counter", "Connections closed with 1008 when their token expired.",
                       m.tokenExpiryCloses)
            out.metric("tickstream_auth_forbidden_subscriptions_total", "counter",
                       "Subscribe commands refused (forbidden_symbol) for symbols outside the token's claim.", m.forbiddenSubscriptions)
        }

        out.header("tickstream_handshakes_total", "counter", "WebSocket upgrade attempts by result.")
        for (result, count) in m.handshakes.sorted(by: { $0.key < $1.key }) {
            out.sample("tickstream_handshakes_total", [("result", result)], count)
        }
        out.header("tickstream_http_responses_total", "counter", "HTTP responses by status code (upgrades included as 101).")
        for (code, count) in m.httpResponses.sorted(by: { $0.key < $1.key }) {
            out.sample("tickstream_http_responses_total", [("code", String(code))], count)
        }

        out.header("tickstream_messages_sent_total", "counter", "Market-data messages queued to subscribers, by protocol.")
        out.sample("tickstream_messages_sent_total", [("protocol", "v1")], m.messagesSentV1)
        out.sample("tickstream_messages_sent_total", [("protocol", "v2")], m.messagesSentV2)
        out.header("tickstream_bytes_sent_total", "counter", "Bytes of market-data frames queued to subscribers, by protocol.")
        out.sample("tickstream_bytes_sent_total", [("protocol", "v1")], m.bytesSentV1)
        out.sample("tickstream_bytes_sent_total", [("protocol", "v2")], m.bytesSentV2)
        out.header("tickstream_feed_updates_total", "counter", "Updates received from the feed, by source.")
        out.sample("tickstream_feed_updates_total", [("source", "simulator")], service.updatesFromSimulator)
        out.sample("tickstream_feed_updates_total", [("source", "ingest")], service.updatesFromFeed)
        out.sample("tickstream_feed_updates_total", [("source", "bus")], service.updatesFromBus)
        if let bus { renderBus(bus, to: &out) }
        out.metric("tickstream_feed_errors_total", "counter", "Invalid messages or updates from publishers.", m.feedErrors)
        out.metric("tickstream_fanout_encodings_total", "counter", "Frames encoded by the fan-out (one per protocol variant per update).",
                   service.fanOut.encodings)
        out.metric("tickstream_subscriptions", "gauge", "Subscriptions over all connections and symbols.", service.registry.totalSubscriptions)
        out.metric("tickstream_symbols", "gauge", "Distinct symbols known.", service.symbols.count)
        out.metric("tickstream_command_errors_total", "counter", "Error replies to subscriber commands.", m.commandErrors)
        out.metric("tickstream_conflated_updates_total", "counter", "Updates dropped for a newer one of the same symbol while a subscriber was behind.",
                   m.conflatedUpdates)
        out.metric("tickstream_conflation_episodes_total", "counter", "Times a subscriber's queue passed --max-queue-bytes.", m.conflationEpisodes)
        out.metric("tickstream_slow_consumer_closes_total", "counter", "Subscribers closed with 1008 after --slow-consumer-timeout.",
                   m.slowConsumerCloses)

        out.metric("tickstream_deflate_connections", "gauge", "Open WebSocket connections that negotiated permessage-deflate.",
                   m.compressedConnections)
        out.metric("tickstream_deflate_compressions_total", "counter",
                   "Market-data frames deflated by the fan-out: at most one per compressed variant per update, never per subscriber.",
                   service.fanOut.compressions)
        out.metric("tickstream_deflate_snapshot_compressions_total", "counter", "Snapshots deflated for subscribers that negotiated compression (one per subscribe).",
                   service.fanOut.snapshotCompressions)
        out.metric("tickstream_deflate_input_bytes_total", "counter", "Market-data JSON bytes given to the shared compressor.",
                   service.fanOut.bytesBeforeCompression)
        out.metric("tickstream_deflate_output_bytes_total", "counter", "Compressed bytes it produced.", service.fanOut.bytesAfterCompression)
        out.metric("tickstream_deflate_connection_inflate_bytes", "gauge",
                   "Inflate memory held by connections themselves, summed (the gateway asks every client for client_no_context_takeover and inflates in one shared stream, so this stays 0).",
                   connections.all.reduce(0) { $0 + ($1.compression?.ownInflateBytes ?? 0) })
        out.metric("tickstream_deflate_shared_memory_bytes", "gauge", "zlib state and buffers shared by every compressing connection (estimate from zlib's sizes).",
                   context.compression.estimatedMemoryBytes + (service.fanOut.deflater?.estimatedMemoryBytes ?? 0))

        out.header("tickstream_close_codes_sent_total", "counter", "WebSocket Close frames sent, by code.")
        for (code, count) in m.closeCodesSent.sorted(by: { $0.key < $1.key }) {
            out.sample("tickstream_close_codes_sent_total", [("code", String(code))], count)
        }
        out.header("tickstream_close_codes_received_total", "counter", "WebSocket closes received, by code (1005: no code, 1006: no Close frame).")
        for (code, count) in m.closeCodesReceived.sorted(by: { $0.key < $1.key }) {
            out.sample("tickstream_close_codes_received_total", [("code", String(code))], count)
        }
        out.metric("tickstream_close_timeouts_total", "counter", "Peers that did not answer our Close in time.", m.closeTimeouts)

        out.header("tickstream_draining", "gauge", "1 while the gateway drains, else 0.")
        out.sample("tickstream_draining", [], context.isDraining ? 1 : 0)
        out.metric("tickstream_drain_evictions_total", "counter", "Connections closed by a drain with 1001.", m.drainEvictions)
        out.metric("tickstream_drain_forced_closes_total", "counter", "Connections cut when --drain-timeout ran out.", m.drainForcedCloses)
        out.metric("tickstream_handover_sent_total", "counter", "Connections handed to a successor (takeover with --handover connections).", m.handoverSent)
        out.metric("tickstream_handover_adopted_total", "counter", "Connections adopted from the instance this one took over.", m.handoverAdopted)
        out.metric("tickstream_handover_failed_total", "counter", "Connections received in a handover but not continued here.", m.handoverFailed)
        out.metric("tickstream_session_failures_total", "counter",
                   "Sessions the server failed (what a watched deploy and the canary analysis judge): closes sent with 1002, 1007, 1008, 1009 or 1011, closes received with 1002, 1007 or 1011, idle closes and close-handshake timeouts.",
                   DeployFigures(context: context, ready: true).failures)
        out.metric("tickstream_deploy_watching", "gauge", "1 while a watched deploy is under way here (as the new version or as the standby).", m.watching ? 1 : 0)
        out.header("tickstream_deploy_watch_decisions_total", "counter", "Verdicts of watched deploys reached or received here, by decision.")
        for decision in ["promoted", "rolled_back", "crashed"] {
            out.sample("tickstream_deploy_watch_decisions_total", [("decision", decision)], m.watchDecisions[decision, default: 0])
        }
        if !m.watchFigures.isEmpty {
            out.header("tickstream_deploy_watch_figure", "gauge", "The figures the last verdict compared: side baseline (the old version) or candidate (the new one).")
            for entry in m.watchFigures {
                out.sample("tickstream_deploy_watch_figure", [("side", entry.side), ("figure", entry.figure)], entry.value)
            }
        }

        if let certificate = context.certificate {
            let tls = certificate.statistics
            out.metric("tickstream_tls_certificate_expiry_timestamp_seconds", "gauge",
                       "When the certificate new handshakes use expires (Unix seconds).", certificate.current.notAfter)
            out.metric("tickstream_tls_handshakes_total", "counter", "TLS handshakes completed.", tls.handshakesCompleted)
            out.header("tickstream_tls_handshake_failures_total", "counter",
                       "TLS handshakes that did not finish: bad_input (garbage, no common version, cipher or ALPN), plaintext_http (http:// or ws:// sent to the TLS port, answered with a plain 400), peer_left (closed mid-handshake), timeout (cut after --handshake-timeout, or by a drain).")
            out.sample("tickstream_tls_handshake_failures_total", [("reason", "bad_input")], tls.failedBadInput - tls.plaintextRequests)
            out.sample("tickstream_tls_handshake_failures_total", [("reason", "plaintext_http")], tls.plaintextRequests)
            out.sample("tickstream_tls_handshake_failures_total", [("reason", "peer_left")], tls.failedPeerLeft)
            out.sample("tickstream_tls_handshake_failures_total", [("reason", "timeout")], tls.failedTimeout)
            out.metric("tickstream_tls_records_total", "counter", "TLS records of application data written (each gathers many frames).",
                       tls.recordsSealed)
            out.metric("tickstream_tls_record_plaintext_bytes_total", "counter", "Plaintext bytes those records carried.",
                       tls.plaintextBytesSealed)
            out.header("tickstream_tls_reloads_total", "counter", "Certificate reloads (SIGHUP, POST /admin/reload-tls) by result.")
            out.sample("tickstream_tls_reloads_total", [("result", "ok")], certificate.reloads)
            out.sample("tickstream_tls_reloads_total", [("result", "refused")], certificate.failedReloads)
        }

        let stats = context.loop.statistics
        out.metric("tickstream_socket_writes_total", "counter",
                   "Writes (sendmsg) to sockets: divided by tickstream_messages_sent_total, the writes per delivery that decide throughput on one core.",
                   stats.writes)
        out.metric("tickstream_socket_reads_total", "counter", "Reads from sockets that returned bytes.", stats.reads)
        out.metric("tickstream_flush_interval_seconds", "gauge", "How long output may wait for more before it is written (--flush-interval).",
                   PrometheusText.seconds(context.loop.flushDelay))
        out.histogram("tickstream_event_loop_iteration_seconds", "Work time of one event-loop iteration.", stats.iterations)
        out.histogram("tickstream_output_wait_seconds",
                      "Per write: how long its oldest bytes waited in the gateway after being queued.", stats.outputWaits)
        out.metric("tickstream_event_loop_lag_seconds", "gauge", "How late the loop's 100 ms probe timer last fired.",
                   PrometheusText.seconds(stats.lastLag))
        out.histogram("tickstream_event_loop_lag_probe_seconds", "How late the loop's 100 ms probe timer fired, every firing.", stats.lags)

        if let rss = ProcessStatistics.residentBytes() {
            out.metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss)
        }
        if let fds = ProcessStatistics.openDescriptors() {
            out.metric("process_open_fds", "gauge", "Open file descriptors.", fds)
        }
        out.metric("process_max_fds", "gauge", "Limit on open file descriptors.", ProcessStatistics.descriptorLimit())
        return out.text
    }

    /// The market bus: the NATS connection, what came in and what was dropped, the writer.
    private static func renderBus(_ bus: MarketBus, to out: inout PrometheusText) {
        let client = bus.client.statistics
        let stats = bus.statistics
        out.metric("tickstream_bus_connected", "gauge", "1 while connected to a NATS server.", bus.isConnected ? 1 : 0)
        out.metric("tickstream_bus_reconnects_total", "counter", "Connections to the bus after the first one.",
                   client.connects > 0 ? client.connects - 1 : 0)
        out.metric("tickstream_bus_connect_failures_total", "counter", "Attempts to connect to a NATS server that failed.", client.connectFailures)
        out.metric("tickstream_bus_subscriptions", "gauge", "Subjects subscribed to: one per followed symbol, or the one wildcard.",
                   bus.subscriptionCount)
        out.metric("tickstream_bus_messages_received_total", "counter", "Messages received from NATS (bus messages and JetStream replies).",
                   client.messagesIn)
        out.metric("tickstream_bus_received_bytes_total", "counter", "Payload bytes received from NATS.", client.payloadBytesIn)
        out.metric("tickstream_bus_updates_applied_total", "counter", "Bus messages applied and fanned out (snapshots included).", stats.applied)
        out.header("tickstream_bus_messages_dropped_total", "counter",
                   "Bus messages not applied, by reason: malformed (not a bus message), symbol_limit (past --max-symbols), stale (not newer than the state held).")
        out.sample("tickstream_bus_messages_dropped_total", [("reason", "malformed")], stats.malformed)
        out.sample("tickstream_bus_messages_dropped_total", [("reason", "stale")], stats.stale)
        out.sample("tickstream_bus_messages_dropped_total", [("reason", "symbol_limit")], stats.overSymbolLimit)
        out.metric("tickstream_bus_missed_updates_total", "counter",
                   "Updates that never arrived here: the sum of seq jumps (a reconnect, a loss on the way). Clients see the same jump.",
                   stats.missedUpdates)
        out.header("tickstream_bus_snapshots_total", "counter", "Last-value fetches from the stream, by result: fetched, absent (no data yet), failed.")
        out.sample("tickstream_bus_snapshots_total", [("result", "absent")], stats.snapshotsAbsent)
        out.sample("tickstream_bus_snapshots_total", [("result", "failed")], stats.snapshotFailures)
        out.sample("tickstream_bus_snapshots_total", [("result", "fetched")], stats.snapshotsFetched)
        out.metric("tickstream_bus_published_total", "counter", "Updates this instance published into the bus (/feed and the simulator).",
                   bus.writer.published)
        out.metric("tickstream_bus_publish_conflated_total", "counter",
                   "Updates replaced by a newer one of the same symbol before the bus could take them.", bus.writer.conflated)
        out.metric("tickstream_bus_publish_pending", "gauge", "Symbols whose newest update waits for the bus.", bus.writer.pendingCount)
        out.metric("tickstream_bus_server_errors_total", "counter", "-ERR lines from NATS servers.", client.serverErrors)
        out.histogram("tickstream_bus_feed_lag_seconds", "Receive time of a bus message minus its ts (publisher clock to here).", stats.feedLag)
    }
}
