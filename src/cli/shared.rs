//! Argument blocks several commands share, flattened into each (clap
//! `#[command(flatten)]`): the synthetic checks' seed and case count
//! (`verify`, `claims`, `report`) and where the committed records and
//! configs are (`claims`, `report`). A command whose help words a flag
//! differently overrides that flag's help with `mut_arg`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use superlinear::claims::CheckSettings;
use superlinear::reproduce::evidence::{EvidenceSettings, NET_K3_TOML, RECORDS_DIR};
use superlinear::reproduce::netgrid::{NETGRID_TOML, TABLE1_V2_TOML};

/// `--seed` and `--cases` of the synthetic checks.
#[derive(Debug, Args)]
pub struct ChecksArgs {
    /// Master seed: the same seed gives the same figures.
    #[arg(long, default_value_t = CheckSettings::default().seed)]
    pub seed: u64,
    /// Random cases (ensembles, rotations) each property check draws.
    #[arg(long, default_value_t = CheckSettings::default().cases)]
    pub cases: usize,
}

impl ChecksArgs {
    /// The checked settings (a zero case count is refused naming `cases`).
    pub fn settings(&self) -> Result<CheckSettings> {
        Ok(CheckSettings::new(self.seed, self.cases)?)
    }
}

/// `--records`, `--net-config`, `--table1-config` and `--net-k3-config`:
/// the committed records and the grids' configs the networks' lines are
/// judged from.
#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// Directory of the committed records (`table1-v2/`, `net/`, `net-k3/`).
    #[arg(long, default_value = RECORDS_DIR)]
    pub records: PathBuf,
    /// The net-claims grid's config (its families and seeds).
    #[arg(long, default_value = NETGRID_TOML)]
    pub net_config: PathBuf,
    /// Table 1 at the premise: its config (rows and seeds; records under
    /// `<records>/table1-v2/`).
    #[arg(long, default_value = TABLE1_V2_TOML)]
    pub table1_config: PathBuf,
    /// The net-claims grid at K = 3 (records under `<records>/net-k3/`).
    #[arg(long, default_value = NET_K3_TOML)]
    pub net_k3_config: PathBuf,
}

impl RecordsArgs {
    /// The evidence settings of `checks` on these records, for claim `only`
    /// (None: every claim).
    pub fn evidence(self, checks: CheckSettings, only: Option<String>) -> EvidenceSettings {
        EvidenceSettings {
            checks,
            only,
            records: self.records,
            net_config: self.net_config,
            table1_config: self.table1_config,
            net_k3_config: self.net_k3_config,
        }
    }
}
