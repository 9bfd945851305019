"""The abusive clients of ``gridledger bench abuse``, as a process of their own.

``python -m gridledger.bench.attacker HOST PORT UPLOADS UPLOAD_MB SLOW SECONDS``: ``UPLOADS``
clients each send a ``UPLOAD_MB`` MB body to ``/v1/txs/batch`` as fast as loopback takes it,
again and again; ``SLOW`` clients open a connection and send a header line every second, never
finishing. It stops after ``SECONDS`` or at SIGTERM and prints three counts: uploads answered,
uploads refused or cut, slow connections the server closed. For benchmarks on loopback only.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time

_CHUNK = b" " * (1 << 20)


class Attack:
    def __init__(self, host: str, port: int, seconds: float) -> None:
        self.host = host
        self.port = port
        self.end = time.monotonic() + seconds
        self.answered = 0
        self.refused = 0
        self.slow_cut = 0

    def stop(self) -> None:
        self.end = 0.0

    def going(self) -> bool:
        return time.monotonic() < self.end

    async def upload(self, size: int) -> None:
        head = (
            f"POST /v1/txs/batch HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n["
        ).encode()
        while self.going():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(head)
                sent = 1
                while sent < size - 1 and self.going():
                    n = min(len(_CHUNK), size - 1 - sent)
                    writer.write(_CHUNK[:n])
                    await writer.drain()
                    sent += n
                writer.write(b"]")
                await writer.drain()
                answer = await asyncio.wait_for(reader.read(64), 10)
                self.answered += 1
                if not answer.startswith(b"HTTP/1.1 200"):
                    self.refused += 1
                writer.close()
            except (OSError, TimeoutError):
                self.refused += 1
                await asyncio.sleep(0.05)

    async def slowloris(self) -> None:
        while self.going():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(b"POST /v1/txs HTTP/1.1\r\nHost: x\r\n")
                while self.going():
                    await asyncio.sleep(1.0)
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()
                    if reader.at_eof():
                        raise ConnectionResetError
                writer.close()
            except OSError:
                self.slow_cut += 1
                await asyncio.sleep(0.1)


async def _main(argv: list[str]) -> Attack:
    host, port, uploads, upload_mb, slow, seconds = argv
    attack = Attack(host, int(port), float(seconds))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, attack.stop)
    size = int(upload_mb) * (1 << 20)
    await asyncio.gather(
        *[attack.upload(size) for _ in range(int(uploads))],
        *[attack.slowloris() for _ in range(int(slow))],
    )
    return attack


if __name__ == "__main__":
    done = asyncio.run(_main(sys.argv[1:]))
    print(done.answered, done.refused, done.slow_cut, flush=True)
