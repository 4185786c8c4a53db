//! The published tables as data: parsing, labelling, and their rendering
//! (snapshot). The numbers come from experiments/published.toml only.

use superlinear::published::Published;

#[test]
fn published_tables_parse_and_have_every_row() {
    let p = Published::builtin().unwrap();
    assert_eq!(p.label, "published");
    assert_eq!(p.table1.len(), 12);
    assert_eq!(p.table2.len(), 8);
    for r in &p.table1 {
        assert!([3, 6, 10].contains(&r.classes));
        for m in [r.mse_gamma, r.mse_gamma_awd, r.ce_gamma, r.ce_gamma_awd] {
            assert!(m.mean.is_finite() && m.std >= 0.0);
        }
    }
}

#[test]
fn published_file_rejects_unknown_keys_and_wrong_label() {
    let text = superlinear::published::PUBLISHED_TOML
        .replace("label = \"published\"", "label = \"measured\"");
    assert!(Published::parse(&text, "x").is_err());
    let text = format!(
        "{}\nextra = 1\n",
        superlinear::published::PUBLISHED_TOML.replacen(
            "label = \"published\"\n",
            "label = \"published\"\nbogus = 2\n",
            1
        )
    );
    let err = Published::parse(&text, "x").unwrap_err().to_string();
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn published_table1_rendering() {
    insta::assert_snapshot!(Published::builtin().unwrap().table1_markdown());
}
