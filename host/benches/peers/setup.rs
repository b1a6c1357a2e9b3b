//! The test bed: backends (an echo server, iperf3, an nginx origin) and,
//! in front of them, Bindery, HAProxy and nginx, each on its own ports.
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::load;
use crate::procs::{Proc, free_port, local, on_path, wait_listening};

/// One way to reach the tcp backends.
pub struct TcpPeer {
    pub name: &'static str,
    /// Where a client reaches the echo backend: a proxy's one address, or
    /// the backend's own [`load::ECHO_ADDRESSES`] (the first for ping-pong).
    pub echo: Vec<SocketAddr>,
    pub iperf: SocketAddr,
}

/// One way to reach the HTTP origin.
pub struct HttpPeer {
    pub name: &'static str,
    pub http: SocketAddr,
}

pub struct Bed {
    pub tcp: Vec<TcpPeer>,
    pub http: Vec<HttpPeer>,
    procs: Vec<Proc>,
    _dir: tempfile::TempDir,
}

/// The peers and load tools are installed (by `testenv/setup benches`).
pub fn require_peers() -> Result<(), String> {
    let missing: Vec<&str> = ["haproxy", "nginx", "iperf3", "wrk"]
        .into_iter()
        .filter(|bin| !on_path(bin))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} not installed: run testenv/setup benches",
        missing.join(", ")
    ))
}

impl Bed {
    /// The processes of the bed, one `name pid` line each.
    pub fn describe(&self) -> String {
        self.procs
            .iter()
            .map(Proc::describe)
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn start() -> Result<Bed, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let d = dir.path();
        let mut procs = Vec::new();

        let echo = load::echo_server()?;
        let iperf = local(free_port()?);
        procs.push(start(
            d,
            "iperf3",
            Command::new("iperf3").args(["-s", "-B", "127.0.0.1", "-p", &iperf.port().to_string()]),
            iperf,
        )?);
        let origin = local(free_port()?);
        write(
            d,
            "origin.conf",
            &nginx_conf(
                d,
                "origin",
                1,
                &format!(
                    "server {{ listen {origin}; keepalive_requests 10000000; location / {{ return 200 \"ok\\n\"; }} }}"
                ),
            ),
        )?;
        procs.push(start(
            d,
            "nginx origin",
            &mut nginx(d, "origin.conf"),
            origin,
        )?);

        let (bindery_proc, b) = bindery(d, &echo, iperf, origin, &BUILDS[0])?;
        procs.push(bindery_proc);
        let second = match BUILDS[1].program() {
            Some(_) => {
                let (p, b) = bindery(d, &echo, iperf, origin, &BUILDS[1])?;
                procs.push(p);
                Some(b)
            }
            None => None,
        };

        let (h_echo, h_iperf, h_http) = (
            local(free_port()?),
            local(free_port()?),
            local(free_port()?),
        );
        let (cpu_list, threads) = cpus()?;
        let echo_servers: String = echo
            .iter()
            .enumerate()
            .map(|(i, a)| format!("  server s{i} {a}\n"))
            .collect();
        // Every HTTP proxy adds `X-Forwarded-For` and `X-Forwarded-Proto`,
        // as Bindery does to every request: the same work, and the same
        // request reaches the origin from each.
        write(
            d,
            "haproxy.cfg",
            &format!(
                "global\n  maxconn 8000\n  nbthread {threads}\n  cpu-map auto:1/1-{threads} {cpu_list}\n\
             defaults\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\
             listen echo\n  mode tcp\n  balance roundrobin\n  bind {h_echo}\n{echo_servers}\
             listen iperf\n  mode tcp\n  bind {h_iperf}\n  server s1 {iperf}\n\
             listen web\n  mode http\n  option http-keep-alive\n  http-reuse always\n  option forwardfor\n  \
             http-request set-header X-Forwarded-Proto http\n  bind {h_http}\n  server s1 {origin}\n"
            ),
        )?;
        let cfg = d.join("haproxy.cfg");
        procs.push(start(
            d,
            "haproxy",
            Command::new("haproxy").arg("-db").arg("-f").arg(&cfg),
            h_http,
        )?);

        let n_http = local(free_port()?);
        write(
            d,
            "proxy.conf",
            &nginx_conf(
                d,
                "proxy",
                threads,
                &format!(
                    "upstream origin {{ server {origin}; keepalive 64; keepalive_requests 10000000; }}\n\
             server {{ listen {n_http}; keepalive_requests 10000000; location / {{ \
             proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection \"\"; \
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; \
             proxy_set_header X-Forwarded-Proto $scheme; }} }}"
                ),
            ),
        )?;
        procs.push(start(
            d,
            "nginx proxy",
            &mut nginx(d, "proxy.conf"),
            n_http,
        )?);

        let mut bed = Bed {
            tcp: vec![
                TcpPeer {
                    name: "direct",
                    echo,
                    iperf,
                },
                b.tcp_peer(BUILDS[0].name),
                TcpPeer {
                    name: "haproxy",
                    echo: vec![h_echo],
                    iperf: h_iperf,
                },
            ],
            http: vec![
                HttpPeer {
                    name: "direct",
                    http: origin,
                },
                b.http_peer(BUILDS[0].name),
                HttpPeer {
                    name: "haproxy",
                    http: h_http,
                },
                HttpPeer {
                    name: "nginx",
                    http: n_http,
                },
            ],
            procs,
            _dir: dir,
        };
        // The second build right after the first, in both lists.
        if let Some(b) = second {
            bed.tcp.insert(2, b.tcp_peer(BUILDS[1].name));
            bed.http.insert(2, b.http_peer(BUILDS[1].name));
        }
        Ok(bed)
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    std::fs::write(dir.join(name), text).map_err(|e| format!("writing {name}: {e}"))
}

/// Start `cmd`, logging to `<dir>/<name>.log`, and wait for `addr`.
fn start(dir: &Path, name: &str, cmd: &mut Command, addr: SocketAddr) -> Result<Proc, String> {
    let log = dir.join(format!("{}.log", name.replace(' ', "-")));
    let mut p = Proc::spawn(name, cmd.stdout(Stdio::null()), &log)?;
    wait_listening(name, addr).map_err(|e| match p.alive(&log) {
        Err(dead) => dead,
        Ok(()) => e,
    })?;
    Ok(p)
}

fn nginx(dir: &Path, conf: &str) -> Command {
    let mut c = Command::new("nginx");
    c.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join(conf))
        .args(["-g", "daemon off;"]);
    c
}

/// The CPUs this process may run on, as HAProxy's `cpu-map` lists them,
/// and how many. Each proxy runs a thread (or worker) per CPU pinned to
/// it, as Bindery does by default when its threads match its CPU set.
fn cpus() -> Result<(String, usize), String> {
    let cpus = bindery::forward::serve::affinity::allowed()
        .map_err(|e| format!("reading this process's CPU set: {e}"))?;
    let list: Vec<String> = cpus.iter().map(usize::to_string).collect();
    Ok((list.join(" "), cpus.len()))
}

fn nginx_conf(dir: &Path, name: &str, workers: usize, server: &str) -> String {
    let d = dir.display();
    // A proxy's workers are pinned one per CPU, as HAProxy's threads and
    // Bindery's are; the origin's one worker stays free.
    let affinity = if workers > 1 {
        "worker_cpu_affinity auto;\n"
    } else {
        ""
    };
    format!(
        "worker_processes {workers};\n{affinity}user root;\npid {d}/{name}.pid;\nerror_log stderr warn;\n\
         events {{ worker_connections 16384; }}\n\
         http {{ access_log off;\n\
         client_body_temp_path {d}/{name}-body; proxy_temp_path {d}/{name}-proxy;\n\
         fastcgi_temp_path {d}/{name}-fcgi; uwsgi_temp_path {d}/{name}-uwsgi; scgi_temp_path {d}/{name}-scgi;\n\
         {server}\n}}\n"
    )
}

struct BinderyAddrs {
    echo: SocketAddr,
    iperf: SocketAddr,
    http: SocketAddr,
}

impl BinderyAddrs {
    /// The tcp peer `name` of this build: its echo and iperf endpoints.
    fn tcp_peer(&self, name: &'static str) -> TcpPeer {
        TcpPeer {
            name,
            echo: vec![self.echo],
            iperf: self.iperf,
        }
    }

    fn http_peer(&self, name: &'static str) -> HttpPeer {
        HttpPeer {
            name,
            http: self.http,
        }
    }
}

/// A build of Bindery in the bed: this one (or `PEERS_BINDERY`), and a
/// second one only when `PEERS_BINDERY_B` names it, measured as peer
/// `bindery-b` in the same rounds: an A/B of two builds that the machine's
/// slow moments hit alike.
pub struct Build {
    pub name: &'static str,
    env: &'static str,
    /// The first port of its range, below the ephemeral range
    /// (32768-60999) where no client port lands.
    first: u16,
}

pub const BUILDS: [Build; 2] = [
    Build {
        name: "bindery",
        env: "PEERS_BINDERY",
        first: 12_000,
    },
    Build {
        name: "bindery-b",
        env: "PEERS_BINDERY_B",
        first: 14_000,
    },
];

impl Build {
    fn program(&self) -> Option<std::ffi::OsString> {
        std::env::var_os(self.env)
    }
}

/// `bindery standalone` with one tcp endpoint per tcp backend (the echo
/// backend's addresses its upstreams) and one http endpoint for the
/// origin, read back from the lines it prints.
fn bindery(
    dir: &Path,
    echo: &[SocketAddr],
    iperf: SocketAddr,
    origin: SocketAddr,
    build: &Build,
) -> Result<(Proc, BinderyAddrs), String> {
    let dir = &dir.join(build.name);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let first = build.first;
    let echo: Vec<String> = echo
        .iter()
        .map(|a| format!("{{address: \"{a}\"}}"))
        .collect();
    let echo = echo.join(", ");
    write(
        dir,
        "catalog.yaml",
        &format!(
            "endpoints:\n\
         - url: tcp://echo.bench:7\n  upstreams: [{echo}]\n\
         - url: tcp://iperf.bench:5201\n  upstreams: [{{address: \"{iperf}\"}}]\n\
         - url: http://web.bench\n  upstreams: [{{address: \"{origin}\"}}]\n"
        ),
    )?;
    write(
        dir,
        "policy.yaml",
        &format!(
            "router: {{plugin: builtin:round-robin}}\nports: {{first: {first}, last: {}}}\n",
            first + 999
        ),
    )?;
    let log = dir.join("bindery.log");
    let mut p = Proc::spawn(
        &format!("{} standalone", build.name),
        Command::new(
            build
                .program()
                .unwrap_or(env!("CARGO_BIN_EXE_bindery").into()),
        )
        .args([
            "standalone",
            "--catalog",
            "catalog.yaml",
            "--policy",
            "policy.yaml",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped()),
        &log,
    )?;
    let out = p.child().stdout.take().ok_or("bindery's stdout")?;
    let lines = crate::load::first_lines(out, 3, std::time::Duration::from_secs(30));
    let find = |url: &str| -> Result<SocketAddr, String> {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{url} -> ")))
            .and_then(|a| a.trim().parse().ok())
            .ok_or_else(|| {
                format!(
                    "bindery printed no line for {url}; it printed {lines:?}; log {}",
                    log.display()
                )
            })
    };
    let addrs = BinderyAddrs {
        echo: find("tcp://echo.bench:7")?,
        iperf: find("tcp://iperf.bench:5201")?,
        http: find("http://web.bench:80")?,
    };
    p.alive(&log)?;
    Ok((p, addrs))
}
