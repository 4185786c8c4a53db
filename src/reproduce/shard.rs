//! A deterministic share of a grid for one process of many (`--shard I/N`
//! of `reproduce` and `net-grid`): the jobs are put in one fixed order, and
//! shard `I/N` takes those whose position `j` (0-based) satisfies
//! `j mod N = I - 1`. The shards of one `N` partition the plan whatever the
//! machines or the order in which they start, so a cluster's job array can
//! spread a grid over nodes and merge the records afterwards
//! (`--report-only` on the shared results directory).

use crate::reproduce::ReproduceError;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// The whole plan.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Parses `I/N` with `1 <= I <= N`.
    pub fn parse(s: &str) -> Result<Self, ReproduceError> {
        let bad = |why: &str| ReproduceError::setting("shard", s, why.to_string());
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| bad("expected I/N, e.g. 1/2"))?;
        let index: usize = i.trim().parse().map_err(|_| bad("I is not a number"))?;
        let count: usize = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(bad("need 1 <= I <= N"));
        }
        Ok(Shard { index, count })
    }

    /// The shard a `--shard` flag names ([`Shard::parse`]), the whole plan
    /// ([`Shard::ALL`]) without the flag.
    pub fn of_flag(flag: Option<&str>) -> Result<Self, ReproduceError> {
        flag.map_or(Ok(Shard::ALL), Shard::parse)
    }

    /// Whether the job at `position` in the plan belongs to this shard.
    pub fn takes(self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}
