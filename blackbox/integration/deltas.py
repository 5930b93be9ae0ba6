"""An independent reading of v2's delta updates (protocols/v2.md, "Delta updates"): what a
delta subscriber holds per symbol, rebuilt from whole states and deltas."""


class DeltaBook:
    def __init__(self):
        self.states = {}  # symbol -> the whole state held, as the plain stream would show it
        self.deltas = 0
        self.wholes = 0

    def apply(self, msg: dict) -> dict:
        """Takes one update and returns the whole state it leaves; raises AssertionError when a
        delta does not apply to what is held."""
        symbol = msg["symbol"]
        if "depth" in msg:
            self.wholes += 1
            self.states[symbol] = dict(msg)
            return dict(msg)
        self.deltas += 1
        held = self.states[symbol]
        assert msg["seq"] == held["seq"] + 1, f"delta {msg['seq']} on {held['seq']}"
        state = dict(held, seq=msg["seq"], ts=msg["ts"])
        for field in ("last", "bid", "ask"):
            if field in msg:
                state[field] = msg[field]
        bids = {row[0]: row[1] for row in held["depth"]}
        asks = {row[2]: row[3] for row in held["depth"]}
        for side, changes in ((bids, msg.get("bids", [])), (asks, msg.get("asks", []))):
            for price, size in changes:
                if size == 0:
                    assert price in side, f"removal of {price}, not held"
                    del side[price]
                else:
                    side[price] = size
        best_bids = sorted(bids.items(), key=lambda level: -level[0])
        best_asks = sorted(asks.items())
        assert len(best_bids) == len(best_asks), "sides of different lengths"
        state["depth"] = [[bp, bs, ap, asz] for (bp, bs), (ap, asz) in zip(best_bids, best_asks)]
        self.states[symbol] = state
        return state
