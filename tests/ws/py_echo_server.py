"""An echo server on Python's `websockets` (Debian python3-websockets), to check the
conformance suite against a WebSocket implementation other than ours. Prints "port N".
Runs under /usr/bin/python3, where Debian installs the package."""
import asyncio

import websockets


async def echo(ws, path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main():
    server = await websockets.serve(echo, "127.0.0.1", 0, max_size=64 << 20, compression=None)
    print("port", server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Future()


asyncio.run(main())
