//! `superlinear net-grid`: the trained-network evidence for C6, C7, C13 and
//! C15 (and C9's empirical reading, gamma in [1, 2] at every checkpoint) on
//! the grid fixed in `experiments/netgrid.toml`: every family x seed,
//! analysed at every checkpoint.
//!
//! Stages ([`plan`]):
//! 1. **pilot**: each family trained with the pilot seed at every candidate
//!    rate; the rate is chosen by the rule of `crate::claims::premise`
//!    (lowest final loss among runs meeting the premise, else highest final
//!    accuracy) and recorded in `<out>/<family>/pilot.json`; every pilot
//!    run's curves go to the family's ledger (`<out>/<family>/pilot-runs.json`,
//!    [`ledger`]), from which a pilot resumes where its training
//!    directories are gone;
//! 2. **train**: the further seeds at the chosen rate (and the pilot's own
//!    run at the chosen rate where it is not on disk); a run whose analysis
//!    record is stored is not trained again;
//! 3. **analyze**: `crate::reproduce::netclaims` on every checkpoint of each
//!    chosen-rate run (stride 1, all four claims, `analyze_samples` samples,
//!    top-k `top_k`, default thresholds, matched-pair seed = the run's seed),
//!    one record `<out>/<family>/seed-<s>.json` per run ([`record`]).
//!
//! Training runs live in `<work>/<family>/lr-<lr>/seed-<s>/` (what
//! `superlinear train` writes); a directory whose `run.json` matches the plan
//! is reused, a missing one is trained into a temporary sibling and renamed.
//! Records are resumable (a stored record with the same config and a valid
//! checksum is reused unless `--reanalyze`); `RESULTS.md` is written from
//! the records ([`report`]), with the cross-seed and cross-family verdict
//! lines of `crate::claims::netgrid`. Config, plan, records and report are
//! pure; training and analysis (`run`) need feature `torch`.
//!
//! The same machinery runs Table 1 at the paper's premise
//! (`experiments/table1-v2.toml`): several K per family (rows
//! `<family>-k<K>`), per-family data and epochs, a pilot at the largest K
//! that is repeated on a widened or He-initialised network where
//! `crate::claims::premise::repeat_pilot` says so, two top-k columns, and
//! its own report ([`table1`]: Tables 1 and 3, C14's line).
//!
//! Progress: a stage per stage of the plan run (`pilot`, `train`,
//! `analyze`) with a step per job, then the stored records (a step per
//! family) and `report`.

pub mod config;
pub mod ledger;
pub mod plan;
pub mod record;
pub mod report;
#[cfg(feature = "torch")]
pub mod run;
pub mod table1;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use config::{Family, NetGridConfig, NETGRID_TOML, TABLE1_V2_TOML};
pub use plan::{Job, Shard, Stage};
pub use report::net_grid_lines;

use crate::claims::evidence::Line;
use crate::progress::Progress;
use crate::reproduce::ReproduceError;

/// Settings of one `net-grid` call.
#[derive(Debug, Clone)]
pub struct NetGridSettings {
    /// The grid.
    pub config: NetGridConfig,
    /// Records and `RESULTS.md`.
    pub out: PathBuf,
    /// Training runs root.
    pub work: PathBuf,
    /// Data root (None: `SUPERLINEAR_DATA`).
    pub data_root: Option<PathBuf>,
    /// Runs in parallel.
    pub jobs: usize,
    /// libtorch threads per job.
    pub threads: i32,
    /// The shard of the plan this call runs.
    pub shard: Shard,
    /// The stage(s) this call runs.
    pub stage: Stage,
    /// Redo the analysis even where a record exists.
    pub reanalyze: bool,
    /// The families this call runs, by id (empty: every family). The
    /// records of the others are left as they are.
    pub families: Vec<String>,
    /// The command line quoted in `RESULTS.md`.
    pub command: String,
}

impl NetGridSettings {
    /// Checks the settings; errors name the flag.
    pub fn validate(&self) -> Result<(), ReproduceError> {
        if self.jobs == 0 {
            return Err(ReproduceError::setting("jobs", 0, "must be at least 1"));
        }
        if self.threads < 1 {
            return Err(ReproduceError::setting(
                "threads",
                self.threads,
                "must be at least 1",
            ));
        }
        let ids = self.config.family_ids();
        for f in &self.families {
            if !ids.contains(f) {
                return Err(ReproduceError::setting(
                    "family",
                    f,
                    format!("not a family of the config (one of {})", ids.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// Whether this call runs family `fi` of the config.
    pub fn runs_family(&self, fi: usize) -> bool {
        self.families.is_empty()
            || self
                .config
                .family
                .get(fi)
                .is_some_and(|f| self.families.contains(&f.id()))
    }
}

/// What one call did.
#[derive(Debug, Clone)]
pub struct NetGridReport {
    /// Training runs trained now.
    pub trained: usize,
    /// Training runs reused.
    pub reused_runs: usize,
    /// Runs analysed now.
    pub analysed: usize,
    /// Analysis records reused.
    pub reused_records: usize,
    /// Jobs skipped, with the reason (e.g. the pilot not complete).
    pub skipped: Vec<String>,
    /// The verdict line of each claim.
    pub lines: BTreeMap<String, Line>,
    /// `RESULTS.md`.
    pub markdown: String,
}

/// `--report-only`: reads the records under `settings.out` and writes
/// `RESULTS.md` (no torch, no training); progress as in
/// [`report::write_report`].
pub fn report_only(
    settings: &NetGridSettings,
    progress: &dyn Progress,
) -> Result<NetGridReport, ReproduceError> {
    let (markdown, lines, stored) =
        report::write_report(&settings.config, &settings.out, &settings.command, progress)?;
    Ok(NetGridReport {
        trained: 0,
        reused_runs: 0,
        analysed: 0,
        reused_records: stored.runs.len(),
        skipped: stored.skipped,
        lines,
        markdown,
    })
}
