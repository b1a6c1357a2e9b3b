//! `cargo bench --bench hub`: a hub and two members, three real
//! kube-apiservers (testenv). 1,000 BoundEndpoints on the hub, two
//! `bindery run` members taking their catalog from it: the time from no
//! Service to all 2,000 applied in each member and every hub object showing
//! both members' Ready entries; then, with the 1,000 in place, how long one
//! change on the hub takes to take effect in a member (an endpoint created,
//! its port changed, deleted), measured in-process with kube clients
//! polling every 5 ms. Prints the figures; not a timed test (BENCHMARKS.md
//! has the measured ones).
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use support::cluster::{Cluster, Operator, another};
use support::wait_for;

use bindery::catalog::BoundEndpoint;

const N: usize = 1000;
/// Changes of each kind measured.
const ROUNDS: usize = 5;
const HUB_NS: &str = "acme";
const OP: &str = "bench-op";
const APPS: &str = "bench-apps";

fn endpoint(i: usize, port: usize) -> String {
    format!(
        "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: e{i}, namespace: {HUB_NS}}}\nspec: {{url: \"tcp://e{i}.{APPS}:{port}\", account: bench, upstreams: [{{address: \"127.0.0.1:9\"}}]}}\n---\n"
    )
}

async fn client(kubeconfig: &Path) -> kube::Client {
    let file = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// Poll every 5 ms until `done` holds for the Service `name` (None: absent)
/// in `api`; the time since `from`.
async fn until(
    api: &Api<Service>,
    name: &str,
    from: Instant,
    done: impl Fn(Option<&Service>) -> bool,
) -> Duration {
    let limit = Duration::from_secs(120);
    loop {
        let s = api.get_opt(name).await.expect("get Service");
        if done(s.as_ref()) {
            return from.elapsed();
        }
        assert!(from.elapsed() < limit, "{name} did not change in {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn port_of(s: Option<&Service>) -> Option<i32> {
    Some(s?.spec.as_ref()?.ports.as_ref()?.first()?.port)
}

/// The upstream Service a target Service points to (`<name>.<ns>.svc...`).
fn upstream_of(s: Option<&Service>) -> Option<String> {
    let name = s?.spec.as_ref()?.external_name.as_ref()?;
    name.split('.').next().map(str::to_string)
}

fn member(c: &Cluster, hub: &Cluster, pod: &str, listen: &str, name: &str) -> Operator {
    c.namespace(OP);
    c.namespace(APPS);
    let dir = tempfile::tempdir().expect("tempdir").keep();
    std::fs::write(
        dir.join("policy.yaml"),
        "account: bench\nports: {first: 30000, last: 31999}\n",
    )
    .expect("policy");
    Operator::start(
        c,
        pod,
        &[
            "--operator-namespace",
            OP,
            "--policy",
            dir.join("policy.yaml").to_str().expect("utf-8"),
            "--listen",
            listen,
            "--resync-seconds",
            "30",
            "--no-local-catalog",
            "--hub-kubeconfig",
            hub.kubeconfig.to_str().expect("utf-8"),
            "--hub-namespace",
            HUB_NS,
            "--cluster-name",
            name,
        ],
    )
}

fn median(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(*v.last().expect("rounds")))
}

fn main() {
    let (hub, m1, m2) = std::thread::scope(|s| {
        let hub = s.spawn(|| another("bench-hub"));
        let m1 = s.spawn(|| another("bench-hub-m1"));
        let m2 = s.spawn(|| another("bench-hub-m2"));
        (
            hub.join().expect("hub"),
            m1.join().expect("m1"),
            m2.join().expect("m2"),
        )
    });
    hub.namespace(HUB_NS);
    let yaml: String = (0..N).map(|i| endpoint(i, 1000 + i)).collect();
    hub.apply(&yaml);

    let start = Instant::now();
    let a = member(&m1, &hub, "bench-m1", "127.0.9.11", "m1");
    let b = member(&m2, &hub, "bench-m2", "127.0.9.12", "m2");
    let limit = Duration::from_secs(900);
    let count = |c: &Cluster| c.services(APPS, "bindery.dev/account=bench").len();
    let mut applied = [Duration::ZERO; 2];
    wait_for(limit, "2,000 Services in each member", || {
        for (i, c) in [&m1, &m2].into_iter().enumerate() {
            if applied[i].is_zero() && count(c) == N {
                applied[i] = start.elapsed();
            }
        }
        !applied[0].is_zero() && !applied[1].is_zero()
    });
    wait_for(limit, "every hub object Ready in both members", || {
        let out = hub.kubectl(&[
            "get",
            "boundendpoints",
            "-n",
            HUB_NS,
            "-o",
            "jsonpath={.items[*].status.clusterCount}",
        ]);
        out.split_whitespace().filter(|s| *s == "2").count() == N
    });
    let entries = start.elapsed();
    let hub_writes = (
        a.metric("bindery_hub_status_writes_total"),
        b.metric("bindery_hub_status_writes_total"),
    );

    println!("endpoints on the hub: {N}, members: 2");
    println!(
        "start -> all {} Services applied: m1 {:.1} s, m2 {:.1} s",
        2 * N,
        applied[0].as_secs_f64(),
        applied[1].as_secs_f64()
    );
    println!(
        "start -> every hub object with both members' Ready entries: {:.1} s (hub status writes: m1 {}, m2 {})",
        entries.as_secs_f64(),
        hub_writes.0,
        hub_writes.1
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (created, changed, deleted) = rt.block_on(async {
        let hub_api: Api<BoundEndpoint> = Api::namespaced(client(&hub.kubeconfig).await, HUB_NS);
        let (c1, c2) = (client(&m1.kubeconfig).await, client(&m2.kubeconfig).await);
        let members = [
            Api::<Service>::namespaced(c1.clone(), APPS),
            Api::<Service>::namespaced(c2.clone(), APPS),
        ];
        let ops = [
            Api::<Service>::namespaced(c1, OP),
            Api::<Service>::namespaced(c2, OP),
        ];
        let (mut created, mut changed, mut deleted) = (vec![], vec![], vec![]);
        for r in 0..ROUNDS {
            let i = N + r;
            let name = format!("e{i}");
            let object: BoundEndpoint =
                serde_saphyr::from_str(endpoint(i, 5000).trim_end_matches("---\n"))
                    .expect("object");
            let t = Instant::now();
            hub_api
                .create(&PostParams::default(), &object)
                .await
                .expect("create");
            for m in &members {
                created.push(until(m, &name, t, |s| s.is_some()).await);
            }
            // A new port: the upstream Service's port follows.
            let patch = serde_json::json!({"spec": {"url": format!("tcp://{name}.{APPS}:5001")}});
            let t = Instant::now();
            hub_api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .expect("patch");
            for (m, op) in members.iter().zip(&ops) {
                let target = m.get_opt(&name).await.expect("get target");
                let upstream = upstream_of(target.as_ref()).expect("an ExternalName target");
                changed.push(until(op, &upstream, t, |s| port_of(s) == Some(5001)).await);
            }
            let t = Instant::now();
            hub_api
                .delete(&name, &DeleteParams::default())
                .await
                .expect("delete");
            for m in &members {
                deleted.push(until(m, &name, t, |s| s.is_none()).await);
            }
        }
        (created, changed, deleted)
    });

    for (what, v) in [
        ("created", created),
        ("port changed", changed),
        ("deleted", deleted),
    ] {
        let (med, max) = median(v);
        println!(
            "one endpoint {what} on the hub -> its Services in a member: median {med:.0} ms, max {max:.0} ms ({ROUNDS} rounds x 2 members)"
        );
    }
}
