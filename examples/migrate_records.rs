//! Rewrites every JSON record under the given directories (default:
//! `experiments` and `theory`) in the current layout through its typed
//! reader and writer (`superlinear::reproduce::migrate`), refusing any file
//! whose rewrite would change a number or drop a field.
//!
//! `cargo run --release --example migrate_records -- [--check] [DIR ...]`
//! (`--check`: report what would change, write nothing).

use std::path::{Path, PathBuf};

use superlinear::reproduce::migrate::migrate_record;

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            json_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() {
    let mut write = true;
    let mut dirs = Vec::new();
    for arg in std::env::args().skip(1) {
        if arg == "--check" {
            write = false;
        } else {
            dirs.push(PathBuf::from(arg));
        }
    }
    if dirs.is_empty() {
        dirs = vec![PathBuf::from("experiments"), PathBuf::from("theory")];
    }
    let mut files = Vec::new();
    for d in &dirs {
        if let Err(e) = json_files(d, &mut files) {
            eprintln!("{}: {e}", d.display());
            std::process::exit(2);
        }
    }
    files.sort();
    let (mut changed, mut tags, mut numbers, mut failed) = (0, 0, 0, 0);
    for f in &files {
        match migrate_record(f, write) {
            Ok(m) => {
                changed += usize::from(m.changed);
                tags += m.tags_removed;
                numbers += m.numbers_compared;
            }
            Err(e) => {
                eprintln!("{e}");
                failed += 1;
            }
        }
    }
    println!(
        "{} files: {changed} {}, {tags} Ok/Err tags removed, {numbers} numbers compared bit for bit (all equal), {failed} refused",
        files.len(),
        if write { "rewritten" } else { "would change" },
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
