//! The grid's plan: every job in one deterministic order, the stages and the
//! shards. Order: the pilot (every family at every candidate rate with the
//! pilot seed, at the pilot's K), then the further runs of every row (family
//! x K, at the rate the pilot chose; the pilot's own run is seed 0 of the
//! pilot-K row, reused where it is on disk), then the analysis of every row and seed. A shard `I/N`
//! takes the jobs whose index in that order is `I - 1` modulo `N`, so the
//! shards partition the plan. A pilot job trains its rate on the network of
//! the family's current pilot round (a repeated round, widened or
//! re-initialised, reuses the same jobs; `crate::claims::premise::repeat_pilot`).

use super::config::NetGridConfig;
pub use crate::reproduce::shard::Shard;
use crate::reproduce::ReproduceError;

/// A stage of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Seed-0 runs at every candidate rate.
    Pilot,
    /// Every seed at the chosen rate (the pilot's run reused).
    Train,
    /// The analysis of every family and seed.
    Analyze,
    /// All three, in order.
    All,
}

impl Stage {
    /// Parses `pilot`, `train`, `analyze` or `all`.
    pub fn parse(s: &str) -> Result<Self, ReproduceError> {
        match s {
            "pilot" => Ok(Stage::Pilot),
            "train" => Ok(Stage::Train),
            "analyze" => Ok(Stage::Analyze),
            "all" => Ok(Stage::All),
            other => Err(ReproduceError::setting(
                "stage",
                other,
                "one of pilot, train, analyze, all",
            )),
        }
    }

    /// Whether this stage runs `job`.
    pub fn includes(self, job: &Job) -> bool {
        matches!(
            (self, job),
            (Stage::All, _)
                | (Stage::Pilot, Job::Pilot { .. })
                | (Stage::Train, Job::Train { .. })
                | (Stage::Analyze, Job::Analyze { .. })
        )
    }
}

/// One job of the plan; families by index into the config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Job {
    /// Train family `family` at rate `lr` with the pilot seed.
    Pilot {
        /// Family index.
        family: usize,
        /// Rate.
        lr: f64,
    },
    /// Train family `family` at K = `classes` with `seed` at the chosen rate.
    Train {
        /// Family index.
        family: usize,
        /// Classes K of the row.
        classes: usize,
        /// Seed.
        seed: u64,
    },
    /// Analyse family `family`'s run at K = `classes` with `seed`.
    Analyze {
        /// Family index.
        family: usize,
        /// Classes K of the row.
        classes: usize,
        /// Seed.
        seed: u64,
    },
}

impl Job {
    /// The family index of the job.
    pub fn family(&self) -> usize {
        match *self {
            Job::Pilot { family, .. } | Job::Train { family, .. } | Job::Analyze { family, .. } => {
                family
            }
        }
    }

    /// A short label for progress lines.
    pub fn label(&self, config: &NetGridConfig) -> String {
        match *self {
            Job::Pilot { family, lr } => format!(
                "pilot {} lr {lr} seed {}",
                config.family[family].id(),
                config.pilot_seed()
            ),
            Job::Train {
                family,
                classes,
                seed,
            } => {
                format!("train {} seed {seed}", config.row_id(family, classes))
            }
            Job::Analyze {
                family,
                classes,
                seed,
            } => {
                format!("analyze {} seed {seed}", config.row_id(family, classes))
            }
        }
    }
}

/// Every job in plan order (module doc).
pub fn plan(config: &NetGridConfig) -> Vec<Job> {
    let nf = config.family.len();
    let pilot = (0..nf).flat_map(|family| {
        config
            .lr_candidates
            .iter()
            .map(move |&lr| Job::Pilot { family, lr })
    });
    let train = config.rows().into_iter().flat_map(move |r| {
        config.seeds.iter().map(move |&seed| Job::Train {
            family: r.family,
            classes: r.classes,
            seed,
        })
    });
    let analyze = config.rows().into_iter().flat_map(move |r| {
        config.seeds.iter().map(move |&seed| Job::Analyze {
            family: r.family,
            classes: r.classes,
            seed,
        })
    });
    pilot.chain(train).chain(analyze).collect()
}

/// The jobs of `stage` in `shard`, in plan order.
pub fn select(config: &NetGridConfig, stage: Stage, shard: Shard) -> Vec<Job> {
    plan(config)
        .into_iter()
        .enumerate()
        .filter(|(i, j)| shard.takes(*i) && stage.includes(j))
        .map(|(_, j)| j)
        .collect()
}
