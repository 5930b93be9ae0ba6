import EventLoop
import Glibc
import Logging
import MarketData

/// A watched deploy (`--watch`), both sides: the old instance stands by and judges, the new
/// one answers, and the verdict is carried out here: promoted (the standby exits 0), rolled
/// back (every connection and the market go back the way they came; the new one exits 3), or
/// crashed (the standby accepts again at once, in a new epoch).
extension Gateway {
    /// This process's figures now, as a watch compares them.
    func currentFigures() -> DeployFigures {
        DeployFigures(context: context, ready: HealthEndpoints.isReady(context: context, service: marketData, bus: bus,
                                                                         listening: isListening, simulatorRunning: simulator?.isRunning))
    }

    /// Why a takeover must wait, or nil.
    func takeoverRefusal() -> String? {
        guard let candidate, !candidate.isOver else { return nil }
        return "a watched deploy is in progress (\(Int(candidate.secondsLeft.rounded(.up))) s left of its window, longer if it waits "
            + "for its sample): one deploy at a time"
    }

    // MARK: The new version

    /// After a completed handover with `--watch`: asks the predecessor to stand by. False when
    /// it will not, and the deploy goes on unwatched.
    func beginCandidateWatch(over channel: ControlChannel) -> Bool {
        let policy = WatchPolicy(configuration)
        guard let watch = CandidateWatch.begin(channel: channel, policy: policy, loop: loop, logger: logger,
                                               figures: { [unowned self] in self.currentFigures() },
                                               event: { [unowned self] in self.candidateEvent($0) }) else { return false }
        candidate = watch
        context.metrics.watching = true
        logger.notice("watch: the previous version stands by and takes everything back if this one does worse, stalls or crashes",
                      metadata: ["watch_s": "\(policy.seconds)", "min_sample": "\(policy.minSample)", "min_sessions": "\(policy.minSessions)",
                                 "max_failure_increase_points": "\(policy.maxFailureIncreasePoints)",
                                 "max_latency_increase_ms": "\(policy.maxLatencyIncreaseMilliseconds)",
                                 "max_lag_increase_ms": "\(policy.maxLagIncreaseMilliseconds)"])
        return true
    }

    private func candidateEvent(_ event: CandidateWatch.Event) {
        guard let watch = candidate else { return }
        candidate = nil
        switch event {
        case .promoted(let reason):
            context.metrics.recordWatch(decision: "promoted", baseline: nil, candidate: nil)
            logger.notice("watch decision: promoted: \(reason)", metadata: ["decision": "promoted"])
        case .standbyGone:
            Glibc.close(watch.channel.fd)
            context.metrics.watching = false
            logger.warning("watch: the standby went away before a verdict; nothing is left to roll back to, this version carries on")
        case .rollBack(let reads, let reason):
            context.metrics.recordWatch(decision: "rolled_back", baseline: nil, candidate: nil)
            logger.error("watch decision: rolled back by the standby: \(reason); handing everything back", metadata: ["decision": "rolled_back"])
            exitStatus = 3
            // The standby accepts on its own copy again; this one stops, and keeps the control
            // socket's path (the standby binds it anew).
            listener?.close()
            listener = nil
            listenerHandedOver = true
            if watch.channel.readLine() == "HANDOVER" {
                handOverConnections(over: watch.channel, successorReads: reads)
            } else {
                logger.error("watch: the standby did not ask for the connections; draining them")
            }
            Glibc.close(watch.channel.fd)
            drain.begin(trigger: "rollback", skipGrace: true)
        }
    }

    // MARK: The old version

    /// After a completed handover: stands by if the successor asks for a watch. False when it
    /// does not (then this instance drains and exits as usual).
    func beginStandby(over channel: ControlChannel, listenerFD: Int32) -> Bool {
        channel.setTimeout(seconds: 2)
        guard let recorder, let line = channel.readLine(), let policy = WatchPolicy(line: line) else { return false }
        let (baseline, covered) = recorder.baseline(seconds: policy.baselineSeconds)
        guard channel.writeLine("STANDBY") else { return false }
        do {
            standby = try StandbyWatch(channel: channel, judge: WatchJudge(policy: policy, baseline: baseline), loop: loop, logger: logger,
                                       decided: { [unowned self] in self.standbyDecided($0, candidate: $1) })
        } catch {
            logger.error("standby: cannot follow the control connection (\(error)); the new version is not watched")
            return false
        }
        standbyListenerFD = listenerFD
        recorder.stop()
        context.metrics.watching = true
        var metadata = Self.metadata(baseline: baseline, candidate: nil)
        metadata["watch_s"] = "\(policy.seconds)"
        metadata["successor_pid"] = "\(standby!.successorPID)"
        logger.notice("standby: judging the new version against this one's last \(WatchJudge.format(covered)) s", metadata: metadata)
        return true
    }

    private func standbyDecided(_ outcome: StandbyWatch.Outcome, candidate: DeployWindow?) {
        guard let watch = standby else { return }
        let baseline = watch.judge.baseline
        var metadata = Self.metadata(baseline: baseline, candidate: candidate)
        switch outcome {
        case .promote(let reason):
            metadata["decision"] = "promoted"
            logger.notice("watch decision: promoted: \(reason)", metadata: metadata)
            context.metrics.recordWatch(decision: "promoted", baseline: baseline, candidate: candidate)
            watch.channel.writeLine("PROMOTED \(reason)")
            Glibc.close(watch.channel.fd)
            Glibc.close(standbyListenerFD)
            standbyListenerFD = -1
            standby = nil
            stopAfterDrain()
        case .rollBack(let figure, let reason):
            metadata["decision"] = "rolled_back"
            metadata["figure"] = "\(figure)"
            logger.error("watch decision: rolled back: \(reason)", metadata: metadata)
            context.metrics.recordWatch(decision: "rolled_back", baseline: baseline, candidate: candidate)
            standby = nil
            resumeServing()
            var handedBack = false
            if watch.channel.writeLine("ROLLBACK \(HandoverFormat.version) \(figure): \(reason)") {
                handedBack = receiveConnections(over: watch.channel).marketApplied
            }
            Glibc.close(watch.channel.fd)
            if !handedBack {
                // It did not hand back (stalled hard): it is ended, and its clients reconnect
                // here, in a new epoch, since this market is behind the one it numbered.
                if watch.successorPID > 0 { kill(watch.successorPID, SIGKILL) }
                marketData.epoch = MarketEpoch.random()
                logger.error("watch: the new version did not hand back; it was killed and its clients reconnect here",
                             metadata: ["successor_pid": "\(watch.successorPID)", "epoch": "\(marketData.epoch)"])
            }
            restartFeedAfterStandby()
        case .crashed:
            metadata["decision"] = "crashed"
            logger.error("watch decision: crashed: the new version's process ended; serving again here", metadata: metadata)
            context.metrics.recordWatch(decision: "crashed", baseline: baseline, candidate: candidate)
            standby = nil
            Glibc.close(watch.channel.fd)
            // Its clients reconnect here once; this market is behind what it sent them, so a
            // new epoch tells them to resync rather than see a rewind.
            marketData.epoch = MarketEpoch.random()
            resumeServing()
            restartFeedAfterStandby()
        }
    }

    /// Leaves without a verdict (the standby was told to stop): the successor sees the control
    /// connection end and carries on.
    func abandonStandby() {
        guard let watch = standby else { return }
        watch.cancel()
        Glibc.close(watch.channel.fd)
        Glibc.close(standbyListenerFD)
        standbyListenerFD = -1
        standby = nil
        context.metrics.watching = false
        stopAfterDrain()
    }

    /// Both sides' figures for a log line: `baseline_failure_ratio`, `candidate_deliveries`...
    private static func metadata(baseline: DeployWindow, candidate: DeployWindow?) -> Logger.Metadata {
        var metadata: Logger.Metadata = [:]
        for (side, window) in [("baseline", baseline), ("candidate", candidate)] {
            for figure in window?.figures ?? [] { metadata["\(side)_\(figure.name)"] = "\(figure.value)" }
        }
        return metadata
    }

    /// Accepting again on the listener copy (the same port, the same queue), with readiness,
    /// the admin listener and the control socket back.
    private func resumeServing() {
        do {
            listener = try makeListener(standbyListenerFD, for: connections)
        } catch {
            logger.critical("standby: cannot accept on the listener again: \(error)")
        }
        standbyListenerFD = -1
        listenerHandedOver = false
        drain.resume()
        do { try openAdminListener() } catch { logger.error("standby: admin listener: \(error)") }
        control?.close(unlink: false)
        do { try openControlSocket() } catch { logger.error("standby: control socket: \(error)") }
        logger.notice("standby: accepting again", metadata: ["epoch": "\(marketData.epoch)"])
    }

    private func restartFeedAfterStandby() {
        if let simulator, !simulator.isRunning, configuration.effectiveSimulatorRate > 0 {
            simulator.start(now: MonotonicClock.now())
        }
        recorder?.start()
    }
}
