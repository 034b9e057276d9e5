//! The printable ceremony checklist read back with real tools: the
//! Markdown in docs/ is the one the code makes, the PDF is byte-identical
//! from run to run, pdftotext finds every step and role on it, every font
//! is embedded, and pdftoppm renders every page.

use std::path::Path;
use std::process::Command;

use airlock_attest::Paper;
use airlock_attest::checklist::{EDITION, ROLES, STEPS, markdown, render_pdf};
use airlock_test_kit::pdf::*;

fn repo_file(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn docs_checklist_md_is_the_generated_one() {
    assert!(
        repo_file("docs/checklist.md") == markdown(),
        "docs/checklist.md differs from crates/airlock-attest/src/checklist.rs; regenerate it with \
         `cargo run -p airlock-app -- checklist --markdown > docs/checklist.md`"
    );
}

#[test]
fn the_markdown_has_one_line_per_step_and_a_what_if_table_each() {
    let md = markdown();
    for (i, s) in STEPS.iter().enumerate() {
        let n = i + 1;
        assert!(
            md.contains(&format!("| {n} | {} | {} |", s.title, s.who)),
            "step {n}"
        );
        assert!(md.contains(&format!("### {n}. {}\n", s.title)), "step {n}");
    }
    for r in ROLES {
        assert!(
            md.contains(&format!("| {} | {} |", r.name, r.who)),
            "{}",
            r.name
        );
    }
}

#[test]
fn same_bytes_every_time_and_every_step_and_role_on_paper() {
    let a = render_pdf(Paper::A4).unwrap();
    assert_eq!(a, render_pdf(Paper::A4).unwrap(), "not byte-identical");
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("checklist.pdf");
    std::fs::write(&pdf, &a).unwrap();

    let text = squash(&pdf_text(&pdf));
    assert!(text.contains("Key ceremony checklist"), "{text}");
    assert!(text.contains(&format!("edition {EDITION}")));
    for (i, s) in STEPS.iter().enumerate() {
        let line = format!("{}. {}", i + 1, s.title);
        assert!(text.contains(&line), "{line:?} not on the page");
    }
    for r in ROLES {
        assert!(text.contains(r.name), "role {:?} not on the page", r.name);
    }
    for w in ["What to do if", "Read aloud", "Tick"] {
        assert!(text.contains(w), "{w}");
    }
    let info = pdf_info(&pdf);
    assert!(info.contains("595.276 x 841.89"), "{info}");
    let pages = pdf_pages(&pdf);
    assert!(text.contains(&format!("page {pages} of {pages}")), "footer");
    for (name, embedded) in pdf_fonts(&pdf) {
        assert!(embedded, "font {name} not embedded");
    }

    // Every page renders (pdftoppm), as a printer driver would rasterise it.
    let st = Command::new("pdftoppm")
        .args(["-png", "-r", "60"])
        .arg(&pdf)
        .arg(dir.path().join("page"))
        .status()
        .expect("pdftoppm (poppler-utils)");
    assert!(st.success());
    let pngs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    assert_eq!(pngs.len(), pages);
    for p in pngs {
        assert!(
            std::fs::metadata(&p).unwrap().len() > 5_000,
            "{}",
            p.display()
        );
    }
}

#[test]
fn letter_is_letter_sized() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("checklist.pdf");
    std::fs::write(&pdf, render_pdf(Paper::Letter).unwrap()).unwrap();
    assert!(pdf_info(&pdf).contains("612 x 792"), "{}", pdf_info(&pdf));
}
