//! A real OCI registry on loopback for the tests: Debian's
//! `docker-registry` (the CNCF distribution server) on a free 127.0.0.1
//! port, with its own config and storage directory, optionally behind TLS
//! with a CA the test makes and behind htpasswd credentials.
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
pub struct Options {
    pub tls: bool,
    /// `(user, password)` required of every client.
    pub htpasswd: Option<(String, String)>,
}

pub struct Registry {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    options: Options,
}

impl Registry {
    pub fn start(options: Options) -> Registry {
        let dir = tempfile::tempdir().expect("registry dir");
        let addr = free_addr();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog: {{disabled: true}}\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete: {{enabled: true}}\n\
             http:\n  addr: {addr}\n  secret: bindery-test-secret\n",
            dir.path().join("storage").display()
        );
        if options.tls {
            make_certs(dir.path());
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.path().join("server.crt").display(),
                dir.path().join("server.key").display()
            ));
        }
        if let Some((user, password)) = &options.htpasswd {
            let out = super::tools::on_path("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("running htpasswd");
            assert!(out.status.success(), "htpasswd failed");
            std::fs::write(dir.path().join("htpasswd"), &out.stdout).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: bindery-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        std::fs::write(dir.path().join("config.yml"), config).expect("write registry config");
        let mut registry = Registry {
            child: None,
            addr,
            dir,
            options,
        };
        registry.resume();
        registry
    }

    /// Start the registry process again (after [`Registry::stop`]) on the
    /// same port and storage.
    pub fn resume(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("registry.log")).expect("log");
        let child = super::tools::on_path("docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().ok().flatten()) {
                panic!("docker-registry exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {} in 30 s: {}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop the registry process; its storage stays.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `127.0.0.1:PORT`, as references name it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("oci://{}/{repo_and_tag}", self.addr)
    }

    pub fn ca(&self) -> PathBuf {
        assert!(self.options.tls, "a plain registry has no CA");
        self.dir.path().join("ca.crt")
    }

    /// A dockerconfigjson file with `user:password` for this registry.
    pub fn auth_file(&self, user: &str, password: &str) -> PathBuf {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let path = self
            .dir
            .path()
            .join(format!("dockerconfig-{user}-{}.json", password.len()));
        let text = serde_json::json!({"auths": {self.host(): {"auth": auth}}});
        std::fs::write(&path, text.to_string()).expect("write dockerconfigjson");
        path
    }

    /// The file the registry stores blob `sha256:<hex>` in.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("docker-registry's log:\n{}", self.log());
        }
    }
}

/// A loopback port free when this returns.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// A CA and a server certificate for 127.0.0.1 and localhost, signed by it.
fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let out = super::tools::on_path("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=bindery test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}
