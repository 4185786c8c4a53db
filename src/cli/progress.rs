//! The one renderer of progress: a bar (or a spinner when the step count is
//! unknown) on stderr through indicatif, for every command whose library
//! call reports to `superlinear::progress::Progress`. Silent under `--json`
//! and `--quiet` and when stderr is not a terminal, so that piped and
//! captured runs see only the command's normal output. Steps may come from
//! several worker threads (`--jobs`): the bar sits behind a mutex.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use superlinear::progress::{Progress, Silent};

/// How often a bar redraws on its own, so that the elapsed time moves during
/// a long step.
const TICK: Duration = Duration::from_millis(250);

/// A bar per stage on stderr.
#[derive(Default)]
struct Bar {
    current: Mutex<Option<ProgressBar>>,
}

impl Progress for Bar {
    fn stage(&self, name: &str, total: u64) {
        let bar = if total > 0 {
            ProgressBar::new(total)
        } else {
            ProgressBar::new_spinner()
        };
        let template = if total > 0 {
            "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} (eta {eta}) {wide_msg}"
        } else {
            "{prefix} {spinner} {elapsed_precise} {wide_msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(TICK);
        if let Ok(mut current) = self.current.lock() {
            if let Some(old) = current.replace(bar) {
                old.finish_and_clear();
            }
        }
    }

    fn step(&self, message: &str) {
        if let Ok(current) = self.current.lock() {
            if let Some(bar) = current.as_ref() {
                bar.set_message(message.to_string());
                bar.inc(1);
            }
        }
    }

    fn done(&self) {
        if let Ok(mut current) = self.current.lock() {
            if let Some(bar) = current.take() {
                bar.finish_and_clear();
            }
        }
    }
}

impl Drop for Bar {
    /// A command that ends on an error leaves no bar behind its message.
    fn drop(&mut self) {
        self.done();
    }
}

/// The progress receiver of a command: a bar on an interactive stderr,
/// silence when `quiet` (the command's `--json` or `--quiet`) or when stderr
/// is redirected.
pub fn reporter(quiet: bool) -> Box<dyn Progress> {
    if quiet || !std::io::stderr().is_terminal() {
        Box::new(Silent)
    } else {
        Box::new(Bar::default())
    }
}
