//! Printing through a real CUPS daemon with a PDF printer (Debian `cups` +
//! `printer-driver-cups-pdf`). The test starts `cupsd` itself when it is not
//! running and adds the `airlock-test` queue (both need root, as in CI),
//! prints a rendered attestation, waits for CUPS to report the job
//! completed, and reads the PDF that cups-pdf wrote (in `$HOME/PDF/`) back.
//!
//! cups-pdf receives PostScript (CUPS converts the PDF with pdftops) and
//! rebuilds a PDF with Ghostscript, which drops the fonts' ToUnicode maps:
//! pdftotext of the printed copy is unreadable glyph codes, as it would be
//! on paper. So the printed copy is checked the way a reader checks paper:
//! its QR code decodes to the import bundle's digest, and it has the same
//! number of pages. (A raster comparison was tried and dropped: pdftopdf
//! shifts the page by a few points, which swamps a pixel difference.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use airlock_attest::print::{PrintError, list_printers, print_file, wait_for_job};
use airlock_attest::render_pdf;
use airlock_test_kit::attestation::*;
use airlock_test_kit::pdf::*;

const QUEUE: &str = "airlock-test";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

fn scheduler_running() -> bool {
    Command::new("lpstat")
        .arg("-r")
        .env("LC_ALL", "C")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("scheduler is running"))
        .unwrap_or(false)
}

/// Starts cupsd and adds the cups-pdf queue when missing.
fn ensure_cups_pdf_queue() {
    assert!(
        Command::new("lpstat").arg("-r").output().is_ok(),
        "CUPS is not installed: run ceremony-scripts/lib/install-deps.sh --test (cups, printer-driver-cups-pdf)"
    );
    if !scheduler_running() {
        assert!(
            is_root(),
            "cupsd is not running and this test is not root: start cupsd first"
        );
        let st = Command::new("cupsd").status().expect("cupsd");
        assert!(st.success(), "cupsd failed to start");
        let start = Instant::now();
        while !scheduler_running() {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "cupsd did not come up"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    if !list_printers().unwrap().iter().any(|p| p.name == QUEUE) {
        assert!(
            is_root(),
            "the {QUEUE} queue is missing and this test is not root"
        );
        let out = Command::new("lpadmin")
            .args([
                "-p",
                QUEUE,
                "-E",
                "-v",
                "cups-pdf:/",
                "-m",
                "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd",
            ])
            .args(["-o", "PageSize=A4"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lpadmin: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn pdfs_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pdf"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn prints_through_cups_pdf_and_the_printed_copy_carries_the_digest() {
    ensure_cups_pdf_queue();
    let printers = list_printers().unwrap();
    assert!(
        printers.iter().any(|p| p.name == QUEUE && p.enabled),
        "{printers:?}"
    );

    let a = sample(3);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("attestation.pdf");
    std::fs::write(&file, render_pdf(&a).unwrap()).unwrap();

    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
    let out_dirs = [
        home.join("PDF"),
        PathBuf::from("/var/spool/cups-pdf/ANONYMOUS"),
    ];

    let job = print_file(&file, Some(QUEUE)).unwrap();
    let number = job
        .0
        .strip_prefix(&format!("{QUEUE}-"))
        .unwrap_or_else(|| panic!("job id {job}"));
    wait_for_job(&job, Duration::from_secs(60)).unwrap();

    // cups-pdf names its output after the job number; allow a few seconds.
    let suffix = format!("job_{number}.pdf");
    let start = Instant::now();
    let printed = loop {
        let found = out_dirs
            .iter()
            .flat_map(|d| pdfs_in(d))
            .find(|p| p.to_string_lossy().ends_with(&suffix));
        if let Some(p) = found {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no *{suffix} in {out_dirs:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        qr_codes(&printed),
        vec![a.bundle_sums_sha256.clone()],
        "QR of the printed copy"
    );
    let pages = |p: &Path| {
        pdf_info(p)
            .lines()
            .find(|l| l.starts_with("Pages:"))
            .map(str::to_string)
    };
    assert_eq!(
        pages(&printed),
        pages(&file),
        "page count of the printed copy"
    );
    let _ = std::fs::remove_file(&printed);
}

#[test]
fn an_unknown_printer_is_named_with_the_saved_file() {
    ensure_cups_pdf_queue();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("attestation.pdf");
    std::fs::write(&file, render_pdf(&sample(1)).unwrap()).unwrap();
    let e = print_file(&file, Some("no-such-printer")).unwrap_err();
    assert!(matches!(e, PrintError::UnknownPrinter { .. }), "{e}");
    let t = e.to_string();
    assert!(t.contains("no-such-printer") && t.contains(QUEUE), "{t}");
    assert!(t.contains(&file.display().to_string()), "{t}");
}
