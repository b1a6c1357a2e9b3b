//! One catalog entry, the same fields in the file and in a `BoundEndpoint`,
//! and the `BoundEndpoint` custom resource derived on them.
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
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
    "upstreams",
];
pub(crate) const UPSTREAM_FIELDS: &[&str] = &["address", "weight"];

/// What Bindery made of the object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BoundEndpointStatus {
    /// `Ready`, plus `Selected`, `ServicesApplied` and `Conflict`, each with
    /// `observedGeneration`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The ExternalName Service users connect to, `namespace/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The ClusterIP Service in the operator namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

/// The CustomResourceDefinition, as YAML.
pub fn crd_yaml() -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string(&BoundEndpoint::crd())
}
