//! The attestation's content and layout: what goes where on the page.
//!
//! Order, top to bottom: title; any override in large white-on-black type
//! (NOT AIR-GAPPED, SHA-1, an incomplete wipe); the import bundle's
//! `SHA256SUMS` digest in grouped hex, PGP words and a QR code; the
//! ceremony, workstation and HSM; the request; one row per key; the seal
//! (ceremony signing key, journal head, wipe); the tamper-evident bags; and
//! the signature block (one line per custodian and one for the witness).
//! Every page carries a footer with the ceremony id, the digest's first
//! groups and "page i of n".

use sha2::{Digest, Sha256};

use crate::error::AttestError;
use crate::fonts::Face;
use crate::model::{AttestationInput, WipeResult};
use crate::page::{Pages, wrap};
use crate::pdf::{DocMeta, to_pdf};
use crate::qr;
use crate::words::{grouped_hex, pgp_words};

const BODY: f32 = 8.5;
const LABEL_GREY: f32 = 0.35;
const RULE_GREY: f32 = 0.6;
const SHADE: f32 = 0.92;
const LABEL_W: f32 = 150.0;

fn check_all(pages: &Pages) -> Result<(), AttestError> {
    for (face, text) in pages.texts() {
        face.check("the attestation text", text)?;
    }
    Ok(())
}

/// Check printable values before layout, so the error names the field.
fn check_fields(a: &AttestationInput) -> Result<(), AttestError> {
    let mut fields: Vec<(String, &str)> = vec![
        ("ceremony id".into(), &a.ceremony_id),
        ("request id".into(), &a.request_id),
        ("hostname".into(), &a.hostname),
        ("HSM manufacturer".into(), &a.hsm.manufacturer),
        ("HSM model".into(), &a.hsm.model),
        ("HSM serial".into(), &a.hsm.serial),
        ("HSM token label".into(), &a.hsm.token_label),
        ("wrap path".into(), &a.hsm.wrap_path),
        ("request signer".into(), &a.request_signer_name),
    ];
    for c in &a.custodians {
        fields.push(("custodian name".into(), &c.name));
    }
    for k in &a.keys {
        fields.push((format!("key {} alias", k.name), &k.alias));
    }
    for (i, s) in a.seal_serials.iter().enumerate() {
        fields.push((format!("seal serial #{}", i + 1), s));
    }
    for (field, value) in fields {
        Face::Sans.check(&field, value)?;
    }
    Ok(())
}

fn heading(p: &mut Pages, title: &str) {
    p.ensure(40.0);
    p.y += 20.0;
    p.text(Face::Bold, 10.5, p.left(), p.y, title);
    p.y += 4.0;
    let (l, r) = (p.left(), p.left() + p.content_width());
    p.line(l, p.y, r, p.y, 0.6, RULE_GREY);
    p.y += 3.0;
}

/// A label/value row; the value wraps within its column.
fn row(p: &mut Pages, label: &str, value: &str, face: Face, size: f32) {
    let width = p.content_width() - LABEL_W;
    let lines = wrap(face, size, value, width);
    row_lines(p, label, &lines, face, size);
}

/// A label with a value already broken into lines.
fn row_lines(p: &mut Pages, label: &str, lines: &[String], face: Face, size: f32) {
    let x = p.left() + LABEL_W;
    let line_h = size + 3.5;
    p.ensure(line_h * lines.len() as f32 + 2.0);
    p.y += line_h;
    p.text_grey(Face::Sans, BODY, p.left(), p.y, LABEL_GREY, label);
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            p.y += line_h;
        }
        p.text(face, size, x, p.y, l.clone());
    }
}

/// A digest as two lines of eight groups of four hex digits.
fn hex_row(p: &mut Pages, label: &str, hex: &str) {
    let lines = crate::words::paper_hex_lines(hex);
    row_lines(p, label, &lines, Face::Mono, 8.5);
}

fn banner(p: &mut Pages, big: &str, small: &str) {
    let h = 40.0;
    p.ensure(h + 6.0);
    p.y += 6.0;
    let (x, w) = (p.left(), p.content_width());
    p.rect(x, p.y, w, h, 0.0);
    p.text_grey(Face::Bold, 22.0, x + 10.0, p.y + 25.0, 1.0, big);
    let small_x = x + 20.0 + Face::Bold.width(big, 22.0);
    for (i, l) in wrap(Face::Sans, 8.0, small, x + w - 8.0 - small_x)
        .iter()
        .take(3)
        .enumerate()
    {
        p.text_grey(
            Face::Sans,
            8.0,
            small_x,
            p.y + 14.0 + 10.0 * i as f32,
            1.0,
            l.clone(),
        );
    }
    p.y += h;
}

fn title(p: &mut Pages, a: &AttestationInput) {
    p.title_block(
        "Key ceremony attestation",
        "Airlock · AWS KMS bring your own key",
        &format!("sealed {}", a.completed_at),
    );
    p.y += 14.0;
    p.text_grey(
        Face::Sans,
        9.0,
        p.left(),
        p.y,
        LABEL_GREY,
        format!("Request {} · ceremony {}", a.request_id, a.ceremony_id),
    );
}

fn warnings(p: &mut Pages, a: &AttestationInput) {
    if a.network_override || !a.air_gapped {
        banner(
            p,
            "NOT AIR-GAPPED",
            "The workstation had a network interface up: the ceremony ran with the network override (--allow-network).",
        );
    }
    if a.sha1_override || !a.sha1_keys.is_empty() {
        let keys = if a.sha1_keys.is_empty() {
            "no key used it".to_string()
        } else {
            format!("wrapped with SHA-1: {}", a.sha1_keys.join(", "))
        };
        banner(
            p,
            "SHA-1 OVERRIDE",
            &format!("SHA-1 wrapping was allowed for this ceremony (--allow-sha1); {keys}."),
        );
    }
    if let WipeResult::Recorded {
        session_objects_remaining,
        ..
    } = &a.wipe
        && *session_objects_remaining > 0
    {
        banner(
            p,
            "WIPE INCOMPLETE",
            &format!("{session_objects_remaining} HSM session object(s) were left after the wipe."),
        );
    }
}

/// The boxed digest: grouped hex, PGP words, QR code.
fn digest_box(p: &mut Pages, a: &AttestationInput) -> Result<(), AttestError> {
    let qr = qr::encode(&a.bundle_sums_sha256)?;
    let words = pgp_words(&a.bundle_sums_sha256).unwrap_or_default();
    let hex = grouped_hex(&a.bundle_sums_sha256);
    let groups: Vec<&str> = hex.split(' ').collect();

    let pad = 10.0;
    let qr_side = 118.0;
    let word_rows = words.len().div_ceil(4);
    let h = pad + 12.0 + 2.0 * 17.0 + 8.0 + word_rows as f32 * 11.5 + pad;
    let h = h.max(qr_side + 2.0 * pad);
    p.ensure(h + 12.0);
    p.y += 12.0;
    let (x, w, top) = (p.left(), p.content_width(), p.y);
    p.rect(x, top, w, h, SHADE);
    p.frame(x, top, w, h, 1.2, 0.0);

    let tx = x + pad;
    let mut y = top + pad + 9.0;
    p.text(Face::Bold, 9.5, tx, y, "Import bundle SHA256SUMS · SHA-256");
    p.text_grey(
        Face::Sans,
        7.5,
        tx + Face::Bold.width("Import bundle SHA256SUMS · SHA-256", 9.5) + 8.0,
        y,
        LABEL_GREY,
        "read aloud; the importer compares it with sha256sum SHA256SUMS",
    );
    y += 6.0;
    for half in groups.chunks(8) {
        y += 17.0;
        p.text(Face::Mono, 14.0, tx, y, half.join(" "));
    }
    y += 8.0;
    let col_w = (w - 2.0 * pad - qr_side - 10.0) / 4.0;
    for (r, chunk) in words.chunks(4).enumerate() {
        y += 11.5;
        for (c, word) in chunk.iter().enumerate() {
            let n = r * 4 + c + 1;
            let cx = tx + c as f32 * col_w;
            p.text_grey(Face::Mono, 7.0, cx, y, LABEL_GREY, format!("{n:02}"));
            p.text(Face::Sans, 9.5, cx + 12.0, y, word.clone());
        }
    }

    // QR code, with its quiet zone, at the right of the box.
    let modules = (qr.width + 2 * qr::QUIET_ZONE) as f32;
    let m = qr_side / modules;
    let qx = x + w - pad - qr_side;
    let qy = top + (h - qr_side) / 2.0;
    p.rect(qx, qy, qr_side, qr_side, 1.0);
    let q = qr::QUIET_ZONE as f32;
    for (row, col, len) in &qr.runs {
        // A hair of overlap so adjacent modules render without seams.
        p.rect(
            qx + (q + *col as f32) * m,
            qy + (q + *row as f32) * m,
            *len as f32 * m + 0.05,
            m + 0.05,
            0.0,
        );
    }
    p.y = top + h;
    Ok(())
}

fn ceremony(p: &mut Pages, a: &AttestationInput) {
    heading(p, "Ceremony");
    row(p, "Ceremony id", &a.ceremony_id, Face::Mono, BODY);
    row(p, "Request id", &a.request_id, Face::Mono, BODY);
    row(p, "Started (UTC)", &a.started_at, Face::Sans, BODY);
    row(p, "Sealed (UTC)", &a.completed_at, Face::Sans, BODY);
    row(p, "Workstation", &a.hostname, Face::Sans, BODY);
    let gap = if a.air_gapped && !a.network_override {
        "air-gapped (only loopback was up)"
    } else {
        "NOT AIR-GAPPED (network override)"
    };
    row(
        p,
        "Air gap",
        gap,
        if a.air_gapped { Face::Sans } else { Face::Bold },
        BODY,
    );
    let sha1 = if a.sha1_override {
        "SHA-1 ALLOWED (override)"
    } else {
        "not allowed"
    };
    row(
        p,
        "SHA-1 wrapping",
        sha1,
        if a.sha1_override {
            Face::Bold
        } else {
            Face::Sans
        },
        BODY,
    );

    heading(p, "HSM");
    row(
        p,
        "Manufacturer / model",
        &format!("{} / {}", a.hsm.manufacturer, a.hsm.model),
        Face::Sans,
        BODY,
    );
    row(p, "Serial", &a.hsm.serial, Face::Mono, BODY);
    row(p, "Token label", &a.hsm.token_label, Face::Sans, BODY);
    row(p, "Wrap path", &a.hsm.wrap_path, Face::Mono, BODY);
    if !a.hsm.module_sha256.is_empty() {
        row(
            p,
            "PKCS#11 module SHA-256",
            &airlock_core::signature::group_hex(&a.hsm.module_sha256),
            Face::Mono,
            BODY,
        );
    }

    heading(p, "Request");
    row(p, "Signed by", &a.request_signer_name, Face::Sans, BODY);
    hex_row(p, "Signer key fingerprint", &a.request_signer_fingerprint);
    hex_row(p, "Request SHA256SUMS SHA-256", &a.request_sums_sha256);
}

/// Above this many keys the key table moves to an appendix, so that page 1
/// holds the digest to read aloud, the key totals and the signature lines.
pub const INLINE_KEY_ROWS: usize = 20;

/// Where the appendix's page range goes once it is known (page index, y).
struct AppendixRef {
    page: usize,
    y: f32,
}

/// The key totals by key spec and wrapping algorithm, and where the table
/// is (the page range is written once the appendix is laid out).
fn keys_summary(p: &mut Pages, a: &AttestationInput) -> AppendixRef {
    heading(p, &format!("Keys ({})", a.keys.len()));
    let mut totals: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    let mut replicas = 0;
    for k in &a.keys {
        *totals
            .entry((k.key_spec.as_str(), k.wrapping_algorithm.as_str()))
            .or_default() += 1;
        replicas += k.replicas.len();
    }
    if replicas > 0 {
        row(
            p,
            "Multi-Region",
            &format!("{replicas} more wrappings of these keys for replica Regions"),
            Face::Sans,
            BODY,
        );
    }
    for (i, ((spec, alg), n)) in totals.into_iter().enumerate() {
        let label = if i == 0 { "By spec and algorithm" } else { "" };
        row(p, label, &format!("{n} × {spec} · {alg}"), Face::Sans, BODY);
    }
    row(p, "Key table", "", Face::Sans, BODY);
    AppendixRef {
        page: p.page_index(),
        y: p.y,
    }
}

/// Writes "Appendix A, pages X to Y" into the summary's reserved row.
fn fill_appendix_ref(p: &mut Pages, at: &AppendixRef, first: usize, last: usize) {
    let back = p.page_index();
    p.select_page(at.page);
    p.text(
        Face::Bold,
        BODY,
        p.left() + LABEL_W,
        at.y,
        format!(
            "Appendix A, pages {} to {} (one row per key)",
            first + 1,
            last + 1
        ),
    );
    p.select_page(back);
}

fn keys(p: &mut Pages, a: &AttestationInput) {
    keys_table(p, a, "Keys");
}

fn keys_table(p: &mut Pages, a: &AttestationInput, title: &str) {
    let wrappings: usize = a.keys.iter().map(|k| 1 + k.replicas.len()).sum();
    if wrappings == a.keys.len() {
        heading(p, &format!("{title} ({})", a.keys.len()));
    } else {
        // A multi-Region key is one key (one HSM object) with a wrapping
        // per Region: its replicas are rows under it, not keys of their own.
        heading(
            p,
            &format!("{title} ({}, {wrappings} wrappings)", a.keys.len()),
        );
    }
    let size = 7.5;
    let cols: [(&str, f32, Face); 6] = [
        ("Name", 0.16, Face::Sans),
        ("Alias", 0.19, Face::Sans),
        ("Key spec", 0.195, Face::Sans),
        ("Wrapping algorithm", 0.215, Face::Sans),
        ("KCV", 0.08, Face::Mono),
        ("EKM SHA-256 (16)", 0.16, Face::Mono),
    ];
    let total = p.content_width();
    let widths: Vec<f32> = cols.iter().map(|c| c.1 * total).collect();
    let header = |p: &mut Pages| {
        p.y += 2.0;
        let (x0, y0) = (p.left(), p.y);
        p.rect(x0, y0, total, 13.0, 0.8);
        let mut x = x0 + 3.0;
        for (i, c) in cols.iter().enumerate() {
            p.text(Face::Bold, size, x, y0 + 9.5, c.0);
            x += widths[i];
        }
        p.y += 13.0;
    };
    p.ensure(30.0);
    header(p);
    let rows = a.keys.iter().enumerate().flat_map(|(n, k)| {
        std::iter::once((
            n,
            [
                k.name.clone(),
                k.alias.clone(),
                k.key_spec.clone(),
                k.wrapping_algorithm.clone(),
                k.kcv.clone().unwrap_or_else(|| "—".into()),
                k.material_sha256_prefix.clone(),
            ],
        ))
        .chain(k.replicas.iter().map(move |r| {
            (
                n,
                [
                    format!("+ {}", r.region),
                    "replica (same key)".to_string(),
                    k.key_spec.clone(),
                    r.wrapping_algorithm.clone(),
                    k.kcv.clone().unwrap_or_else(|| "—".into()),
                    r.material_sha256_prefix.clone(),
                ],
            )
        }))
    });
    for (n, cells) in rows {
        let wrapped: Vec<Vec<String>> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| wrap(cols[i].2, size, c, widths[i] - 6.0))
            .collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        let h = 4.0 + lines as f32 * (size + 3.0);
        if p.ensure(h + 2.0) {
            p.text_grey(
                Face::Sans,
                BODY,
                p.left(),
                p.y + 10.0,
                LABEL_GREY,
                format!("{title} (continued)"),
            );
            p.y += 14.0;
            header(p);
        }
        if n % 2 == 1 {
            p.rect(p.left(), p.y, total, h, SHADE);
        }
        let mut x = p.left() + 3.0;
        for (i, cell) in wrapped.iter().enumerate() {
            for (j, l) in cell.iter().enumerate() {
                p.text(
                    cols[i].2,
                    size,
                    x,
                    p.y + 2.0 + (j + 1) as f32 * (size + 3.0) - 2.0,
                    l.clone(),
                );
            }
            x += widths[i];
        }
        p.y += h;
    }
    p.line(p.left(), p.y, p.left() + total, p.y, 0.6, RULE_GREY);
    p.y += 2.0;
    let mut footnote = |text: &str| {
        p.text_grey(Face::Sans, 7.0, p.left(), p.y + 8.0, LABEL_GREY, text);
        p.y += 10.0;
    };
    footnote(
        "EKM SHA-256 (16): the first 16 hex digits of the SHA-256 of keys/<name>/EncryptedKeyMaterial.bin.",
    );
    if wrappings != a.keys.len() {
        footnote(
            "A replica row is the same HSM key wrapped for that Region: keys/<name>/replicas/<region>/EncryptedKeyMaterial.bin.",
        );
    }
}

fn seal(p: &mut Pages, a: &AttestationInput) {
    heading(p, "Seal and journal");
    hex_row(p, "Ceremony signing key", &a.ceremony_key_fingerprint);
    hex_row(
        p,
        &format!("Journal head ({} entries)", a.journal_entries),
        &a.journal_head_sha256,
    );
    match &a.wipe {
        WipeResult::InWorkstationJournal => row(
            p,
            "Wipe",
            "recorded in the workstation journal after this bundle's copy ends (wipe_done, ceremony_completed)",
            Face::Sans,
            BODY,
        ),
        WipeResult::NotYetRecorded => row(
            p,
            "Wipe",
            "NOT YET RECORDED: the workstation journal has no wipe_done entry after the bundle",
            Face::Bold,
            BODY,
        ),
        WipeResult::Recorded {
            at,
            work_files,
            work_bytes,
            request_files,
            session_objects_destroyed,
            session_objects_remaining,
            outcome,
            full_journal_head,
            full_journal_entries,
        } => {
            let request = match request_files {
                Some(n) => format!("request bundle wiped ({n} files)"),
                None => "request bundle kept".into(),
            };
            let text = format!(
                "{at}: {work_files} working files ({work_bytes} bytes) overwritten and removed; {request}; \
                 HSM session objects {session_objects_destroyed} destroyed, {session_objects_remaining} left; {}",
                outcome
                    .as_deref()
                    .unwrap_or("no ceremony_completed entry yet")
            );
            row(p, "Wipe", &text, Face::Sans, BODY);
            hex_row(
                p,
                &format!("Full journal head ({full_journal_entries})"),
                full_journal_head,
            );
        }
    }
}

fn bags(p: &mut Pages, a: &AttestationInput) {
    heading(p, "Tamper-evident bags");
    if a.seal_serials.is_empty() && a.no_bags_confirmed {
        row(
            p,
            "Bag serials",
            "none: the custodians confirmed at the workstation that no tamper-evident bags were used (journal: no_seal_serials_confirmed)",
            Face::Bold,
            BODY,
        );
    } else if a.seal_serials.is_empty() {
        p.ensure(40.0);
        for _ in 0..2 {
            p.y += 20.0;
            p.text_grey(Face::Sans, BODY, p.left(), p.y, LABEL_GREY, "Bag serial");
            let x = p.left() + LABEL_W;
            p.line(x, p.y + 1.0, x + 200.0, p.y + 1.0, 0.5, 0.0);
        }
    } else {
        for (i, s) in a.seal_serials.iter().enumerate() {
            row(p, &format!("Bag serial {}", i + 1), s, Face::Mono, 9.0);
        }
    }
}

fn signatures(p: &mut Pages, a: &AttestationInput) {
    heading(p, "Signatures");
    let statement = "We were present for this ceremony, compared the digests on this attestation with the \
                     workstation's screen, and saw the USB media sealed in the bags listed.";
    for l in wrap(Face::Sans, BODY, statement, p.content_width()) {
        p.ensure(12.0);
        p.y += 11.0;
        p.text(Face::Sans, BODY, p.left(), p.y, l);
    }
    let x_sig = p.left() + 190.0;
    let x_date = p.left() + p.content_width() - 100.0;
    let right = p.left() + p.content_width();
    let signer = |p: &mut Pages, role: &str, name: Option<&str>, detail: &str| {
        p.ensure(38.0);
        p.y += 30.0;
        p.text_grey(Face::Sans, 7.0, p.left(), p.y - 14.0, LABEL_GREY, role);
        match name {
            Some(n) => p.text(Face::Bold, 10.0, p.left(), p.y - 1.0, n),
            None => p.line(p.left(), p.y + 1.0, x_sig - 12.0, p.y + 1.0, 0.5, 0.0),
        }
        p.line(x_sig, p.y + 1.0, x_date - 12.0, p.y + 1.0, 0.5, 0.0);
        p.line(x_date, p.y + 1.0, right, p.y + 1.0, 0.5, 0.0);
        p.y += 9.0;
        p.text_grey(Face::Sans, 7.0, p.left(), p.y, LABEL_GREY, detail);
        p.text_grey(Face::Sans, 7.0, x_sig, p.y, LABEL_GREY, "signature");
        p.text_grey(Face::Sans, 7.0, x_date, p.y, LABEL_GREY, "date");
    };
    for c in &a.custodians {
        signer(
            p,
            "Custodian",
            Some(&c.name),
            &format!("authenticated {}", c.authenticated_at),
        );
    }
    signer(p, "Witness", None, "name");
}

fn footers(p: &mut Pages, a: &AttestationInput) {
    let left_text = format!(
        "Airlock attestation · ceremony {} · import SHA256SUMS {}…",
        a.ceremony_id,
        grouped_hex(
            a.bundle_sums_sha256
                .get(..16)
                .unwrap_or(&a.bundle_sums_sha256)
        )
    );
    p.footers(&left_text);
}

/// Lays out the attestation (exposed for tests and previews).
pub fn layout(a: &AttestationInput) -> Result<Pages, AttestError> {
    check_fields(a)?;
    let (w, h) = a.paper.size_pt();
    let mut p = Pages::new(w, h);
    title(&mut p, a);
    warnings(&mut p, a);
    digest_box(&mut p, a)?;
    let table_rows: usize = a.keys.iter().map(|k| 1 + k.replicas.len()).sum();
    if table_rows <= INLINE_KEY_ROWS {
        ceremony(&mut p, a);
        keys(&mut p, a);
        seal(&mut p, a);
        bags(&mut p, a);
        signatures(&mut p, a);
    } else {
        // Page 1: what is read aloud and signed; then the details; then
        // the key table, however long, as an appendix.
        let at = keys_summary(&mut p, a);
        bags(&mut p, a);
        signatures(&mut p, a);
        p.new_page();
        ceremony(&mut p, a);
        seal(&mut p, a);
        p.new_page();
        let first = p.page_index();
        keys_table(&mut p, a, "Appendix A: keys");
        let last = p.page_index();
        fill_appendix_ref(&mut p, &at, first, last);
    }
    footers(&mut p, a);
    check_all(&p)?;
    Ok(p)
}

/// Renders the attestation as PDF bytes. The same input gives the same
/// bytes: the dates are the bundle's sealing time and the document id is
/// derived from the content.
pub fn render_pdf(a: &AttestationInput) -> Result<Vec<u8>, AttestError> {
    let pages = layout(a)?;
    let date = time::OffsetDateTime::parse(
        &a.completed_at,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let id_hash = hex::encode(Sha256::digest(
        format!("airlock-attestation/1\n{a:?}").as_bytes(),
    ));
    let meta = DocMeta {
        title: format!("Key ceremony attestation: {}", a.request_id),
        subject: format!(
            "Import bundle SHA256SUMS SHA-256 {} (ceremony {})",
            a.bundle_sums_sha256, a.ceremony_id
        ),
        date,
        id: id_hash[..32].to_string(),
    };
    to_pdf(&pages, &meta)
}
