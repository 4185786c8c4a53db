//! Progress of long work: the library reports the stages and steps of a run
//! through [`Progress`], and the command line decides how to show them (a
//! bar on a terminal, nothing under `--json` or when stderr is not a
//! terminal). The library never draws anything itself and depends on no
//! rendering crate.

/// A receiver of progress reports.
pub trait Progress: Sync {
    /// A stage of `total` steps begins (0: the count is not known).
    fn stage(&self, name: &str, total: u64);
    /// One step of the current stage is done; `message` says which.
    fn step(&self, message: &str);
    /// The current stage is over.
    fn done(&self);
}

/// Reports nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _name: &str, _total: u64) {}
    fn step(&self, _message: &str) {}
    fn done(&self) {}
}
