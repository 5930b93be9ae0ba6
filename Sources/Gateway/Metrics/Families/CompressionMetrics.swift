import MarketData

/// permessage-deflate: compressed once per variant, and the memory it holds.
enum CompressionMetrics {
    static func render(context: GatewayContext, service: MarketDataService, connections: ConnectionRegistry, to out: inout PrometheusText) {
        let m = context.metrics
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

    }
}
