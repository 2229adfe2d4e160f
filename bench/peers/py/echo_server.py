# SPDX-License-Identifier: MIT
#
# echo_server: TCP echo server on 127.0.0.1:<port> with asyncio streams: a
# task per connection (asyncio.start_server) reading up to 16 KiB
# (reader.read(16384)), writing it back (writer.write + await drain()) until
# the client closes. Prints only "listening <port>" (port 0 picks a free port
# and prints it) once it accepts, then runs until killed. The listen backlog
# is socket.SOMAXCONN (start_server's default is 100); asyncio and uvloop
# both set TCP_NODELAY on TCP connections.
#
# Usage: echo_server.py [--uvloop] <port>
import argparse
import asyncio
import socket
import sys


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--uvloop", action="store_true", help="use uvloop's event loop policy")
    a = p.parse_args()
    if not 0 <= a.port <= 65535:
        p.error("port must be 0..65535")
    if a.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return a


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(16384)
            if not data:  # the client closed
                break
            writer.write(data)
            await writer.drain()
    except OSError:  # reset by the client, broken pipe, ...
        pass
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def main(port):
    server = await asyncio.start_server(echo, "127.0.0.1", port, backlog=socket.SOMAXCONN)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening {bound}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    args = parse_args()
    try:
        asyncio.run(main(args.port))
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as e:  # bind failures and the like: one line, no traceback
        sys.exit(f"echo_server: {e}")
