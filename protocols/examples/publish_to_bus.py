"""Publishes updates for one symbol straight into the Tickstream bus (NATS), as a writer must:
the whole state after each update, numbered after the stream's last message for the symbol.

    pip install nats-py==2.16.0
    python publish_to_bus.py nats://127.0.0.1:4222 AAPL 5

Run one writer per symbol at a time (a second one would number over this one).
"""
import asyncio
import json
import sys
import time

import nats
from nats.js.errors import NotFoundError

PREFIX = "md"    # --bus-prefix
STREAM = "MD"    # --bus-stream


async def main(server: str, symbol: str, count: int) -> None:
    nc = await nats.connect(server)
    subject = f"{PREFIX}.{symbol}"
    try:
        # Continue the symbol's sequence: never from 1 when the stream has seen it before.
        last = await nc.jsm().get_last_msg(STREAM, subject, direct=True)
        state = json.loads(last.data)
    except NotFoundError:
        state = {"symbol": symbol, "last": 100.0, "bid": 99.99, "ask": 100.01, "book": [], "seq": 0}
    for _ in range(count):
        price = round(state["last"] + 0.01, 2)
        state = {
            "symbol": symbol,
            "last": price, "bid": round(price - 0.01, 2), "ask": round(price + 0.01, 2),
            # The whole book, every time: a bus message is the symbol's complete state.
            "book": [[round(price - 0.01, 2), 300, round(price + 0.01, 2), 200]],
            "seq": state["seq"] + 1,
            "ts": int(time.time() * 1_000_000),
        }
        await nc.publish(subject, json.dumps(state, separators=(",", ":")).encode())
        print(f"published {subject} seq {state['seq']} last {price}")
    await nc.flush()
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 5))
