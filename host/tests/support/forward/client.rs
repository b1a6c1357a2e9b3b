//! Clients with blocking std sockets: connect, read an upstream's greeting,
//! finish an exchange, one HTTP/1.1 GET, one line.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::PATIENCE;

/// A connection with [`PATIENCE`] for the connect and every read and write.
pub fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, PATIENCE)?;
    s.set_read_timeout(Some(PATIENCE))?;
    s.set_write_timeout(Some(PATIENCE))?;
    Ok(s)
}

/// Open a connection and read the greeting of the upstream it reached; the
/// connection stays open.
pub fn hold(addr: SocketAddr) -> std::io::Result<(TcpStream, usize)> {
    let s = connect(addr)?;
    let tag = read_tag(&s)?;
    Ok((s, tag))
}

/// A connection from source address `from` (any 127.0.0.0/8 address).
pub fn hold_from(from: std::net::IpAddr, addr: SocketAddr) -> std::io::Result<(TcpStream, usize)> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(from, 0).into())?;
    socket.connect_timeout(&addr.into(), PATIENCE)?;
    let s: TcpStream = socket.into();
    s.set_read_timeout(Some(PATIENCE))?;
    let tag = read_tag(&s)?;
    Ok((s, tag))
}

fn read_tag(s: &TcpStream) -> std::io::Result<usize> {
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    line.trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("no upstream greeting, got {line:?}")))
}

/// One whole exchange: which upstream answered, and that it echoes and
/// closes after our FIN.
pub fn ask(addr: SocketAddr) -> std::io::Result<usize> {
    let (s, tag) = hold(addr)?;
    finish(s)?;
    Ok(tag)
}

/// Send a line, half-close, and expect exactly that line back, then EOF.
pub fn finish(mut s: TcpStream) -> std::io::Result<()> {
    s.write_all(b"ping\n")?;
    s.shutdown(Shutdown::Write)?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)?;
    if rest != b"ping\n" {
        return Err(std::io::Error::other(format!(
            "echo after greeting: {:?}",
            String::from_utf8_lossy(&rest)
        )));
    }
    Ok(())
}

/// Read until EOF; true when the peer closed (EOF or reset) rather than
/// the read timing out.
pub fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// `GET path` on the connected `s`, with `Host: host`, `Connection: close`
/// and `headers`: the status and the body.
pub fn http_get_on(
    mut s: TcpStream,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    request += "\r\n";
    s.write_all(request.as_bytes())?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    let bad = |what: &str| std::io::Error::other(format!("{what} in {reply:?}"));
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no end of the response head"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    Ok((status, body.to_string()))
}

/// [`http_get_on`] a new [`connect`]ion to `addr`; panics on an I/O error.
pub fn http_get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    connect(addr)
        .and_then(|s| http_get_on(s, host, path, headers))
        .unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"))
}

/// One line through `addr` (to a [`super::line_echo`] upstream): what came
/// back, trimmed. Short timeouts: a poll of something not served yet.
pub fn say(addr: SocketAddr, line: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    writeln!(s, "{line}")?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply)?;
    Ok(reply.trim().to_string())
}

/// Which upstream answered a connection to an [`super::announce`] upstream:
/// its greeting, read to the close. Short timeouts: a load that counts a
/// slow connection as failed.
pub fn announced(addr: SocketAddr) -> std::io::Result<usize> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    reply
        .trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("bad reply {reply:?}")))
}
