import Bus
import MarketData

/// Market data: what came in, what was fanned out and delivered, and slow subscribers.
enum MarketMetrics {
    static func render(context: GatewayContext, service: MarketDataService, bus: MarketBus?, to out: inout PrometheusText) {
        let m = context.metrics
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
        if let bus { BusMetrics.render(bus, to: &out) }
        out.metric("tickstream_feed_errors_total", "counter", "Invalid messages or updates from publishers.", m.feedErrors)
        out.metric("tickstream_fanout_encodings_total", "counter", "Frames encoded by the fan-out (one per protocol variant per update).",
                   service.fanOut.encodings)
        out.metric("tickstream_delta_encodings_total", "counter", "Deltas encoded by the fan-out (one per delta variant per update).",
                   service.fanOut.deltaEncodings)
        out.metric("tickstream_delta_fallbacks_total", "counter",
                   "Whole states sent to delta subscribers instead of a delta (no base yet, after a gap, a book not ordered by price).",
                   service.fanOut.deltaFallbacks)
        out.metric("tickstream_rate_capped_updates_total", "counter", "Updates a subscription's max_rate held back and a newer one replaced.",
                   service.registry.cappedUpdatesReplaced)
        out.metric("tickstream_unknown_symbol_subscriptions_total", "counter", "Subscriptions to a symbol nobody published at the time (a typo, or a listing not yet live).",
                   m.unknownSymbolSubscriptions)
        out.metric("tickstream_subscriptions", "gauge", "Subscriptions over all connections and symbols.", service.registry.totalSubscriptions)
        out.metric("tickstream_symbols", "gauge", "Distinct symbols known.", service.symbols.count)
        out.metric("tickstream_command_errors_total", "counter", "Error replies to subscriber commands.", m.commandErrors)
        out.metric("tickstream_conflated_updates_total", "counter", "Updates dropped for a newer one of the same symbol while a subscriber was behind.",
                   m.conflatedUpdates)
        out.metric("tickstream_conflation_episodes_total", "counter", "Times a subscriber's queue passed --max-queue-bytes.", m.conflationEpisodes)
        out.metric("tickstream_slow_consumer_closes_total", "counter", "Subscribers closed with 1008 after --slow-consumer-timeout.",
                   m.slowConsumerCloses)
    }
}
