"""Stand-in upstreams for the router examples, as in catalog.yaml: HTTP/1.1
servers on 127.0.0.1:18181-18184 answering "<name> <path>", and TCP servers
on 127.0.0.1:16381 and 16384 that greet with their name and close."""
import asyncio

HTTP = {18181: "acme-1", 18182: "acme-2", 18183: "globex-1", 18184: "shared-1"}
TCP = {16381: "cache-acme", 16384: "cache-shared"}


async def answer(name, reader, writer):
    """Answer GET requests on one keep-alive connection until the peer closes."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode("latin-1")
            body = f"{name} {path}\n".encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
                         b"content-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, IndexError):
        pass
    writer.close()


async def greet(name, _reader, writer):
    writer.write(f"{name}\n".encode())
    await writer.drain()
    writer.close()


async def main():
    def bind(handler, name):
        return lambda r, w: handler(name, r, w)
    for port, name in HTTP.items():
        await asyncio.start_server(bind(answer, name), "127.0.0.1", port)
    for port, name in TCP.items():
        await asyncio.start_server(bind(greet, name), "127.0.0.1", port)
    print("upstreams: http on 127.0.0.1:18181-18184, tcp on 127.0.0.1:16381,16384", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
