//! The `BoundEndpoint` custom resource: a catalog entry as a Kubernetes
//! object. Its type is derived on [`EndpointSpec`](super::EndpointSpec).
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::spec::BoundEndpoint;

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
