/// What one side of a feature flag's comparison did: the sessions that asked for its feature
/// and got it ("on"), or asked and did not ("off"). The figures are those a canary is judged
/// by: failed sessions, error replies, deliveries and their bytes, and (in the loop, by latency
/// class) how long output waited.
struct CohortCounters {
    /// Sessions that joined this side (when they first asked for the feature), and those open.
    var sessionsStarted: UInt64 = 0
    var sessionsOpen: Int = 0
    /// Sessions that ended in a failure (`DeployFigures.failureCodes`).
    var failures: UInt64 = 0
    var commandErrors: UInt64 = 0
    var messages: UInt64 = 0
    var bytes: UInt64 = 0
}

/// Both sides of each gated feature, stored apart (an array in a class would cost a
/// uniqueness check on the delivery path), indexed by a session's cohort bits.
struct Cohorts {
    var deltaOn = CohortCounters()
    var deltaOff = CohortCounters()
    var capsOn = CohortCounters()
    var capsOff = CohortCounters()

    subscript(feature: GatedFeature, on: Bool) -> CohortCounters {
        switch (feature, on) {
        case (.deltaUpdates, true): deltaOn
        case (.deltaUpdates, false): deltaOff
        case (.rateCaps, true): capsOn
        case (.rateCaps, false): capsOff
        }
    }

    /// A delivery to a session whose cohort bits are `bits` (not 0).
    @inline(__always)
    mutating func recordSent(_ bits: UInt8, bytes: Int) {
        forEach(in: bits) { counters in
            counters.messages &+= 1
            counters.bytes &+= UInt64(bytes)
        }
    }

    @inline(__always)
    mutating func forEach(in bits: UInt8, _ body: (inout CohortCounters) -> Void) {
        if bits & 1 != 0 { body(&deltaOn) }
        if bits & 2 != 0 { body(&deltaOff) }
        if bits & 4 != 0 { body(&capsOn) }
        if bits & 8 != 0 { body(&capsOff) }
    }
}
