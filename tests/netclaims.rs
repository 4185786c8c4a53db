//! The pure half of `superlinear net-claims` (`superlinear::reproduce::netclaims`):
//! checkpoint listing and striding, settings validation and claim ids.

use std::path::PathBuf;

use superlinear::reproduce::netclaims::{
    list_checkpoints, stride_checkpoints, NetClaim, NetClaimsSettings,
};
use superlinear::suppression::SuppressionConfig;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "superlinear-netclaims-pure-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn checkpoints_are_listed_in_epoch_order() {
    let dir = temp_dir("list");
    for f in [
        "epoch-0010.safetensors",
        "epoch-0002.safetensors",
        "final.safetensors",
        "notes.txt",
        "epoch-x.safetensors",
    ] {
        std::fs::write(dir.join(f), b"").unwrap();
    }
    let l = list_checkpoints(&dir, 12).unwrap();
    let epochs: Vec<usize> = l.iter().map(|c| c.epoch).collect();
    assert_eq!(epochs, vec![2, 10, 12]);
    // final.safetensors of the same epoch as the last epoch file is not repeated.
    let l = list_checkpoints(&dir, 10).unwrap();
    assert_eq!(l.iter().map(|c| c.epoch).collect::<Vec<_>>(), vec![2, 10]);
    let s = stride_checkpoints(&list_checkpoints(&dir, 12).unwrap(), 2);
    assert_eq!(s.iter().map(|c| c.epoch).collect::<Vec<_>>(), vec![2, 12]);
    let empty = temp_dir("empty");
    assert!(list_checkpoints(&empty, 1).is_err());
    assert!(list_checkpoints(&empty.join("missing"), 1).is_err());
}

#[test]
fn bad_settings_are_rejected() {
    let ok = NetClaimsSettings::default();
    ok.validate().unwrap();
    let bad = [
        NetClaimsSettings {
            claims: vec![],
            ..ok.clone()
        },
        NetClaimsSettings {
            claims: vec![NetClaim::C6, NetClaim::C6],
            ..ok.clone()
        },
        NetClaimsSettings {
            samples: 3,
            ..ok.clone()
        },
        NetClaimsSettings {
            top_k: 2,
            ..ok.clone()
        },
        NetClaimsSettings {
            stride: 0,
            ..ok.clone()
        },
        NetClaimsSettings {
            tails_factor: 0.0,
            ..ok.clone()
        },
        NetClaimsSettings {
            tails_factor: f64::NAN,
            ..ok.clone()
        },
        NetClaimsSettings {
            suppression: SuppressionConfig {
                q: 1.5,
                ..SuppressionConfig::default()
            },
            ..ok.clone()
        },
    ];
    for b in bad {
        assert!(b.validate().is_err(), "{b:?}");
    }
    let mut t = ok.clone();
    t.thresholds.c15_max_slope_drift = -0.5;
    assert!(t.validate().is_err());
    assert!(NetClaim::parse("c13").is_ok());
    assert!(NetClaim::parse("C99").is_err());
}
