"""Stand-in upstreams for the router examples, as in catalog.yaml: HTTP
servers on 127.0.0.1:18181-18184 answering "<name> <path>" and TCP servers on
127.0.0.1:16381 and 16384 greeting with their name."""
import http.server
import socketserver
import threading

HTTP = {18181: "acme-1", 18182: "acme-2", 18183: "globex-1", 18184: "shared-1"}
TCP = {16381: "cache-acme", 16384: "cache-shared"}


class Named(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = f"{HTTP[self.server.server_address[1]]} {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Greet(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(f"{TCP[self.server.server_address[1]]}\n".encode())


class ThreadedHttp(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ThreadedTcp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


servers = [ThreadedHttp(("127.0.0.1", port), Named) for port in HTTP]
servers += [ThreadedTcp(("127.0.0.1", port), Greet) for port in TCP]
for s in servers:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("upstreams: http on 127.0.0.1:18181-18184, tcp on 127.0.0.1:16381,16384", flush=True)
threading.Event().wait()
