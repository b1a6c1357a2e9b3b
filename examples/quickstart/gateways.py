"""Stand-ins for the quickstart's upstreams: the 12 Ceph RADOS gateways of
seed 004 (HTTP on 127.0.0.1:17481-17492, each answering with its name) and
the orders database (a line echo on 127.0.0.1:15432 and 127.0.0.2:15432)."""
import http.server
import socketserver
import threading


class Gateway(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = f"rgw-{self.server.server_address[1] - 17480} {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(b"orders-db@%s: " % self.server.server_address[0].encode() + line)


class Threaded(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ThreadedTcp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


servers = [Threaded(("127.0.0.1", 17480 + i), Gateway) for i in range(1, 13)]
servers += [ThreadedTcp((ip, 15432), Echo) for ip in ("127.0.0.1", "127.0.0.2")]
for s in servers:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("upstreams: 12 gateways on 127.0.0.1:17481-17492, orders-db on 127.0.0.{1,2}:15432", flush=True)
threading.Event().wait()
