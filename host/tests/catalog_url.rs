//! `--catalog-url`: `bindery run` against a real apiserver, reading its
//! catalog from a real HTTP(S) server in this test (std sockets, rustls for
//! https) that answers with ETags and 304s, checks a bearer token, and can
//! be switched to a 500, an invalid catalog, an empty body, an empty
//! catalog or no server at all. A failing source keeps its last good
//! catalog; an emptied one is held by the deletion guard until confirmed.
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use support::cluster::{Cluster, Operator, cluster, op_args, policy};
use support::forward::{Server, line_echo, say};
use support::{tools, wait_for};

const LIMIT: Duration = Duration::from_secs(60);

fn testenv() -> &'static Cluster {
    cluster("catalog-url")
}

/// What the server answers now.
#[derive(Clone)]
enum Answer {
    /// 200 with this body and Content-Type, its ETag a digest of the body.
    Catalog(String, &'static str),
    /// This status, no catalog.
    Status(u16),
}

#[derive(Default)]
struct Counts {
    requests: usize,
    not_modified: usize,
    unauthorized: usize,
}

/// A catalog server on 127.0.0.1, http or (with a TLS config) https.
struct CatalogServer {
    addr: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    counts: Arc<Mutex<Counts>>,
    token: String,
    tls: Option<Arc<ServerConfig>>,
    running: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl CatalogServer {
    fn start(answer: Answer, token: &str, tls: Option<Arc<ServerConfig>>) -> CatalogServer {
        let mut s = CatalogServer {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            answer: Arc::new(Mutex::new(answer)),
            counts: Arc::default(),
            token: token.to_string(),
            tls,
            running: None,
        };
        s.listen();
        s
    }

    fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/catalog", self.addr)
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().expect("answer") = answer;
    }

    fn counts(&self) -> (usize, usize, usize) {
        let c = self.counts.lock().expect("counts");
        (c.requests, c.not_modified, c.unauthorized)
    }

    /// Listen (again, on the same port after [`Self::stop`]).
    fn listen(&mut self) {
        let listener = TcpListener::bind(self.addr).expect("bind the catalog server");
        self.addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let (answer, counts, token, tls, flag) = (
            self.answer.clone(),
            self.counts.clone(),
            self.token.clone(),
            self.tls.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (answer, counts, token, tls) =
                    (answer.clone(), counts.clone(), token.clone(), tls.clone());
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                    match tls {
                        Some(config) => {
                            let Ok(tls) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            serve(
                                rustls::StreamOwned::new(tls, conn),
                                &answer,
                                &counts,
                                &token,
                            )
                        }
                        None => serve(conn, &answer, &counts, &token),
                    }
                });
            }
        });
        self.running = Some((stop, thread));
    }

    /// Stop listening: connections are refused until [`Self::listen`].
    fn stop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr);
            thread.join().expect("catalog server thread");
        }
    }
}

fn etag(body: &str) -> String {
    use sha2::Digest;
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(body)[..8]))
}

/// One request, answered as `answer` says; `Connection: close`.
fn serve(mut s: impl Read + Write, answer: &Mutex<Answer>, counts: &Mutex<Counts>, token: &str) {
    let mut head = Vec::new();
    {
        let mut r = BufReader::new(&mut s);
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => head.push(line.trim_end().to_string()),
            }
        }
    }
    let header = |name: &str| {
        head.iter().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let mut c = counts.lock().expect("counts");
    c.requests += 1;
    let reply = if header("authorization") != Some(format!("Bearer {token}")) {
        c.unauthorized += 1;
        "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
    } else {
        match answer.lock().expect("answer").clone() {
            Answer::Catalog(body, kind) => {
                let tag = etag(&body);
                if header("if-none-match").as_deref() == Some(tag.as_str()) {
                    c.not_modified += 1;
                    format!("HTTP/1.1 304 Not Modified\r\netag: {tag}\r\nconnection: close\r\n\r\n")
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\netag: {tag}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                }
            }
            Answer::Status(code) => format!(
                "HTTP/1.1 {code} Oops\r\ncontent-length: 6\r\nconnection: close\r\n\r\nbroken"
            ),
        }
    };
    drop(c);
    let _ = s.write_all(reply.as_bytes());
    let _ = s.flush();
}

/// A way for the server to fail, named.
type Failure = (&'static str, Box<dyn Fn(&mut CatalogServer)>);

fn yaml(account: &str, entries: &[(&str, &str)]) -> String {
    let mut s = String::from("endpoints:\n");
    for (url, upstream) in entries {
        s += &format!(
            "  - url: {url}\n    account: {account}\n    upstreams: [{{address: \"{upstream}\"}}]\n"
        );
    }
    s
}

fn services(c: &Cluster, ns: &str) -> Vec<String> {
    let mut s = c.services(ns, "app.kubernetes.io/managed-by=bindery");
    s.sort();
    s
}

fn start(
    c: &Cluster,
    pod: &str,
    op: &str,
    account: &str,
    first_port: u16,
    listen: &str,
    extra: &[&str],
) -> (Operator, tempfile::TempDir) {
    c.namespace(op);
    let dir = policy(account, first_port, "");
    let mut args = op_args(op, &dir, listen);
    args.extend(["--catalog-url-interval-seconds", "1"]);
    args.extend_from_slice(extra);
    (Operator::start(c, pod, &args), dir)
}

fn served_at(c: &Cluster, op: &str, listen: &str, url: &str) -> Option<SocketAddr> {
    let port = *c
        .allocation(op, "app.kubernetes.io/managed-by=bindery")
        .get(url)?;
    format!("{listen}:{port}").parse().ok()
}

#[test]
fn a_catalog_url_is_polled_with_etags_keeps_its_last_good_catalog_and_guards_an_emptied_one() {
    let c = testenv();
    let (op, apps) = ("u1-op", "u1-apps");
    c.namespace(apps);
    let up = Server::start(line_echo("u1")).leak().to_string();
    let good = yaml(
        "u1",
        &[
            ("tcp://a.u1-apps:80", &up),
            ("tcp://b.u1-apps:81", &up),
            ("https://bad.u1-apps", &up),
        ],
    );
    let mut server =
        CatalogServer::start(Answer::Catalog(good, "application/yaml"), "s3cret", None);
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").expect("token");
    let url = server.url();
    let (operator, _policy) = start(
        c,
        "u1-0",
        op,
        "u1",
        23600,
        "127.0.6.1",
        &[
            "--catalog-url",
            &url,
            "--catalog-url-token-file",
            token.to_str().expect("utf-8"),
            "--deletion-guard-min",
            "1",
            "--deletion-hold-seconds",
            "0",
        ],
    );
    wait_for(LIMIT, "a and b projected", || {
        services(c, apps) == ["a", "b"]
    });
    let a = served_at(c, op, "127.0.6.1", "tcp://a.u1-apps:80").expect("a's port");
    wait_for(LIMIT, "a served", || {
        say(a, "one").is_ok_and(|r| r == "u1 one")
    });
    // Unchanged catalog: 304s, and the token was sent every time.
    wait_for(LIMIT, "a few 304 answers", || server.counts().1 >= 3);
    assert_eq!(server.counts().2, 0, "a request came without the token");
    // The origin in /v1/endpoints and in the rejection.
    let view: serde_json::Value =
        serde_json::from_str(&operator.admin_get("/v1/endpoints").expect("/v1/endpoints"))
            .expect("json");
    let entries = view["endpoints"].to_string();
    assert!(entries.contains(&format!("{url} endpoints[0]")), "{view}");
    let rejected = view["rejected"].as_array().expect("rejected");
    assert_eq!(rejected.len(), 1, "{view}");
    assert_eq!(rejected[0]["entry"], format!("{url} endpoints[2]"));
    assert_eq!(rejected[0]["reason"], "Invalid");

    let up_metric = format!("bindery_source_up{{source=\"catalog URL {url}\"}}");
    assert_eq!(operator.metric(&up_metric), 1.0);
    // A 500, an invalid catalog, an empty body, no server: each reported,
    // none deletes anything, and a keeps being served.
    let failures: [Failure; 4] = [
        ("a 500", Box::new(|s| s.set(Answer::Status(500)))),
        (
            "an invalid catalog",
            Box::new(|s| {
                s.set(Answer::Catalog(
                    "endpoints: [oops".into(),
                    "application/yaml",
                ))
            }),
        ),
        (
            "an empty body",
            Box::new(|s| s.set(Answer::Catalog(String::new(), "application/yaml"))),
        ),
        ("no server", Box::new(|s| s.stop())),
    ];
    for (what, fail) in &failures {
        fail(&mut server);
        wait_for(LIMIT, &format!("{what} to be reported"), || {
            operator.metric(&up_metric) == 0.0
        });
        operator.wait_passes(2);
        assert_eq!(services(c, apps), ["a", "b"], "{what} deleted Services");
        assert_eq!(say(a, "two").ok().as_deref(), Some("u1 two"), "{what}");
        let event = c.kubectl(&[
            "get",
            "events",
            "-n",
            op,
            "--field-selector",
            "reason=ReloadFailed",
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        assert!(
            event.contains(&format!("catalog URL {url}")),
            "{what}: {event}"
        );
        // Back to good, for the next.
        server.set(Answer::Catalog(
            yaml(
                "u1",
                &[("tcp://a.u1-apps:80", &up), ("tcp://b.u1-apps:81", &up)],
            ),
            "application/yaml",
        ));
        if server.running.is_none() {
            server.listen();
        }
        wait_for(LIMIT, &format!("recovery after {what}"), || {
            operator.metric(&up_metric) == 1.0
        });
    }

    // A changed catalog, as JSON: b goes (half the projections: not held),
    // c comes.
    server.set(Answer::Catalog(
        format!(
            r#"{{"endpoints": [{{"url": "tcp://a.u1-apps:80", "account": "u1", "upstreams": [{{"address": "{up}"}}]}}, {{"url": "tcp://c.u1-apps:82", "account": "u1", "upstreams": [{{"address": "{up}"}}]}}]}}"#
        ),
        "application/json",
    ));
    wait_for(LIMIT, "a and c", || services(c, apps) == ["a", "c"]);

    // An emptied catalog would delete every projection: held, reported on
    // the account's Lease, until the token shown there is confirmed.
    server.set(Answer::Catalog(
        "endpoints: []\n".into(),
        "application/yaml",
    ));
    let held = || {
        c.get(
            "lease",
            op,
            "bindery-u1",
            r#"{.metadata.annotations.bindery\.dev/deletions-held}"#,
        )
        .unwrap_or_default()
    };
    wait_for(LIMIT, "the deletions to be held", || !held().is_empty());
    operator.wait_passes(2);
    assert_eq!(
        services(c, apps),
        ["a", "c"],
        "deleted without confirmation"
    );
    assert_eq!(operator.metric("bindery_reconcile_deletions_held"), 4.0);
    let event = c.kubectl(&[
        "get",
        "events",
        "-n",
        op,
        "--field-selector",
        "reason=DeletionsHeld",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(event.contains("confirm-deletions="), "{event}");
    let note = held();
    let token = note
        .strip_prefix("token=")
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("no token in {note:?}"));
    c.kubectl(&[
        "annotate",
        "--overwrite",
        "lease",
        "-n",
        op,
        "bindery-u1",
        &format!("bindery.dev/confirm-deletions={token}"),
    ]);
    wait_for(LIMIT, "the confirmed deletions", || {
        services(c, apps).is_empty()
    });
    wait_for(LIMIT, "the hold to be lifted", || held().is_empty());
}

/// A CA and a leaf for 127.0.0.1 signed by it, made by openssl in `dir`.
fn certificates(dir: &Path) -> (Arc<ServerConfig>, std::path::PathBuf) {
    let openssl = |args: &[&str]| {
        let out = tools::on_path("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=bindery test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("cert.pem"))
        .expect("cert.pem")
        .collect::<Result<_, _>>()
        .expect("cert");
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).expect("key.pem");
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
    (Arc::new(config), dir.join("ca.pem"))
}

#[test]
fn an_https_catalog_url_is_trusted_through_the_given_ca_bundle() {
    let c = testenv();
    let (op, apps) = ("u2-op", "u2-apps");
    c.namespace(apps);
    let dir = tempfile::tempdir().expect("tempdir");
    let (tls, ca) = certificates(dir.path());
    let up = Server::start(line_echo("u2")).leak().to_string();
    let server = CatalogServer::start(
        Answer::Catalog(
            yaml("u2", &[("tcp://s.u2-apps:80", &up)]),
            "application/yaml",
        ),
        "t0ken",
        Some(tls),
    );
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken").expect("token");
    let url = server.url();
    let (operator, _policy) = start(
        c,
        "u2-0",
        op,
        "u2",
        23700,
        "127.0.6.2",
        &[
            "--catalog-url",
            &url,
            "--catalog-url-token-file",
            token.to_str().expect("utf-8"),
            "--catalog-url-ca-file",
            ca.to_str().expect("utf-8"),
        ],
    );
    wait_for(LIMIT, "s projected", || services(c, apps) == ["s"]);
    let s = served_at(c, op, "127.0.6.2", "tcp://s.u2-apps:80").expect("s's port");
    wait_for(LIMIT, "s served", || {
        say(s, "tls").is_ok_and(|r| r == "u2 tls")
    });
    wait_for(LIMIT, "a 304 over TLS", || server.counts().1 >= 1);
    assert_eq!(
        operator.metric(&format!(
            "bindery_source_up{{source=\"catalog URL {url}\"}}"
        )),
        1.0
    );
}
