import EventLoop

/// The event loop (writes, reads, work time, output wait, lag) and the process.
enum LoopMetrics {
    static func render(context: GatewayContext, to out: inout PrometheusText) {
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
    }
}
