import Bus

enum BusMetrics {
    /// The market bus: the NATS connection, what came in and what was dropped, the writer.
    static func render(_ bus: MarketBus, to out: inout PrometheusText) {
        let client = bus.client.statistics
        let stats = bus.statistics
        out.metric("tickstream_bus_connected", "gauge", "1 while connected to a NATS server.", bus.isConnected ? 1 : 0)
        out.metric("tickstream_bus_reconnects_total", "counter", "Connections to the bus after the first one.",
                   client.connects > 0 ? client.connects - 1 : 0)
        out.metric("tickstream_bus_lame_duck_moves_total", "counter",
                   "Moves off a NATS server in lame duck mode, made before the old connection closed (no reconnect, nothing lost).", client.moves)
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
