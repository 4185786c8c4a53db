//! The claim catalogue, `theory/claims.toml`, embedded in the binary and
//! parsed with serde (unknown keys are errors).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The catalogue text as committed.
pub const CLAIMS_TOML: &str = include_str!("../../theory/claims.toml");

/// What sort of statement a claim is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// Holds exactly (to rounding) on every input.
    Identity,
    /// A bound that holds on every admissible input.
    Inequality,
    /// Holds in a limit or to leading order.
    Asymptotic,
    /// A measured property of trained networks.
    Empirical,
}

/// Status recorded in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Our checks confirm it.
    Verified,
    /// Our checks found inputs where it fails as stated.
    Counterexample,
    /// No check yet.
    Unchecked,
}

/// One claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimEntry {
    pub id: String,
    pub title: String,
    pub paper_ref: String,
    pub statement: String,
    pub kind: ClaimKind,
    /// Name of the check function (`claims::cN::check`), empty when none.
    #[serde(default)]
    pub check: String,
    /// The command that checks the claim on trained networks (feature
    /// `torch`), for claims `verify` cannot decide from synthetic ensembles;
    /// empty when none. `verify` reports such a claim as unchecked and names
    /// this command.
    #[serde(default)]
    pub net_check: String,
    pub status: Status,
    #[serde(default)]
    pub notes: String,
}

/// The parsed catalogue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    #[serde(rename = "claim")]
    pub claims: Vec<ClaimEntry>,
}

impl Catalogue {
    /// Parses a catalogue from TOML text.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Io {
            path: source.to_string(),
            message: format!("invalid claim catalogue: {e}"),
        })
    }

    /// The catalogue compiled into this binary.
    pub fn builtin() -> Result<Self> {
        Self::parse(CLAIMS_TOML, "theory/claims.toml")
    }

    /// The entry for `id` (case-insensitive).
    pub fn get(&self, id: &str) -> Result<&ClaimEntry> {
        self.claims
            .iter()
            .find(|c| c.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| Error::UnknownClaim {
                id: id.to_string(),
                known: self
                    .claims
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}
