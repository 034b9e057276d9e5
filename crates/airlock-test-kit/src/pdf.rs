//! Reading a PDF back as a person or a scanner would: its text, fonts and
//! pages (poppler-utils) and the QR code on page 1 (zbarimg).

use std::path::Path;
use std::process::Command;

/// `pdftotext -layout FILE -`.
pub fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext").arg("-layout").arg(pdf).arg("-").output().expect(
        "pdftotext (poppler-utils) is needed: ceremony-scripts/lib/install-deps.sh --test installs it",
    );
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `pdftotext -layout -f N -l N FILE -`: page N (1-based) alone.
pub fn pdf_page_text(pdf: &Path, page: usize) -> String {
    let n = page.to_string();
    let out = Command::new("pdftotext")
        .args(["-layout", "-f", &n, "-l", &n])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// The `pdffonts` table rows (name, embedded?).
pub fn pdf_fonts(pdf: &Path) -> Vec<(String, bool)> {
    let out = Command::new("pdffonts")
        .arg(pdf)
        .output()
        .expect("pdffonts (poppler-utils)");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(2)
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // name type... encoding emb sub uni object ID: emb is 5th from the end.
            (cols[0].to_string(), cols[cols.len() - 5] == "yes")
        })
        .collect()
}

/// Decodes the QR codes on page 1 (rendered at 200 dpi) with zbarimg.
pub fn qr_codes(pdf: &Path) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("page");
    let st = Command::new("pdftoppm")
        .args(["-png", "-r", "200", "-f", "1", "-l", "1"])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .expect("pdftoppm (poppler-utils)");
    assert!(st.success());
    let png = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&png)
        .output()
        .expect("zbarimg (zbar-tools) is needed: install-deps.sh --test installs it");
    assert!(
        out.status.success(),
        "zbarimg found no code: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `pdfinfo` "Pages:" and "Page size:" lines.
pub fn pdf_info(pdf: &Path) -> String {
    let out = Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .expect("pdfinfo (poppler-utils)");
    String::from_utf8(out.stdout).unwrap()
}

/// The page count `pdfinfo` reports.
pub fn pdf_pages(pdf: &Path) -> usize {
    let info = pdf_info(pdf);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap_or_else(|| panic!("no Pages: in {info}"))
        .trim()
        .parse()
        .unwrap()
}

/// Collapses runs of whitespace (pdftotext spreads columns with spaces).
pub fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
