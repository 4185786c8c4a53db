//! Progress of long work: the library reports the stages and steps of a run
//! through [`Progress`], and the command line decides how to show them (a
//! bar on a terminal, nothing under `--json`, `--quiet` or when stderr is not
//! a terminal). The library never draws anything itself and depends on no
//! rendering crate.
//!
//! The contract: [`Progress::stage`] opens a stage of `total` steps (0: the
//! count is not known in advance), each [`Progress::step`] is one of them
//! done, [`Progress::done`] closes it; a stage opened with a total reports
//! exactly that many steps when it runs to its end. A receiver is `Sync`:
//! parallel workers report the steps of one stage from several threads.
//! Work that runs inside another stage's step (a run's analysis inside a
//! grid, a checkpoint's bootstrap inside `net-claims`) reports to
//! [`Silent`], so that one stage is open at a time.

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

/// An open stage that closes ([`Progress::done`]) when dropped, on every
/// way out of the work it covers, an error included.
pub struct StageGuard<'a> {
    progress: &'a dyn Progress,
}

impl<'a> StageGuard<'a> {
    /// Opens the stage `name` of `total` steps (0: not known) on `progress`.
    pub fn begin(progress: &'a dyn Progress, name: &str, total: u64) -> Self {
        progress.stage(name, total);
        StageGuard { progress }
    }

    /// One step of the stage is done.
    pub fn step(&self, message: &str) {
        self.progress.step(message);
    }
}

impl Drop for StageGuard<'_> {
    fn drop(&mut self) {
        self.progress.done();
    }
}
