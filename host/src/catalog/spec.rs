//! One catalog entry, the same fields in the file and in a `BoundEndpoint`,
//! and the `BoundEndpoint` custom resource derived on them.
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An endpoint as the catalog gives it, before validation. In a cluster it is
/// the `spec` of a `BoundEndpoint` (`bindery.dev/v1alpha1`).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, CustomResource,
)]
#[kube(
    group = "bindery.dev",
    version = "v1alpha1",
    kind = "BoundEndpoint",
    namespaced,
    status = "BoundEndpointStatus",
    shortname = "bep",
    category = "bindery",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".status.mode"}"#,
    printcolumn = r#"{"name":"Endpoints","type":"string","priority":1,"jsonPath":".status.endpoints"}"#,
    printcolumn = r#"{"name":"Clusters","type":"integer","description":"On a hub: in how many member clusters the endpoint is projected","jsonPath":".status.clusterCount"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSpec {
    /// `[http|tcp]://name.namespace[:port]`.
    pub url: String,
    /// Account the endpoint belongs to; one installation serves one account.
    #[serde(default = "default_account")]
    pub account: String,
    /// Visible to selectors (`endpoint.labels`) and plugins.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Visible to selectors (`endpoint.metadata`) and plugins.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Whether other endpoints with the same URL may join this one's pool.
    #[serde(default = "yes")]
    pub pooling: bool,
    /// `proxy`: through Bindery's forwarder; `direct`: a Service with
    /// EndpointSlices listing the upstreams, balanced by kube-proxy. Unset:
    /// the policy's `defaultMode` (itself `proxy` unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Where the bytes go.
    #[serde(default)]
    pub upstreams: Vec<UpstreamSpec>,
}

/// One upstream of an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamSpec {
    /// `host:port`; the host may be an IP address or a DNS name.
    pub address: String,
    /// Relative weight, 1 to 10000.
    #[serde(default = "one")]
    pub weight: u32,
}

/// How a projection reaches its upstreams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// An ExternalName Service in front of Bindery's forwarder, which
    /// routes every connection (or request) with the router plugin.
    #[default]
    Proxy,
    /// A ClusterIP Service without a selector and EndpointSlices listing
    /// the upstreams: kube-proxy balances, no Bindery process on the path.
    Direct,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Proxy => "proxy",
            Mode::Direct => "direct",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const DEFAULT_ACCOUNT: &str = "default";

fn default_account() -> String {
    DEFAULT_ACCOUNT.to_string()
}

impl EndpointSpec {
    /// The account of an entry that names none.
    pub fn default_account() -> String {
        default_account()
    }
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

pub(crate) const SPEC_FIELDS: &[&str] = &[
    "url",
    "account",
    "labels",
    "metadata",
    "pooling",
    "mode",
    "upstreams",
];
pub(crate) const UPSTREAM_FIELDS: &[&str] = &["address", "weight"];

/// What Bindery made of the object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BoundEndpointStatus {
    /// `Ready`, plus `Selected`, `ServicesApplied` and `Conflict`, each with
    /// `observedGeneration`; in direct mode also `SettingsIgnored` when the
    /// entry asks for what kube-proxy cannot do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The mode in effect: the entry's, else the policy's `defaultMode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// The Service users connect to, `namespace/name`: ExternalName in
    /// proxy mode, ClusterIP without a selector in direct mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Proxy mode: the ClusterIP Service in the operator namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// Direct mode: endpoints ready of those listed, e.g. `11/12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<String>,
    /// On a hub: every member cluster's own entry, each written by that
    /// member alone (server-side apply, field manager `bindery-<cluster>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["cluster"]))]
    pub clusters: Vec<ClusterStatus>,
    /// On a hub: in how many member clusters the endpoint is projected (the
    /// entries with `ready: "True"`). Every member writes it beside its own
    /// entry, counted from the entries it sees; they agree once the object
    /// settles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_count: Option<i64>,
}

/// One member cluster's state of a hub `BoundEndpoint`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// The member's `--cluster-name`: the key of the list.
    pub cluster: String,
    /// `"True"` when projected there, else `"False"`.
    pub ready: String,
    /// `Projected`, or why not (`NotSelected`, `Conflict`, ...), as the
    /// member's local `Ready` condition would say.
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The hub object's generation this entry describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When `ready` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Who wrote it: the uid of the member cluster's `kube-system`
    /// namespace, which tells two clusters given the same name apart.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub member: String,
}

/// The CustomResourceDefinition, as YAML.
pub fn crd_yaml() -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string(&BoundEndpoint::crd())
}
