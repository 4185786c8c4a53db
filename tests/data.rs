//! The `data` module: every reader on tiny generated files, one test per error
//! variant, prefix and corruption properties, and the shared real data when it
//! is present.

use flate2::write::GzEncoder;
use flate2::Compression;
use ndarray::{array, Array2};
use proptest::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use superlinear::data::idx::{self, IdxArray, IdxKind};
use superlinear::data::{
    cifar, data_root_from, io, load_cifar10, load_idx_pair, load_mnist, npy, read_text_vector,
    text, CifarSplit, DataError, Dataset,
};

// ---------- builders for tiny files ----------

fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// `n` images of `h x w` with pixel `(i * 7 + j) % 256`, and labels `i % 10`.
fn tiny_mnist(n: usize, h: usize, w: usize) -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..n * h * w).map(|j| ((j * 7) % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    (
        idx_bytes(idx::IMAGES_MAGIC, &[n as u32, h as u32, w as u32], &pixels),
        idx_bytes(idx::LABELS_MAGIC, &[n as u32], &labels),
    )
}

fn cifar_bytes(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        out.push(l);
        out.extend((0..cifar::PIXELS).map(|j| ((i * 31 + j) % 256) as u8));
    }
    out
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A version-1.0 `.npy` file with the given header fields and raw data.
fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_s = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let fortran = if fortran { "True" } else { "False" };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_s}, }}");
    npy_raw_header(&dict, data)
}

fn npy_raw_header(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f64_le(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

// ---------- IDX ----------

#[test]
fn idx_parses_labels_and_images_and_round_trips() {
    let (img, lab) = tiny_mnist(3, 2, 4);
    let a = idx::parse_idx(&img, "img").unwrap();
    assert_eq!(a.kind, IdxKind::Images);
    assert_eq!(a.dims, vec![3, 2, 4]);
    assert_eq!(a.data.len(), 24);
    assert_eq!(a.to_bytes().unwrap(), img);
    let l = idx::parse_idx(&lab, "lab").unwrap();
    assert_eq!(l.kind, IdxKind::Labels);
    assert_eq!(l.data, vec![0, 1, 2]);
    assert_eq!(l.to_bytes().unwrap(), lab);
}

#[test]
fn idx_bad_magic() {
    let e = idx::parse_idx(&[0x12, 0x34, 0x08, 0x01, 0, 0, 0, 0], "x.idx").unwrap_err();
    assert!(matches!(e, DataError::BadMagic { .. }), "{e}");
    assert!(e.to_string().contains("x.idx") && e.to_string().contains("0x12340801"));
}

#[test]
fn idx_bad_type() {
    let e = idx::parse_idx(&[0, 0, 0x0d, 0x03], "f.idx").unwrap_err();
    assert!(matches!(e, DataError::BadType { .. }), "{e}");
    assert!(e.to_string().contains("0x0d"));
}

#[test]
fn idx_bad_dims() {
    let e = idx::parse_idx(&[0, 0, 0x08, 0x02, 0, 0, 0, 1, 0, 0, 0, 1, 7], "d").unwrap_err();
    assert!(matches!(e, DataError::BadDims { .. }), "{e}");
    let zero_width = idx_bytes(idx::IMAGES_MAGIC, &[1, 5, 0], &[]);
    let e = idx::parse_idx(&zero_width, "z").unwrap_err();
    assert!(matches!(e, DataError::BadDims { .. }), "{e}");
}

#[test]
fn idx_truncated_header_and_data() {
    let (img, _) = tiny_mnist(2, 3, 3);
    let e = idx::parse_idx(&img[..9], "t").unwrap_err();
    assert!(
        matches!(
            e,
            DataError::Truncated {
                expected: 16,
                got: 9,
                ..
            }
        ),
        "{e}"
    );
    let e = idx::parse_idx(&img[..img.len() - 1], "t").unwrap_err();
    assert!(
        matches!(
            e,
            DataError::Truncated {
                expected: 34,
                got: 33,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn idx_size_overflow() {
    let huge = idx_bytes(
        idx::IMAGES_MAGIC,
        &[u32::MAX, u32::MAX, u32::MAX],
        &[1, 2, 3],
    );
    let e = idx::parse_idx(&huge, "o").unwrap_err();
    assert!(matches!(e, DataError::SizeOverflow { .. }), "{e}");
}

#[test]
fn idx_too_large_is_refused_before_reading_data() {
    let big = idx_bytes(idx::IMAGES_MAGIC, &[100_000, 1000, 1000], &[0; 10]);
    let e = idx::parse_idx(&big, "big").unwrap_err();
    assert!(
        matches!(e, DataError::TooLarge { declared: 100_000_000_000, cap, .. } if cap == io::DEFAULT_CAP),
        "{e}"
    );
    let e =
        idx::parse_idx_capped(&idx_bytes(idx::LABELS_MAGIC, &[11], &[0; 11]), "c", 10).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::TooLarge {
                declared: 11,
                cap: 10,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn idx_trailing_bytes() {
    let mut lab = idx_bytes(idx::LABELS_MAGIC, &[2], &[1, 2]);
    lab.extend_from_slice(&[9, 9, 9]);
    let e = idx::parse_idx(&lab, "tr").unwrap_err();
    assert!(
        matches!(
            e,
            DataError::TrailingBytes {
                declared: 10,
                extra: 3,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn idx_bad_label_and_wrong_kind() {
    let lab = idx_bytes(idx::LABELS_MAGIC, &[3], &[1, 12, 3]);
    let e = idx::parse_idx_kind(&lab, "l", IdxKind::Labels).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::BadLabel {
                index: 1,
                label: 12,
                ..
            }
        ),
        "{e}"
    );
    let e = idx::parse_idx_kind(&lab, "l", IdxKind::Images).unwrap_err();
    assert!(matches!(e, DataError::BadMagic { .. }), "{e}");
}

#[test]
fn idx_to_bytes_rejects_inconsistent_arrays() {
    let a = IdxArray {
        kind: IdxKind::Labels,
        dims: vec![3],
        data: vec![1, 2],
    };
    assert!(matches!(a.to_bytes(), Err(DataError::Inconsistent { .. })));
}

// ---------- CIFAR ----------

#[test]
fn cifar_parses_records() {
    let bytes = cifar_bytes(&[3, 9]);
    let (labels, pixels) = cifar::parse_cifar_records(&bytes, "c").unwrap();
    assert_eq!(labels, vec![3, 9]);
    assert_eq!(pixels.len(), 2 * cifar::PIXELS);
    assert_eq!(pixels[..cifar::PIXELS], bytes[1..cifar::RECORD]);
    assert_eq!(cifar::to_records(&labels, &pixels).unwrap(), bytes);
}

#[test]
fn cifar_truncated() {
    let bytes = cifar_bytes(&[1, 2]);
    let e = cifar::parse_cifar_records(&bytes[..4000], "c.bin").unwrap_err();
    assert!(
        matches!(
            e,
            DataError::Truncated {
                expected: 6146,
                got: 4000,
                ..
            }
        ),
        "{e}"
    );
    let e = cifar::parse_cifar_records(&[], "c.bin").unwrap_err();
    assert!(
        matches!(
            e,
            DataError::Truncated {
                expected: 3073,
                got: 0,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn cifar_bad_label() {
    let bytes = cifar_bytes(&[1, 10, 2]);
    let e = cifar::parse_cifar_records(&bytes, "c.bin").unwrap_err();
    assert!(
        matches!(
            e,
            DataError::BadLabel {
                index: 1,
                label: 10,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("c.bin"));
}

// ---------- gzip and file reading ----------

#[test]
fn gzip_bomb_stops_at_the_cap() {
    let bomb = gz(&vec![0u8; 4 << 20]);
    assert!(bomb.len() < 64 << 10);
    let e = io::gunzip_capped(&bomb, "bomb.gz", 1 << 20).unwrap_err();
    assert!(
        matches!(e, DataError::TooLarge { declared, cap, .. } if cap == 1 << 20 && declared == cap + 1),
        "{e}"
    );
}

#[test]
fn gzip_corrupt_and_cut_short() {
    let mut g = gz(&cifar_bytes(&[1, 2]));
    let cut = io::gunzip_capped(&g[..g.len() / 2], "cut.gz", 1 << 20).unwrap_err();
    assert!(matches!(cut, DataError::BadGzip { .. }), "{cut}");
    assert!(cut.to_string().contains("cut short"));
    for b in g.iter_mut().skip(12).take(40) {
        *b ^= 0x5a;
    }
    let e = io::gunzip_capped(&g, "bad.gz", 1 << 20).unwrap_err();
    assert!(matches!(e, DataError::BadGzip { .. }), "{e}");
}

#[test]
fn missing_file_and_io_error() {
    let d = tmp();
    let e = io::read_capped(&d.path().join("nope.bin"), "thing", 100).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("nope.bin"));
    // Reading a directory as a file is an I/O error, not "missing".
    let e = io::read_capped(d.path(), "thing", 100).unwrap_err();
    assert!(
        matches!(e, DataError::Io { .. } | DataError::TooLarge { .. }),
        "{e}"
    );
    let p = write(d.path(), "big.bin", &[0; 101]);
    let e = io::read_capped(&p, "thing", 100).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::TooLarge {
                declared: 101,
                cap: 100,
                ..
            }
        ),
        "{e}"
    );
}

// ---------- loaders and layouts ----------

#[test]
fn mnist_shared_layout_gz() {
    let d = tmp();
    let (img, lab) = tiny_mnist(20, 28, 28);
    write(d.path(), "mnist-10k/images-idx3-ubyte.gz", &gz(&img));
    write(d.path(), "mnist-10k/labels-idx1-ubyte.gz", &gz(&lab));
    let ds = load_mnist(d.path()).unwrap();
    assert_eq!(
        (ds.len(), ds.channels, ds.height, ds.width),
        (20, 1, 28, 28)
    );
    assert_eq!(ds.features(), 784);
    assert_eq!(ds.num_classes(), 10);
    assert_eq!(ds.images[[0, 1]], 7.0 / 255.0);
    assert!(ds.images.iter().all(|&x| (0.0..=1.0).contains(&x)));
    // The same files found from inside the directory.
    assert_eq!(load_mnist(&d.path().join("mnist-10k")).unwrap(), ds);
}

#[test]
fn mnist_torchvision_and_classic_layouts() {
    let (img, lab) = tiny_mnist(5, 4, 3);
    let d = tmp();
    write(d.path(), "MNIST/raw/train-images-idx3-ubyte", &img);
    write(d.path(), "MNIST/raw/train-labels-idx1-ubyte.gz", &gz(&lab));
    let a = load_mnist(d.path()).unwrap();
    assert_eq!((a.len(), a.height, a.width), (5, 4, 3));
    let d2 = tmp();
    write(d2.path(), "train-images.idx3-ubyte", &img);
    write(d2.path(), "train-labels.idx1-ubyte", &lab);
    assert_eq!(load_mnist(d2.path()).unwrap().labels, a.labels);
}

#[test]
fn mnist_missing_labels_names_the_file() {
    let d = tmp();
    let (img, _) = tiny_mnist(2, 2, 2);
    write(d.path(), "train-images-idx3-ubyte.gz", &gz(&img));
    let e = load_mnist(d.path()).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("train-labels-idx1-ubyte"), "{e}");
}

#[test]
fn mnist_missing_everything() {
    let d = tmp();
    let e = load_mnist(d.path()).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }), "{e}");
    let e = load_mnist(&d.path().join("absent")).unwrap_err();
    assert!(
        matches!(e, DataError::Missing { .. }) && e.to_string().contains("absent"),
        "{e}"
    );
}

#[test]
fn mnist_inconsistent_counts() {
    let d = tmp();
    let (img, _) = tiny_mnist(3, 2, 2);
    let lab = idx_bytes(idx::LABELS_MAGIC, &[2], &[0, 1]);
    let i = write(d.path(), "i", &img);
    let l = write(d.path(), "l", &lab);
    let e = load_idx_pair(&i, &l, "m").unwrap_err();
    assert!(matches!(e, DataError::Inconsistent { .. }), "{e}");
    assert!(e.to_string().contains("3 images but 2 labels"));
}

#[test]
fn mnist_empty_file_set() {
    let d = tmp();
    let i = write(
        d.path(),
        "i",
        &idx_bytes(idx::IMAGES_MAGIC, &[0, 28, 28], &[]),
    );
    let l = write(d.path(), "l", &idx_bytes(idx::LABELS_MAGIC, &[0], &[]));
    let e = load_idx_pair(&i, &l, "m").unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }), "{e}");
}

#[test]
fn cifar_shared_layout_gz_and_torchvision_plain() {
    let d = tmp();
    write(
        d.path(),
        "cifar10-jpeg/data_batch_1.bin.gz",
        &gz(&cifar_bytes(&[0, 1, 2])),
    );
    write(
        d.path(),
        "cifar10-jpeg/data_batch_2.bin.gz",
        &gz(&cifar_bytes(&[3, 4])),
    );
    write(
        d.path(),
        "cifar10-jpeg/test_batch.bin.gz",
        &gz(&cifar_bytes(&[9])),
    );
    let tr = load_cifar10(d.path(), CifarSplit::Train).unwrap();
    assert_eq!(tr.labels, vec![0, 1, 2, 3, 4]);
    assert_eq!(
        (tr.channels, tr.height, tr.width, tr.features()),
        (3, 32, 32, 3072)
    );
    assert_eq!(tr.images[[3, 5]], 5.0 / 255.0);
    assert_eq!(
        load_cifar10(d.path(), CifarSplit::Test).unwrap().labels,
        vec![9]
    );

    let t = tmp();
    write(
        t.path(),
        "cifar-10-batches-bin/test_batch.bin",
        &cifar_bytes(&[7, 8]),
    );
    assert_eq!(
        load_cifar10(t.path(), CifarSplit::Test).unwrap().labels,
        vec![7, 8]
    );
    let e = load_cifar10(t.path(), CifarSplit::Train).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("data_batch_1.bin"), "{e}");
}

#[test]
fn cifar_corrupt_batch_is_named() {
    let d = tmp();
    let mut bytes = cifar_bytes(&[0, 1]);
    bytes.pop();
    write(d.path(), "data_batch_1.bin", &bytes);
    let e = load_cifar10(d.path(), CifarSplit::Train).unwrap_err();
    assert!(matches!(e, DataError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("data_batch_1.bin"), "{e}");
}

#[test]
fn data_root_flag_env_and_none() {
    let d = tmp();
    assert_eq!(data_root_from(Some(d.path()), None).unwrap(), d.path());
    assert_eq!(
        data_root_from(None, Some(d.path().as_os_str().to_owned())).unwrap(),
        d.path()
    );
    let e = data_root_from(None, None).unwrap_err();
    assert!(matches!(e, DataError::NoDataRoot));
    assert!(e.to_string().contains("SUPERLINEAR_DATA"));
    let e = data_root_from(None, Some("".into())).unwrap_err();
    assert!(matches!(e, DataError::NoDataRoot));
    let e = data_root_from(Some(&d.path().join("no")), None).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }), "{e}");
}

// ---------- Dataset operations ----------

/// Labels `0 1 2 0 1 2 ...` plus extra zeros, C = 2, 1 x 2 pixels.
fn toy() -> Dataset {
    let labels = vec![0, 1, 2, 0, 1, 2, 0, 1, 0, 0];
    let pixels: Vec<u8> = (0..labels.len() * 4)
        .map(|j| (j * 13 % 256) as u8)
        .collect();
    Dataset::from_bytes(pixels, labels, 2, 1, 2, "toy").unwrap()
}

#[test]
fn first_classes_keeps_labels_below_k() {
    let ds = toy();
    let s = ds.first_classes(2).unwrap();
    assert_eq!(s.labels, vec![0, 1, 0, 1, 0, 1, 0, 0]);
    assert_eq!(s.images.row(1), ds.images.row(1));
    assert_eq!(s.num_classes(), 2);
    assert!(matches!(
        ds.first_classes(0),
        Err(DataError::BadRequest { .. })
    ));
    assert_eq!(ds.first_classes(10).unwrap().len(), ds.len());
}

#[test]
fn balanced_is_exact_seeded_and_refuses_short_classes() {
    let ds = toy();
    let a = ds.balanced(2, 7).unwrap();
    assert_eq!(a.class_counts(), vec![2, 2, 2]);
    assert_eq!(a, ds.balanced(2, 7).unwrap());
    // Different seeds choose different zeros (5 zeros, choose 2) for some seed.
    assert!((0..20).any(|s| ds.balanced(2, s).unwrap().images != a.images));
    let e = ds.balanced(3, 7).unwrap_err();
    assert!(matches!(e, DataError::BadRequest { .. }), "{e}");
    assert!(e.to_string().contains("class 2 has 2 samples"), "{e}");
    assert!(matches!(
        ds.balanced(0, 1),
        Err(DataError::BadRequest { .. })
    ));
}

#[test]
fn balanced_prefix_takes_the_first_of_each_class() {
    let ds = toy();
    let p = ds.take_balanced_prefix(2).unwrap();
    assert_eq!(p.labels, vec![0, 1, 2, 0, 1, 2]);
    assert_eq!(p.images, ds.images.slice(ndarray::s![0..6, ..]));
}

#[test]
fn channel_stats_and_normalisation() {
    let ds = toy();
    let (mean, std) = ds.channel_stats();
    // Channel c holds columns c*2..c*2+2 of every row.
    for c in 0..2 {
        let v: Vec<f64> = ds
            .images
            .rows()
            .into_iter()
            .flat_map(|r| {
                r.iter()
                    .skip(2 * c)
                    .take(2)
                    .map(|&x| f64::from(x))
                    .collect::<Vec<_>>()
            })
            .collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        assert!(crate::util::rel_diff(f64::from(mean[c]), m, 1.0) < 1e-6);
        assert!(crate::util::rel_diff(f64::from(std[c]), s, 1.0) < 1e-6);
    }
    let n = ds.normalized(&mean, &std).unwrap();
    let (m2, s2) = n.channel_stats();
    assert!(m2.iter().all(|m| m.abs() < 1e-5), "{m2:?}");
    assert!(s2.iter().all(|s| (s - 1.0).abs() < 1e-5), "{s2:?}");
}

#[test]
fn normalisation_rejects_bad_parameters() {
    let ds = toy();
    for (m, s) in [
        (vec![0.5], vec![0.2, 0.2]),
        (vec![0.5, 0.5], vec![0.2, 0.0]),
        (vec![0.5, 0.5], vec![0.2, -1.0]),
        (vec![0.5, 0.5], vec![0.2, f32::NAN]),
        (vec![f32::INFINITY, 0.5], vec![0.2, 0.2]),
    ] {
        let e = ds.normalized(&m, &s).unwrap_err();
        assert!(
            matches!(e, DataError::BadRequest { .. }),
            "{m:?} {s:?}: {e}"
        );
    }
}

#[test]
fn hand_built_inconsistent_dataset_is_an_error_not_a_panic() {
    let mut ds = toy();
    ds.height = 3;
    assert!(matches!(
        ds.normalized(&[0.0, 0.0], &[1.0, 1.0]),
        Err(DataError::BadDims { .. })
    ));
    assert!(ds.channel_stats().0.iter().all(|m| m.is_nan()));
    let mut short = toy();
    short.labels.push(0);
    assert!(matches!(
        short.first_classes(1),
        Err(DataError::BadDims { .. })
    ));
    assert!(matches!(
        short.take_balanced_prefix(1),
        Err(DataError::BadDims { .. })
    ));
    let e = Dataset::from_bytes(vec![0; 7], vec![0, 1], 1, 2, 2, "x").unwrap_err();
    assert!(matches!(e, DataError::Inconsistent { .. }), "{e}");
}

// ---------- .npy ----------

#[test]
fn npy_f8_c_order_and_round_trip() {
    let bytes = npy_bytes("<f8", false, &[2, 3], &f64_le(&[1., 2., 3., 4., 5., 6.]));
    let m = npy::parse_matrix(&bytes, "m.npy").unwrap();
    assert_eq!(m, array![[1., 2., 3.], [4., 5., 6.]]);
    assert_eq!(
        npy::parse_matrix(&npy::matrix_to_bytes(&m), "r").unwrap(),
        m
    );
}

#[test]
fn npy_fortran_order_f4_ints_big_endian() {
    let f = npy_bytes("<f8", true, &[2, 3], &f64_le(&[1., 4., 2., 5., 3., 6.]));
    assert_eq!(
        npy::parse_matrix(&f, "f").unwrap(),
        array![[1., 2., 3.], [4., 5., 6.]]
    );
    let f4: Vec<u8> = [0.5f32, -2.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert_eq!(
        npy::parse_vector(&npy_bytes("<f4", false, &[2], &f4), "v").unwrap(),
        vec![0.5, -2.0]
    );
    let i4: Vec<u8> = [-3i32, 7].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(
        npy::parse_vector(&npy_bytes("<i4", false, &[2, 1], &i4), "i").unwrap(),
        vec![-3.0, 7.0]
    );
    assert_eq!(
        npy::parse_vector(&npy_bytes("|u1", false, &[1, 3], &[1, 2, 255]), "u").unwrap(),
        vec![1.0, 2.0, 255.0]
    );
    let be: Vec<u8> = [1.5f64, 2.5].iter().flat_map(|x| x.to_be_bytes()).collect();
    assert_eq!(
        npy::parse_vector(&npy_bytes(">f8", false, &[2], &be), "b").unwrap(),
        vec![1.5, 2.5]
    );
}

#[test]
fn npy_bad_magic() {
    let e = npy::parse_matrix(b"PK\x03\x04 this is a zip", "m.npy").unwrap_err();
    assert!(matches!(e, DataError::BadMagic { .. }), "{e}");
}

#[test]
fn npy_truncated_and_trailing() {
    let bytes = npy_bytes("<f8", false, &[2, 2], &f64_le(&[1., 2., 3., 4.]));
    let n = bytes.len() as u64;
    let e = npy::parse_matrix(&bytes[..bytes.len() - 3], "t.npy").unwrap_err();
    assert!(
        matches!(e, DataError::Truncated { expected, got, .. } if expected == n && got == n - 3),
        "{e}"
    );
    // Cut inside the header dictionary: expected is the header's end.
    let e = npy::parse_matrix(&bytes[..20], "t.npy").unwrap_err();
    assert!(
        matches!(e, DataError::Truncated { expected, got: 20, .. } if expected == n - 32),
        "{e}"
    );
    let mut long = bytes.clone();
    long.push(0);
    let e = npy::parse_matrix(&long, "t.npy").unwrap_err();
    assert!(
        matches!(e, DataError::TrailingBytes { extra: 1, .. }),
        "{e}"
    );
}

#[test]
fn npy_corrupt_headers() {
    for (dict, why) in [
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2)",
            "unclosed",
        ),
        ("{'descr': '<f8', 'shape': (2, 2), }", "missing key"),
        (
            "{'descr': '<f8', 'fortran_order': 3, 'shape': (2, 2), }",
            "bad value",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 2), }",
            "negative dim",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': ((((((1,),),),),),), }",
            "nesting",
        ),
        ("not a dict at all", "garbage"),
    ] {
        let e = npy::parse_matrix(&npy_raw_header(dict, &[]), "h.npy").unwrap_err();
        assert!(matches!(e, DataError::BadHeader { .. }), "{why}: {e}");
    }
    // A version-2 header claiming 4 GB is refused without allocating it.
    let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
    v2.extend_from_slice(&u32::MAX.to_le_bytes());
    let e = npy::parse_matrix(&v2, "h.npy").unwrap_err();
    assert!(matches!(e, DataError::BadHeader { .. }), "{e}");
    let e = npy::parse_matrix(b"\x93NUMPY\x07\x00\x00\x00", "h.npy").unwrap_err();
    assert!(e.to_string().contains("version 7.0"), "{e}");
}

#[test]
fn npy_bad_dtype() {
    for descr in ["<c16", "|b1", "<f2", "|O", "<U8"] {
        let e =
            npy::parse_matrix(&npy_bytes(descr, false, &[1, 1], &[0; 16]), "d.npy").unwrap_err();
        assert!(matches!(e, DataError::BadType { .. }), "{descr}: {e}");
    }
    let structured = npy_raw_header(
        "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
        &[0; 8],
    );
    let e = npy::parse_vector(&structured, "s.npy").unwrap_err();
    assert!(matches!(e, DataError::BadType { .. }), "{e}");
}

#[test]
fn npy_size_overflow_and_too_large() {
    let e = npy::parse_matrix(&npy_bytes("<f8", false, &[1 << 40, 1 << 40], &[]), "o").unwrap_err();
    assert!(matches!(e, DataError::SizeOverflow { .. }), "{e}");
    // Zero elements, yet no valid layout: ndarray would refuse the shape (and
    // ndarray-npy would panic on that refusal) if it got that far.
    let e =
        npy::parse_array(&npy_bytes("<f8", false, &[0, 1 << 62, 1 << 62], &[]), "z").unwrap_err();
    assert!(matches!(e, DataError::SizeOverflow { .. }), "{e}");
    assert_eq!(
        npy::parse_matrix(&npy_bytes("<f8", false, &[0, 5], &[]), "e")
            .unwrap()
            .dim(),
        (0, 5)
    );
    let e = npy::parse_matrix(&npy_bytes("<f8", false, &[100_000, 100_000], &[]), "o").unwrap_err();
    assert!(
        matches!(
            e,
            DataError::TooLarge {
                declared: 80_000_000_000,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn npy_bad_shape() {
    let e = npy::parse_matrix(&npy_bytes("<f8", false, &[1, 1, 1], &[0; 8]), "s.npy").unwrap_err();
    assert!(matches!(e, DataError::BadShape { .. }), "{e}");
    let e = npy::parse_vector(&npy_bytes("<f8", false, &[2, 2], &[0; 32]), "s.npy").unwrap_err();
    assert!(matches!(e, DataError::BadShape { .. }), "{e}");
}

#[test]
fn npy_semantic_helpers() {
    let rect = Array2::<f64>::zeros((2, 3));
    assert!(matches!(
        npy::require_square(rect.view(), "r"),
        Err(DataError::NotSquare {
            rows: 2,
            cols: 3,
            ..
        })
    ));
    let nan = array![[1.0, f64::NAN], [0.0, 1.0]];
    let e = npy::require_finite(nan.view(), "n").unwrap_err();
    assert!(
        matches!(e, DataError::NonFinite { .. }) && e.to_string().contains("(0, 1)"),
        "{e}"
    );
    let asym = array![[1.0, 2.0], [2.5, 1.0]];
    assert!(matches!(
        npy::require_symmetric(asym.view(), "a", 0.1),
        Err(DataError::NotSymmetric { .. })
    ));
    assert!(npy::require_symmetric(asym.view(), "a", 0.6).is_ok());
}

#[test]
fn npy_files_plain_and_gz() {
    let d = tmp();
    let m = array![[1.0, -2.0], [3.5, 4.0]];
    let p = d.path().join("m.npy");
    npy::write_matrix(&p, &m).unwrap();
    assert_eq!(npy::read_matrix(&p).unwrap(), m);
    let g = write(
        d.path(),
        "v.npy.gz",
        &gz(&npy::vector_to_bytes(&[1.0, 2.0, 3.0])),
    );
    assert_eq!(npy::read_vector(&g).unwrap(), vec![1.0, 2.0, 3.0]);
    let e = npy::read_matrix(&d.path().join("none.npy")).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }), "{e}");
}

// ---------- text vectors ----------

#[test]
fn text_vectors_with_comments_and_separators() {
    let v = text::parse_text_vector("# eigenvalues\n1.5, 2e-3 4\n\n-7 # trailing\n  8,9,", "t")
        .unwrap();
    assert_eq!(v, vec![1.5, 2e-3, 4.0, -7.0, 8.0, 9.0]);
    let e = text::parse_text_vector("1 2\n3 x4\n", "ev.txt").unwrap_err();
    assert!(matches!(e, DataError::BadNumber { line: 2, .. }), "{e}");
    assert!(e.to_string().contains("ev.txt") && e.to_string().contains("x4"));
    let d = tmp();
    let p = write(d.path(), "ev.txt", b"3 2 1\n");
    assert_eq!(read_text_vector(&p).unwrap(), vec![3.0, 2.0, 1.0]);
    let p = write(d.path(), "bad.txt", b"1\n2\xff\n");
    assert!(matches!(
        read_text_vector(&p),
        Err(DataError::BadNumber { line: 2, .. })
    ));
}

// ---------- properties ----------

fn arb_idx() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (1usize..6, 1usize..5, 1usize..5).prop_map(|(n, h, w)| tiny_mnist(n, h, w).0),
        (1usize..30).prop_map(|n| tiny_mnist(n, 1, 1).1),
    ]
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]
    /// Every strict prefix of a valid IDX file is a truncation error.
    #[test]
    fn idx_every_strict_prefix_is_truncated(file in arb_idx()) {
        for cut in 0..file.len() {
            match idx::parse_idx(&file[..cut], "p") {
                Err(DataError::Truncated { got, .. }) => prop_assert_eq!(got as usize, cut),
                other => prop_assert!(false, "prefix {} of {}: {:?}", cut, file.len(), other),
            }
        }
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(16))]
    /// Every strict prefix of a valid CIFAR file off a record boundary is a
    /// truncation error; on a boundary it is the valid file of those records.
    #[test]
    fn cifar_every_strict_prefix_is_truncated_or_whole_records(
        labels in proptest::collection::vec(0u8..10, 1..4)
    ) {
        let file = cifar_bytes(&labels);
        for cut in 0..file.len() {
            match cifar::parse_cifar_records(&file[..cut], "p") {
                Err(DataError::Truncated { got, expected, .. }) => {
                    prop_assert_eq!(got as usize, cut);
                    prop_assert!(cut == 0 || cut % cifar::RECORD != 0);
                    prop_assert_eq!(expected as usize, cut.div_ceil(cifar::RECORD).max(1) * cifar::RECORD);
                }
                Ok((l, _)) => {
                    prop_assert_eq!(cut % cifar::RECORD, 0);
                    prop_assert_eq!(&l[..], &labels[..cut / cifar::RECORD]);
                }
                other => prop_assert!(false, "prefix {}: {:?}", cut, other),
            }
        }
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(256))]
    /// Corrupted bytes never panic: each parser returns a value or an error
    /// naming its input.
    #[test]
    fn corrupted_bytes_never_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = match which {
            0 => tiny_mnist(3, 2, 2).0,
            1 => cifar_bytes(&[1, 2]),
            _ => npy_bytes("<f8", false, &[2, 2], &f64_le(&[1., 2., 3., 4.])),
        };
        for (i, b) in &flips {
            let i = i.index(bytes.len());
            bytes[i] ^= b;
        }
        let bytes = &bytes[..cut.index(bytes.len() + 1)];
        let name = "corrupt-input";
        let err = match which {
            0 => idx::parse_idx(bytes, name).err(),
            1 => cifar::parse_cifar_records(bytes, name).err(),
            _ => npy::parse_matrix(bytes, name).err(),
        };
        if let Some(e) = err {
            prop_assert!(e.to_string().contains(name), "{}", e);
        }
    }
}

// ---------- the shared real data ----------

use crate::util::shared_data;

#[test]
fn shared_mnist_10k_counts() {
    let Some(root) = shared_data().filter(|r| r.join("mnist-10k").is_dir()) else {
        println!(
            "skipped: shared MNIST data (../shared/data/mnist-10k or SUPERLINEAR_DATA) not found"
        );
        return;
    };
    let ds = load_mnist(&root).unwrap();
    assert_eq!(
        (ds.len(), ds.height, ds.width, ds.channels),
        (10_000, 28, 28, 1)
    );
    assert_eq!(
        ds.class_counts(),
        vec![1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    );
    // Interleaved by class: a prefix of 10 m samples is balanced.
    assert_eq!(
        ds.take_balanced_prefix(100).unwrap().labels[..20],
        ds.labels[..20]
    );
    assert_eq!(ds.balanced(500, 1).unwrap().class_counts(), vec![500; 10]);
    assert_eq!(ds.first_classes(3).unwrap().len(), 1001 + 1127 + 991);
    let (mean, std) = ds.channel_stats();
    // MNIST's familiar statistics (0.1307, 0.3081) on the full training set.
    assert!(
        (mean[0] - 0.1307).abs() < 0.01 && (std[0] - 0.3081).abs() < 0.01,
        "{mean:?} {std:?}"
    );
}

#[test]
fn shared_cifar10_train_and_test() {
    let Some(root) = shared_data().filter(|r| r.join("cifar10-jpeg").is_dir()) else {
        println!("skipped: shared CIFAR-10 data (../shared/data/cifar10-jpeg or SUPERLINEAR_DATA) not found");
        return;
    };
    let tr = load_cifar10(&root, CifarSplit::Train).unwrap();
    assert_eq!((tr.len(), tr.features()), (20_000, 3072));
    assert_eq!(tr.class_counts(), vec![2000; 10]);
    let te = load_cifar10(&root, CifarSplit::Test).unwrap();
    assert_eq!(te.len(), 2000);
    assert_eq!(te.class_counts(), vec![200; 10]);
    let (mean, std) = tr.channel_stats();
    // CIFAR-10's familiar per-channel means are about (0.49, 0.48, 0.45).
    for (c, m) in [0.4914f32, 0.4822, 0.4465].iter().enumerate() {
        assert!(
            (mean[c] - m).abs() < 0.02 && std[c] > 0.2 && std[c] < 0.3,
            "{mean:?} {std:?}"
        );
    }
}
