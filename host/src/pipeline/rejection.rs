//! What a stage did not project, and why. A leaf, like `types`.
use std::fmt;

/// The rule an entry fell foul of; its name is the `reason` of the `Ready`
/// condition in a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectKind {
    /// The entry breaks a field rule.
    Invalid,
    /// It belongs to another account: invisible to this installation.
    OtherAccount,
    /// No selector chose it.
    NotSelected,
    /// A selector failed on it.
    SelectorFailed,
    /// Its URL is taken by an endpoint that does not pool.
    PoolConflict,
    /// Its pool (or its target Service) is projected in the other mode.
    ModeConflict,
    /// The naming plugin failed on it.
    NamingFailed,
    /// The naming plugin returned names that break Kubernetes' rules.
    InvalidName,
    /// Its names collide with another projection's.
    NameCollision,
    /// No forwarder port is left in the range.
    PortsExhausted,
}

impl RejectKind {
    pub fn reason(self) -> &'static str {
        match self {
            RejectKind::Invalid => "Invalid",
            RejectKind::OtherAccount => "OtherAccount",
            RejectKind::NotSelected => "NotSelected",
            RejectKind::SelectorFailed => "SelectorFailed",
            RejectKind::PoolConflict => "PoolConflict",
            RejectKind::ModeConflict => "ModeConflict",
            RejectKind::NamingFailed => "NamingFailed",
            RejectKind::InvalidName => "InvalidName",
            RejectKind::NameCollision => "NameCollision",
            RejectKind::PortsExhausted => "PortsExhausted",
        }
    }

    /// Whether this is an error to fix rather than a choice of the policy.
    pub fn is_error(self) -> bool {
        !matches!(self, RejectKind::OtherAccount | RejectKind::NotSelected)
    }
}

/// One entry not projected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub entry: String,
    pub url: Option<String>,
    pub kind: RejectKind,
    pub message: String,
}

impl Rejection {
    pub fn new(
        entry: &str,
        url: Option<&str>,
        kind: RejectKind,
        message: impl Into<String>,
    ) -> Rejection {
        Rejection {
            entry: entry.to_string(),
            url: url.map(str::to_string),
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.entry)?;
        if let Some(u) = &self.url {
            write!(f, " ({u})")?;
        }
        write!(f, ": {}: {}", self.kind.reason(), self.message)
    }
}
