//! A naming plugin that puts the owning team into the Service names.
//!
//! For `http://rgw.storage:7480` with the label `team: storage`:
//!
//! - target Service (what users connect to): `storage-rgw` in namespace
//!   `storage`, so the URL is reached as `storage-rgw.storage:7480`;
//! - upstream Service (operator namespace): `storage-rgw-<hash>`, where `hash`
//!   is 12 hex characters of SHA-256 over the account and the target. Two
//!   different targets never share an upstream Service, and every port of
//!   one target does, as the host requires.
//!
//! Every name is a DNS label of at most 63 characters: the upstream name
//! shortens `<team>-<name>` to fit, never the hash; a target name that would
//! be too long is refused with an error (shortening it would hide which URL
//! it is). An endpoint without the team label gets `defaultTeam` when one is
//! configured and is refused otherwise: the host reports the error against
//! that URL only and projects the others.
//!
//! Config (`naming.config` in policy.yaml), every key optional:
//!
//! ```json
//! {"teamLabel": "team", "defaultTeam": "shared"}
//! ```
// The generated export glue flattens the endpoint record into many arguments.
#![allow(clippy::too_many_arguments)]
use std::cell::RefCell;

use sha2::{Digest, Sha256};

// Bindings for the `naming` world of Bindery's WIT package; the path is
// relative to this Cargo.toml.
wit_bindgen::generate!({ world: "naming", path: "../../wit" });

use bindery::plugin::log::{Level, log};

/// Kubernetes object names used here are DNS labels: 63 characters at most.
const MAX: usize = 63;
/// Hex characters of the hash in upstream names (48 bits).
const HASH_LEN: usize = 12;

#[derive(Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    /// The endpoint label that names the team.
    #[serde(default = "default_team_label")]
    team_label: String,
    /// The team of endpoints without that label; none refuses them.
    #[serde(default)]
    default_team: Option<String>,
}

fn default_team_label() -> String {
    "team".to_string()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            team_label: default_team_label(),
            default_team: None,
        }
    }
}

// `configure` runs once per instance before any `names` call; a plugin keeps
// its configuration in instance state like this.
thread_local! {
    static CONFIG: RefCell<Config> = RefCell::new(Config::default());
}

struct TeamNaming;

impl Guest for TeamNaming {
    fn configure(config: String) -> Result<(), String> {
        // An `err` here rejects the whole policy generation: a typo in
        // policy.yaml never reaches the cluster.
        let config: Config = serde_json::from_str(&config).map_err(|e| {
            format!(
                "custom-naming config is {{\"teamLabel\": \"<label>\", \"defaultTeam\": \"<team>\"}}, both optional: {e}"
            )
        })?;
        if config.team_label.is_empty() {
            return Err("custom-naming: teamLabel must not be empty".to_string());
        }
        if let Some(team) = &config.default_team {
            check_team(team).map_err(|e| format!("custom-naming: defaultTeam {e}"))?;
        }
        CONFIG.with(|c| *c.borrow_mut() = config);
        Ok(())
    }

    fn names(endpoint: Endpoint, _context: NamingContext) -> Result<Names, String> {
        let config = CONFIG.with(|c| c.borrow().clone());
        let labelled = endpoint
            .labels
            .iter()
            .find(|(k, _)| *k == config.team_label)
            .map(|(_, v)| v.as_str());
        let team = match (labelled, config.default_team.as_deref()) {
            (Some(team), _) => {
                check_team(team).map_err(|e| format!("label {}={e}", config.team_label))?;
                team
            }
            (None, Some(team)) => team,
            (None, None) => {
                return Err(format!(
                    "no {:?} label and no defaultTeam in the naming config",
                    config.team_label
                ));
            }
        };

        let target_name = format!("{team}-{}", endpoint.name);
        if target_name.len() > MAX {
            return Err(format!(
                "target name {target_name:?} is longer than {MAX} characters; use a shorter team or URL name"
            ));
        }
        let upstream_name = upstream_name(&endpoint.account, &endpoint.namespace, &target_name);
        log(
            Level::Debug,
            &format!(
                "{} -> {}/{target_name} via {upstream_name}",
                endpoint.url, endpoint.namespace
            ),
        );
        Ok(Names {
            upstream_name,
            target_name,
            target_namespace: endpoint.namespace,
        })
    }
}

/// `<target name, shortened>-<hash>`: the hash covers the account and the
/// whole target, so shortening never makes two targets share a name.
fn upstream_name(account: &str, namespace: &str, target_name: &str) -> String {
    let digest = Sha256::new()
        .chain_update(account)
        .chain_update([0])
        .chain_update(namespace)
        .chain_update([0])
        .chain_update(target_name)
        .finalize();
    let hash: String = digest[..HASH_LEN / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let room = MAX - HASH_LEN - 1;
    let head: String = target_name.chars().take(room).collect();
    format!("{}-{hash}", head.trim_end_matches('-'))
}

/// A team goes first in Service names, so it must be a DNS label itself
/// (RFC 1035: a lowercase letter first, then `[a-z0-9-]`, no trailing `-`),
/// at most 40 characters to leave room for the URL's name.
fn check_team(team: &str) -> Result<(), String> {
    let ok = (1..=40).contains(&team.len())
        && team.starts_with(|c: char| c.is_ascii_lowercase())
        && team
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !team.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{team:?} is not usable in a Service name: 1-40 characters of [a-z0-9-], a letter first, no trailing '-'"
        ))
    }
}

export!(TeamNaming);
