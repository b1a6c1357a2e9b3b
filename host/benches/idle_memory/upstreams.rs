//! The two upstreams, in a process of their own: an echo server, and an
//! HTTP/1.1 origin answering every request `200 ok` with keep-alive.
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::procs::Proc;

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n";

/// The upstreams in a child process (this program with `--upstreams`),
/// logging into `dir`: the process, the echo server's address and the
/// origin's.
pub fn spawn(dir: &Path) -> Result<(Proc, SocketAddr, SocketAddr), String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let log = dir.join("upstreams.log");
    let mut p = Proc::spawn(
        "upstreams",
        Command::new(me).arg("--upstreams").stdout(Stdio::piped()),
        &log,
    )?;
    let out = p.child().stdout.take().ok_or("the upstreams' stdout")?;
    let lines = crate::first_lines(out, 2, Duration::from_secs(20));
    let addr = |i: usize| -> Result<SocketAddr, String> {
        lines
            .get(i)
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| format!("the upstreams printed {lines:?}, not two addresses"))
    };
    Ok((p, addr(0)?, addr(1)?))
}

/// The child: both servers, their addresses printed (echo, then origin),
/// until it is killed.
pub fn serve_forever() -> ! {
    let run = || -> std::io::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let echo = TcpListener::bind("127.0.0.1:0").await?;
            let origin = TcpListener::bind("127.0.0.1:0").await?;
            println!("{}\n{}", echo.local_addr()?, origin.local_addr()?);
            tokio::join!(serve(echo, false), serve(origin, true));
            Ok(())
        })
    };
    if let Err(e) = run() {
        eprintln!("upstreams: {e}");
    }
    std::process::exit(1)
}

async fn serve(l: TcpListener, http: bool) {
    while let Ok((mut s, _)) = l.accept().await {
        tokio::spawn(async move {
            if http {
                while read_request(&mut s).await.is_ok() {
                    if s.write_all(RESPONSE).await.is_err() {
                        return;
                    }
                }
            } else {
                let mut buf = [0u8; 512];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// A request head (the requests here have no body).
async fn read_request(s: &mut (impl AsyncRead + Unpin)) -> std::io::Result<()> {
    read_head(s).await.map(drop)
}

/// A response head and its `content-length` body.
pub async fn read_response(s: &mut (impl AsyncRead + Unpin)) -> std::io::Result<()> {
    let head = read_head(s).await?;
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if !text.starts_with("http/1.1 200") {
        return Err(std::io::Error::other(format!(
            "unexpected response: {text:?}"
        )));
    }
    let len: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("a response without content-length"))?;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    Ok(())
}

/// Bytes up to and including the blank line, read a byte at a time: a
/// head is all that comes before the next exchange.
async fn read_head(s: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let b = s.read_u8().await?;
        head.push(b);
    }
    Ok(head)
}
