//! The factor-file reader (`data::factors`): files written with the
//! `safetensors` crate read back exactly, one test per error kind (each error
//! one line naming the file and what is wrong), every strict prefix of a valid
//! file refused, and corrupted bytes never panic.

use proptest::prelude::*;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use superlinear::data::factors::{
    self, parse_factors, read_factors, read_factors_capped, FactorLoss, FactorPrecision,
};
use superlinear::data::DataError;

const LABEL: &str = "test.safetensors";

/// One tensor to write: name, dtype, shape, raw little-endian bytes.
#[derive(Clone)]
struct T {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn f64t(name: &str, shape: &[usize], values: &[f64]) -> T {
    T {
        name: name.into(),
        dtype: Dtype::F64,
        shape: shape.to_vec(),
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn f32t(name: &str, shape: &[usize], values: &[f64]) -> T {
    T {
        name: name.into(),
        dtype: Dtype::F32,
        shape: shape.to_vec(),
        bytes: values
            .iter()
            .flat_map(|&v| (v as f32).to_le_bytes())
            .collect(),
    }
}

fn i64t(name: &str, values: &[i64]) -> T {
    T {
        name: name.into(),
        dtype: Dtype::I64,
        shape: vec![values.len()],
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// A valid set: N = 3, K = 3, out = 2, in = 4, CE.
struct Spec {
    n: usize,
    k: usize,
    out: usize,
    inn: usize,
}

const SPEC: Spec = Spec {
    n: 3,
    k: 3,
    out: 2,
    inn: 4,
};

fn ramp(len: usize, scale: f64) -> Vec<f64> {
    (0..len).map(|i| scale * (i as f64 - 1.5) / 7.0).collect()
}

fn valid_tensors(s: &Spec) -> Vec<T> {
    vec![
        f64t("acts", &[s.n, s.inn], &ramp(s.n * s.inn, 1.0)),
        f64t(
            "jacobians",
            &[s.n, s.k, s.out],
            &ramp(s.n * s.k * s.out, 0.5),
        ),
        f64t("logits", &[s.n, s.k], &ramp(s.n * s.k, 2.0)),
        i64t(
            "labels",
            &(0..s.n as i64).map(|i| i % s.k as i64).collect::<Vec<_>>(),
        ),
        f64t("weight", &[s.out, s.inn], &ramp(s.out * s.inn, -0.25)),
    ]
}

fn valid_meta() -> HashMap<String, String> {
    [
        ("format", "superlinear.factors"),
        ("version", "1"),
        ("loss", "ce"),
        ("model", "tiny relu mlp"),
        ("layer", "net.2"),
        ("data", "3 hand-made samples"),
        ("tool", "tests/factors.rs"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn write(tensors: &[T], meta: Option<HashMap<String, String>>) -> Vec<u8> {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                TensorView::new(t.dtype, t.shape.clone(), &t.bytes).expect("valid view"),
            )
        })
        .collect();
    safetensors::serialize(views, meta).expect("serialize")
}

fn valid_bytes() -> Vec<u8> {
    write(&valid_tensors(&SPEC), Some(valid_meta()))
}

fn with_tensor(t: T) -> Vec<u8> {
    let mut ts = valid_tensors(&SPEC);
    match ts.iter().position(|x| x.name == t.name) {
        Some(i) => ts[i] = t,
        None => ts.push(t),
    }
    write(&ts, Some(valid_meta()))
}

fn with_meta(key: &str, value: Option<&str>) -> Vec<u8> {
    let mut meta = valid_meta();
    match value {
        Some(v) => meta.insert(key.into(), v.into()),
        None => meta.remove(key),
    };
    write(&valid_tensors(&SPEC), Some(meta))
}

/// Parses `bytes`, expecting an error whose one-line message names the file
/// and contains every needle.
fn refused(bytes: &[u8], needles: &[&str]) -> DataError {
    let err = parse_factors(bytes, LABEL).expect_err("must be refused");
    let msg = err.to_string();
    assert!(msg.starts_with(LABEL), "does not name the file: {msg}");
    assert!(!msg.contains('\n'), "not one line: {msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} does not mention {n:?}");
    }
    err
}

// ---------- valid files ----------

#[test]
fn f64_file_round_trips_exactly() {
    let f = parse_factors(&valid_bytes(), LABEL).unwrap();
    let s = SPEC;
    assert_eq!((f.n, f.classes, f.out, f.inn), (s.n, s.k, s.out, s.inn));
    assert_eq!(f.loss, FactorLoss::CrossEntropy);
    assert_eq!(f.precision, FactorPrecision::F64);
    assert_eq!(f.acts, ramp(s.n * s.inn, 1.0));
    assert_eq!(f.jacobians, ramp(s.n * s.k * s.out, 0.5));
    assert_eq!(f.logits, ramp(s.n * s.k, 2.0));
    assert_eq!(f.weight, ramp(s.out * s.inn, -0.25));
    assert_eq!(f.labels, vec![0, 1, 2]);
    assert_eq!(f.meta.model, "tiny relu mlp");
    assert_eq!(f.meta.layer, "net.2");
    assert_eq!(f.meta.data, "3 hand-made samples");
    assert_eq!(f.meta.tool, "tests/factors.rs");
    assert_eq!(f.meta.version, 1);
    assert_eq!(f.meta.batch_size, None);
    assert!(f.meta.extra.is_empty());
    // Accessors: sample 1.
    assert_eq!(f.act(1), &ramp(s.n * s.inn, 1.0)[4..8]);
    assert_eq!(f.jacobian(1), &ramp(s.n * s.k * s.out, 0.5)[6..12]);
    assert_eq!(f.logit(2), &ramp(s.n * s.k, 2.0)[6..9]);
}

#[test]
fn mse_batch_size_and_user_keys_are_read() {
    let mut meta = valid_meta();
    meta.insert("loss".into(), "mse".into());
    meta.insert("batch_size".into(), "50".into());
    meta.insert("user.seed".into(), "7".into());
    let f = parse_factors(&write(&valid_tensors(&SPEC), Some(meta)), LABEL).unwrap();
    assert_eq!(f.loss, FactorLoss::SoftmaxMse);
    assert_eq!(f.meta.batch_size, Some(50));
    assert_eq!(f.meta.extra.get("user.seed").map(String::as_str), Some("7"));
}

#[test]
fn f32_tensors_are_widened_exactly() {
    let s = SPEC;
    let jac = ramp(s.n * s.k * s.out, 0.5);
    let f = parse_factors(&with_tensor(f32t("jacobians", &[3, 3, 2], &jac)), LABEL).unwrap();
    assert_eq!(f.precision, FactorPrecision::F32);
    let widened: Vec<f64> = jac.iter().map(|&v| f64::from(v as f32)).collect();
    assert_eq!(f.jacobians, widened);
    assert_eq!(f.acts, ramp(s.n * s.inn, 1.0));
}

#[test]
fn every_integer_label_dtype_is_accepted() {
    let cases: [(Dtype, usize); 8] = [
        (Dtype::I64, 8),
        (Dtype::I32, 4),
        (Dtype::I16, 2),
        (Dtype::I8, 1),
        (Dtype::U64, 8),
        (Dtype::U32, 4),
        (Dtype::U16, 2),
        (Dtype::U8, 1),
    ];
    for (dtype, size) in cases {
        let bytes: Vec<u8> = [2u64, 0, 1]
            .iter()
            .flat_map(|v| v.to_le_bytes()[..size].to_vec())
            .collect();
        let t = T {
            name: "labels".into(),
            dtype,
            shape: vec![3],
            bytes,
        };
        let f = parse_factors(&with_tensor(t), LABEL).unwrap();
        assert_eq!(f.labels, vec![2, 0, 1], "{dtype:?}");
    }
}

#[test]
fn to_bytes_reads_back_equal() {
    let mut f = parse_factors(&valid_bytes(), LABEL).unwrap();
    f.meta.batch_size = Some(128);
    f.meta.extra.insert("user.note".into(), "x".into());
    let again = parse_factors(&f.to_bytes().unwrap(), "again").unwrap();
    assert_eq!(again, f);
}

#[test]
fn to_bytes_refuses_inconsistent_fields() {
    let mut f = parse_factors(&valid_bytes(), LABEL).unwrap();
    f.acts.pop();
    assert!(matches!(f.to_bytes(), Err(DataError::Inconsistent { .. })));
    let mut f = parse_factors(&valid_bytes(), LABEL).unwrap();
    f.logits[0] = f64::NAN;
    assert!(matches!(f.to_bytes(), Err(DataError::NonFinite { .. })));
    let mut f = parse_factors(&valid_bytes(), LABEL).unwrap();
    f.labels[0] = 3;
    assert!(matches!(
        f.to_bytes(),
        Err(DataError::LabelOutOfRange { .. })
    ));
    let mut f = parse_factors(&valid_bytes(), LABEL).unwrap();
    f.meta.extra.insert("seed".into(), "1".into());
    assert!(matches!(f.to_bytes(), Err(DataError::UnknownFields { .. })));
}

#[test]
fn files_on_disk_plain_and_gzip() {
    use flate2::write::GzEncoder;
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("layer.safetensors");
    std::fs::write(&plain, valid_bytes()).unwrap();
    let gz = dir.path().join("layer.safetensors.gz");
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&valid_bytes()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let a = read_factors(&plain).unwrap();
    let b = read_factors(&gz).unwrap();
    assert_eq!(a, b);
    let err = read_factors(&dir.path().join("absent.safetensors")).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err}");
    let err = read_factors_capped(&plain, 100).unwrap_err();
    assert!(matches!(err, DataError::TooLarge { cap: 100, .. }), "{err}");
    assert!(err.to_string().contains("layer.safetensors"));
}

// ---------- one test per error kind ----------

#[test]
fn missing_tensor_is_named() {
    for name in ["acts", "jacobians", "logits", "labels", "weight"] {
        let ts: Vec<T> = valid_tensors(&SPEC)
            .into_iter()
            .filter(|t| t.name != name)
            .collect();
        let err = refused(&write(&ts, Some(valid_meta())), &["missing", name]);
        assert!(matches!(err, DataError::MissingField { .. }));
    }
}

#[test]
fn unknown_tensor_is_named() {
    let err = refused(
        &with_tensor(f64t("bias", &[2], &[0.0, 1.0])),
        &["unknown tensors", "bias"],
    );
    assert!(matches!(err, DataError::UnknownFields { .. }));
}

#[test]
fn missing_metadata_map() {
    let err = refused(&write(&valid_tensors(&SPEC), None), &["__metadata__"]);
    assert!(matches!(err, DataError::MissingField { .. }));
}

#[test]
fn missing_metadata_key_is_named() {
    for key in [
        "format", "version", "loss", "model", "layer", "data", "tool",
    ] {
        let err = refused(&with_meta(key, None), &["missing", key]);
        assert!(matches!(err, DataError::MissingField { .. }), "{key}");
    }
}

#[test]
fn unknown_metadata_key_is_named() {
    let err = refused(
        &with_meta("bach_size", Some("50")),
        &["unknown metadata keys", "bach_size"],
    );
    assert!(matches!(err, DataError::UnknownFields { .. }));
}

#[test]
fn wrong_format_name() {
    let err = refused(
        &with_meta("format", Some("pt")),
        &["format", "superlinear.factors"],
    );
    assert!(matches!(err, DataError::BadMetadata { .. }));
}

#[test]
fn wrong_format_version() {
    let err = refused(&with_meta("version", Some("2")), &["version", "\"2\""]);
    assert!(matches!(err, DataError::BadMetadata { .. }));
}

#[test]
fn unknown_loss() {
    let err = refused(
        &with_meta("loss", Some("nll")),
        &["loss", "nll", "ce", "mse"],
    );
    assert!(matches!(err, DataError::BadMetadata { .. }));
}

#[test]
fn bad_batch_size() {
    for b in ["0", "-3", "fifty", ""] {
        let err = refused(&with_meta("batch_size", Some(b)), &["batch_size"]);
        assert!(matches!(err, DataError::BadMetadata { .. }), "{b}");
    }
}

#[test]
fn wrong_float_dtype_names_tensor() {
    let t = T {
        name: "weight".into(),
        dtype: Dtype::BF16,
        shape: vec![2, 4],
        bytes: vec![0; 16],
    };
    let err = refused(&with_tensor(t), &["BF16", "weight", "F64 or F32"]);
    assert!(matches!(err, DataError::BadType { .. }));
    let t = T {
        name: "acts".into(),
        dtype: Dtype::I64,
        shape: vec![3, 4],
        bytes: vec![0; 96],
    };
    refused(&with_tensor(t), &["I64", "acts"]);
}

#[test]
fn float_labels_are_refused() {
    let err = refused(
        &with_tensor(f64t("labels", &[3], &[0.0, 1.0, 2.0])),
        &["F64", "labels", "integer"],
    );
    assert!(matches!(err, DataError::BadType { .. }));
}

#[test]
fn wrong_dimension_count_names_tensor() {
    let err = refused(
        &with_tensor(f64t("jacobians", &[3, 6], &ramp(18, 1.0))),
        &["jacobians", "3 dims", "2 dims [3, 6]"],
    );
    assert!(matches!(err, DataError::BadShape { .. }));
}

#[test]
fn shape_mismatches_name_both_tensors() {
    let cases = [
        (
            f64t("jacobians", &[4, 3, 2], &ramp(24, 1.0)),
            ["N differs", "acts is [3, 4]", "jacobians is [4, 3, 2]"],
        ),
        (
            f64t("logits", &[2, 3], &ramp(6, 1.0)),
            ["N differs", "acts is [3, 4]", "logits is [2, 3]"],
        ),
        (
            i64t("labels", &[0, 1]),
            ["N differs", "acts is [3, 4]", "labels is [2]"],
        ),
        (
            f64t("logits", &[3, 4], &ramp(12, 1.0)),
            ["K differs", "jacobians is [3, 3, 2]", "logits is [3, 4]"],
        ),
        (
            f64t("weight", &[3, 4], &ramp(12, 1.0)),
            ["out differs", "jacobians is [3, 3, 2]", "weight is [3, 4]"],
        ),
        (
            f64t("weight", &[2, 5], &ramp(10, 1.0)),
            ["in differs", "acts is [3, 4]", "weight is [2, 5]"],
        ),
    ];
    for (t, needles) in cases {
        let err = refused(&with_tensor(t), &needles);
        assert!(matches!(err, DataError::Inconsistent { .. }));
    }
}

#[test]
fn non_finite_entries_name_tensor_and_index() {
    let mut jac = ramp(18, 1.0);
    jac[2 * 6 + 3] = f64::NAN; // sample 2, logit 1, unit 1
    let err = refused(
        &with_tensor(f64t("jacobians", &[3, 3, 2], &jac)),
        &["jacobians[2, 1, 1]", "NaN"],
    );
    assert!(matches!(err, DataError::NonFinite { .. }));
    let mut acts = ramp(12, 1.0);
    acts[5] = f64::NEG_INFINITY;
    refused(
        &with_tensor(f32t("acts", &[3, 4], &acts)),
        &["acts[1, 1]", "-inf"],
    );
    let mut w = ramp(8, 1.0);
    w[7] = f64::INFINITY;
    refused(&with_tensor(f64t("weight", &[2, 4], &w)), &["weight[1, 3]"]);
}

#[test]
fn zero_samples() {
    let s = Spec {
        n: 0,
        k: 3,
        out: 2,
        inn: 4,
    };
    let err = refused(&write(&valid_tensors(&s), Some(valid_meta())), &["N = 0"]);
    assert!(matches!(err, DataError::Empty { .. }));
}

#[test]
fn one_logit() {
    let s = Spec {
        n: 3,
        k: 1,
        out: 2,
        inn: 4,
    };
    let err = refused(
        &write(&valid_tensors(&s), Some(valid_meta())),
        &["K = 1", "K >= 2"],
    );
    assert!(matches!(err, DataError::BadDims { .. }));
}

#[test]
fn empty_layer() {
    let s = Spec {
        n: 3,
        k: 3,
        out: 2,
        inn: 0,
    };
    let err = refused(&write(&valid_tensors(&s), Some(valid_meta())), &["2 x 0"]);
    assert!(matches!(err, DataError::BadDims { .. }));
}

#[test]
fn labels_outside_classes() {
    let err = refused(
        &with_tensor(i64t("labels", &[0, 3, 1])),
        &["labels[1] = 3", "0..3"],
    );
    assert!(matches!(err, DataError::LabelOutOfRange { .. }));
    refused(
        &with_tensor(i64t("labels", &[0, 1, -1])),
        &["labels[2] = -1"],
    );
    let t = T {
        name: "labels".into(),
        dtype: Dtype::U64,
        shape: vec![3],
        bytes: [0u64, u64::MAX, 1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    };
    refused(&with_tensor(t), &["labels[1] = 18446744073709551615"]);
}

#[test]
fn not_a_safetensors_file() {
    let err = refused(b"\x93NUMPY\x01\x00garbage and more", &["header length"]);
    assert!(matches!(err, DataError::BadContainer { .. }));
    let mut bytes = 9u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"not json!");
    let err = refused(&bytes, &["not a valid safetensors file"]);
    assert!(matches!(err, DataError::BadContainer { .. }));
}

#[test]
fn short_input() {
    let err = refused(b"abc", &["truncated", "expected 8 bytes, got 3"]);
    assert!(matches!(err, DataError::Truncated { .. }));
}

#[test]
fn header_too_long() {
    let mut bytes = (factors::MAX_HEADER_LEN + 1).to_le_bytes().to_vec();
    bytes.extend_from_slice(&[b' '; 64]);
    let err = refused(&bytes, &["header length"]);
    assert!(matches!(err, DataError::BadContainer { .. }));
}

#[test]
fn offsets_beyond_the_data_are_refused_before_the_container_reader() {
    // Offsets summing to nearly 2^64: the container reader's own end-of-data
    // sum would overflow; the pre-check refuses them first.
    let big = (1u64 << 60) - 1;
    let mut header = String::from("{");
    let mut start = 0u64;
    for i in 0..16 {
        let end = start.saturating_add(big);
        header.push_str(&format!(
            "\"t{i}\":{{\"dtype\":\"U8\",\"shape\":[{big}],\"data_offsets\":[{start},{end}]}},"
        ));
        start = end;
    }
    header.pop();
    header.push('}');
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    let err = refused(&bytes, &["truncated"]);
    assert!(matches!(err, DataError::Truncated { .. }));
}

#[test]
fn trailing_bytes_are_refused() {
    let mut bytes = valid_bytes();
    bytes.extend_from_slice(&[0; 8]);
    let err = refused(&bytes, &["not a valid safetensors file"]);
    assert!(matches!(err, DataError::BadContainer { .. }));
}

// ---------- properties ----------

#[test]
fn every_strict_prefix_is_an_error() {
    let bytes = valid_bytes();
    for len in 0..bytes.len() {
        let err = parse_factors(&bytes[..len], LABEL)
            .expect_err("a strict prefix must not parse")
            .to_string();
        assert!(err.starts_with(LABEL), "prefix {len}: {err}");
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]

    /// Changing bytes of a valid file never panics; what still parses is
    /// consistent and finite.
    #[test]
    fn corrupted_bytes_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)
    ) {
        let mut bytes = valid_bytes();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        match parse_factors(&bytes, LABEL) {
            Ok(f) => {
                prop_assert_eq!(f.acts.len(), f.n * f.inn);
                prop_assert_eq!(f.jacobians.len(), f.n * f.classes * f.out);
                prop_assert_eq!(f.logits.len(), f.n * f.classes);
                prop_assert_eq!(f.weight.len(), f.out * f.inn);
                prop_assert!(f.labels.iter().all(|&l| l < f.classes));
                prop_assert!(f.acts.iter().chain(&f.jacobians).chain(&f.logits)
                    .chain(&f.weight).all(|x| x.is_finite()));
            }
            Err(e) => prop_assert!(e.to_string().starts_with(LABEL)),
        }
    }
}

/// The committed fuzz seeds: `valid-*` read, `corrupt-*` are refused.
#[test]
fn fuzz_seeds_parse_as_named() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/factors");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let result = read_factors(&path);
        if name.starts_with("valid-") {
            result.unwrap_or_else(|e| panic!("{name}: {e}"));
        } else {
            let err = result.expect_err(&name).to_string();
            assert!(err.contains(&name), "{err}");
        }
        seen += 1;
    }
    assert!(seen >= 5, "seeds missing in {}", dir.display());
}

/// The header of a valid file re-encoded with some tensor's dtype, shape or
/// offsets replaced (huge, zero, mismatched): never a panic, and a parse that
/// succeeds is consistent.
fn rewrite_header(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    edit(&mut header);
    let text = serde_json::to_vec(&header).unwrap();
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

proptest! {
    #![proptest_config(crate::util::proptest_config(256))]

    #[test]
    fn header_field_edits_never_panic(
        tensor in 0usize..5,
        field in 0usize..3,
        dtype in prop::sample::select(vec!["F64", "F32", "I64", "U8", "BF16", "F4", "BOOL", "C64", "X"]),
        values in proptest::collection::vec(
            prop_oneof![0u64..8, Just(u64::MAX), Just(1u64 << 61), any::<u64>()], 0..4),
    ) {
        let name = ["acts", "jacobians", "logits", "labels", "weight"][tensor];
        let bytes = rewrite_header(&valid_bytes(), |h| {
            let t = &mut h[name];
            match field {
                0 => t["dtype"] = serde_json::json!(dtype),
                1 => t["shape"] = serde_json::json!(values),
                _ => t["data_offsets"] = serde_json::json!(values),
            }
        });
        match parse_factors(&bytes, LABEL) {
            Ok(f) => {
                prop_assert_eq!(f.acts.len(), f.n * f.inn);
                prop_assert_eq!(f.jacobians.len(), f.n * f.classes * f.out);
                prop_assert_eq!(f.weight.len(), f.out * f.inn);
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with(LABEL) && !msg.contains('\n'), "{}", msg);
            }
        }
    }
}
