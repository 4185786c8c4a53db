//! Progress is drawn only on an interactive stderr: with stderr captured (not
//! a terminal) a long command writes its normal output and nothing else.

use std::process::Command;

#[test]
fn captured_stderr_gets_no_progress() {
    let out = Command::new(env!("CARGO_BIN_EXE_superlinear"))
        .args(["baseline-grid", "--d", "12", "--rotations", "4"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("| 12 |"));
}
