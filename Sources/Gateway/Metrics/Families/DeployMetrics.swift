/// Deploys: draining, the live handover, and watched deploys with the figures they judge.
enum DeployMetrics {
    static func render(context: GatewayContext, to out: inout PrometheusText) {
        let m = context.metrics
        out.header("tickstream_draining", "gauge", "1 while the gateway drains, else 0.")
        out.sample("tickstream_draining", [], context.isDraining ? 1 : 0)
        out.metric("tickstream_drain_evictions_total", "counter", "Connections closed by a drain with 1001.", m.drainEvictions)
        out.metric("tickstream_drain_forced_closes_total", "counter", "Connections cut when --drain-timeout ran out.", m.drainForcedCloses)
        out.metric("tickstream_handover_sent_total", "counter", "Connections handed to a successor (takeover with --handover connections).", m.handoverSent)
        out.metric("tickstream_handover_adopted_total", "counter", "Connections adopted from the instance this one took over.", m.handoverAdopted)
        out.metric("tickstream_handover_failed_total", "counter", "Connections received in a handover but not continued here.", m.handoverFailed)
        out.metric("tickstream_session_failures_total", "counter",
                   "Sessions the server failed (what a watched deploy and the canary analysis judge): closes sent with 1002, 1007, 1008, 1009 or 1011, closes received with 1002, 1007 or 1011, idle closes and close-handshake timeouts.",
                   DeployFigures.failures(m))
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

    }
}
