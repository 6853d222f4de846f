"""The stand-in server when nginx is unavailable: "200 ok" to any request, keep-alive, a counter.

    python fast_server.py PORT COUNT_PATH

A request for COUNT_PATH answers ``requests N``: the requests answered so far, itself included.
"""

import asyncio
import sys

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
COUNT_REQUEST = b"GET %s " % sys.argv[2].encode()
answered = 0


class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        global answered
        buffer = self.buffer + data
        close = False
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head, buffer = buffer[:end], buffer[end + 4 :]
            answered += 1
            if head.startswith(COUNT_REQUEST):
                body = b"requests %d\n" % answered
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            else:
                self.transport.write(OK)
            close = close or b"connection: close" in head.lower()
        self.buffer = buffer
        if close:
            self.transport.close()


async def main():
    server = await asyncio.get_running_loop().create_server(
        Http, "127.0.0.1", int(sys.argv[1]), backlog=1024
    )
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
