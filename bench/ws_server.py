"""One realtime process for bench/ws.py: the real app, the chosen WebSocket implementation,
tokens checked against the benchmark's own key (no auth service in the loop).

    python bench/ws_server.py PORT IMPL PUBLIC_KEY_HEX KID
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys
from functools import partial

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ems.common.security import TokenVerifier
from ems.realtime.app import create_app
from ems.realtime.settings import RealtimeSettings


def main() -> None:
    port, impl, key_hex, kid = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))

    async def keys() -> dict[str, Ed25519PublicKey]:
        return {kid: public}

    settings = RealtimeSettings(ws_implementation=impl, log_json=False)
    verifier = TokenVerifier(keys, settings.jwt_issuer, settings.jwt_audience)
    app = create_app(settings, token_verifier=verifier)
    run = partial(
        uvicorn.run,
        app,
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        access_log=False,
        backlog=4096,
        **settings.uvicorn_options(),
    )
    if os.environ.get("BENCH_WS_GC_LOG"):
        _log_gc_pauses()
    profile = os.environ.get("BENCH_WS_PROFILE")
    if profile:
        # Where a fan-out's time goes, for tuning: `python -m pstats FILE`. uvicorn
        # re-raises SIGTERM after its shutdown; exiting normally lets the profile be written.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        cProfile.runctx("run()", globals(), {"run": run}, profile)
    else:
        run()


def _log_gc_pauses() -> None:
    """Print every garbage-collector pause over 20 ms (to stderr): what explains the tail."""
    import gc
    import time

    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        pause = (time.perf_counter() - started[0]) * 1000
        if pause > 20:
            print(f"gc gen{info['generation']} pause {pause:.0f} ms", file=sys.stderr)

    gc.callbacks.append(callback)


if __name__ == "__main__":
    main()
