//! The printable ceremony checklist: who is in the room, and for each step
//! of the ceremony who does it, what is read aloud, what the witness ticks,
//! and what to do if it goes wrong.
//!
//! The content lives here, once, as plain tables ([`ROLES`], [`STEPS`]).
//! [`markdown`] renders it as `docs/checklist.md` (a test keeps the file
//! equal to it; `airlock checklist --markdown` regenerates it) and
//! [`render_pdf`] lays it out for paper with the attestation's page model,
//! fonts and deterministic PDF writer: the same build gives the same bytes.
//! The steps follow `docs/runbook.md` and the exit codes
//! `docs/exit-codes.md`.

use sha2::{Digest, Sha256};

use crate::error::AttestError;
use crate::fonts::Face;
use crate::model::Paper;
use crate::page::{Pages, wrap};
use crate::pdf::{DocMeta, to_pdf};

/// The checklist's edition: printed on every page and used as the PDF's
/// date. Change it when the content changes.
pub const EDITION: &str = "2026-12-02";

/// A person in the room (or on the phone).
#[derive(Debug, Clone, Copy)]
pub struct Role {
    /// What the role is called on the page.
    pub name: &'static str,
    /// How many, and who may (not) hold it.
    pub who: &'static str,
    /// What they do and what they hold.
    pub duties: &'static str,
}

/// One "if this happens, do that" row.
#[derive(Debug, Clone, Copy)]
pub struct WhatIf {
    /// What happened.
    pub situation: &'static str,
    /// What to do.
    pub action: &'static str,
}

/// One step of the ceremony.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// The step's title.
    pub title: &'static str,
    /// Who does it.
    pub who: &'static str,
    /// The command typed, if any.
    pub command: Option<&'static str>,
    /// What is read aloud (and by whom).
    pub read_aloud: &'static str,
    /// What the witness ticks, one box each.
    pub ticks: &'static [&'static str],
    /// What to do if it goes wrong.
    pub what_if: &'static [WhatIf],
}

/// The people.
pub const ROLES: &[Role] = &[
    Role {
        name: "Custodian",
        who: "at least two (M of N, named in the roster); never the witness",
        duties: "Knows one passphrase that unseals one share of the HSM user PIN. Types it unseen when Airlock asks for them by name. Never says it, writes it where others can see it, or types it for someone else. Compares and reads digests aloud. Signs the attestation.",
    },
    Role {
        name: "Witness",
        who: "one; not a custodian, not at the keyboard",
        duties: "Holds this checklist and ticks every box. Compares the workstation clock with a trusted clock. Watches that nobody else sees a passphrase being typed. Signs the attestation and this checklist, and files them with the ceremony records.",
    },
    Role {
        name: "Security officer",
        who: "one; holds the token's SO PIN",
        duties: "Keeps the SO PIN in a sealed envelope in the safe. Types it unseen at enrolment (airlock enroll), which sets a random HSM user PIN that nobody ever sees. Not needed for a ceremony run: brings the envelope, shows its seal intact, and takes it back unopened.",
    },
    Role {
        name: "Operator at the keyboard",
        who: "one; may be a custodian, never the witness",
        duties: "Mounts the USB media, types the commands on this checklist, reads the screen out, and steps away from the keyboard while a custodian types a passphrase.",
    },
    Role {
        name: "Online operator",
        who: "one, on the phone from the security account",
        duties: "Prepared and signed the request. Reads the bag serial, the request digest and the signer's fingerprint to the custodians. On receipt of the bundle, types the digest from the paper into airlock-online import --expect-digest before importing.",
    },
];

/// The ceremony, step by step.
pub const STEPS: &[Step] = &[
    Step {
        title: "People and room",
        who: "Witness",
        command: None,
        read_aloud: "Witness: each person's name and role.",
        ticks: &[
            "at least M custodians present, each named in the roster",
            "the witness is not a custodian",
            "network cable unplugged and wireless switched off (physically)",
        ],
        what_if: &[
            WhatIf {
                situation: "A custodian is absent",
                action: "With N > M another enrolled custodian takes their place. With 2 of 2 (N = M) there is no way round it: postpone. Import parameters are valid for 24 hours, so the online side prepares a new request for the new date.",
            },
            WhatIf {
                situation: "A custodian has left for good",
                action: "While M custodians remain, re-enrol without them: airlock enroll --replace with M --current custodians and the new --custodian list. With 2 of 2 there is no way back: the HSM user PIN cannot be rebuilt, so the security officer re-initialises the token with the vendor's tools, everyone enrols afresh, and the online side enrols the new ceremony signing key; keys made under the old enrolment are lost. Enrol N > M.",
            },
        ],
    },
    Step {
        title: "Clock",
        who: "Witness",
        command: Some("date -u"),
        read_aloud: "Operator: the workstation's UTC date and time. Witness: the trusted clock's.",
        ticks: &["the two agree to the minute"],
        what_if: &[WhatIf {
            situation: "Wrong clock",
            action: "Do not start. The operator sets it (sudo date -u -s 'YYYY-MM-DD HH:MM:SS', then sudo hwclock --systohc) and the witness checks again. Airlock judges the request's validity by this clock: one that is ahead refuses a valid request (exit 18), one that is behind lets an expired request through (the import then fails online), and the journal and attestation carry its times.",
        }],
    },
    Step {
        title: "Request medium",
        who: "Witness, online operator",
        command: None,
        read_aloud: "Online operator: the bag serial they sent. Witness: the serial on the bag.",
        ticks: &["the serials match", "the bag is intact"],
        what_if: &[WhatIf {
            situation: "Serial differs or bag damaged",
            action: "Stop. Do not insert the stick; keep it and the bag as evidence. The online side sends a new request on a new stick.",
        }],
    },
    Step {
        title: "Mount the USB medium",
        who: "Operator",
        command: Some(
            "lsblk -o NAME,SIZE,LABEL,MOUNTPOINT ; sudo mount -o nosuid,nodev,noexec /dev/sdX1 /media/usb ; ls /media/usb",
        ),
        read_aloud: "Operator: the device name, size and label of the stick.",
        ticks: &[
            "the request folder is on the stick",
            "the stick is mounted writable (the bundle is written to it)",
        ],
        what_if: &[WhatIf {
            situation: "The stick does not show, or mounts read-only",
            action: "Try another port; check the stick's write-protect switch. The output may go to a second, empty stick instead: mount it too and pass its folder to --out.",
        }],
    },
    Step {
        title: "Unfinished ceremonies",
        who: "Operator",
        command: Some("airlock ceremony status"),
        read_aloud: "Operator: \"No unfinished ceremonies\", or each one listed with its request and HSM keys.",
        ticks: &["nothing unfinished, or only this request (it will resume)"],
        what_if: &[WhatIf {
            situation: "Keys left in the HSM by an aborted run",
            action: "ceremony status lists the HSM keys the run created (labels NAME/REQUEST_ID). Running the same request again reuses them, never a second copy. If that request will not run again (expired), give the run up with airlock ceremony discard ID and M custodians: it destroys those keys and closes the record; write the labels it names here.",
        }],
    },
    Step {
        title: "Start: preflight",
        who: "Operator",
        command: Some(
            "airlock ceremony run --request /media/usb/REQUEST --out /media/usb/IMPORT --custodian A --custodian B --seal-serial SERIAL",
        ),
        read_aloud: "Operator: the air gap line, the clock, the HSM manufacturer, model and serial, and the PKCS#11 module's SHA-256.",
        ticks: &[
            "Air gap: only loopback is up",
            "the HSM serial matches the asset register",
            "the module SHA-256 matches the one recorded at enrolment",
        ],
        what_if: &[
            WhatIf {
                situation: "NOT AIR-GAPPED (exit 51)",
                action: "Unplug the cable or switch the interface off, then run the same command again. --allow-network is for rehearsals only; the attestation would print NOT AIR-GAPPED.",
            },
            WhatIf {
                situation: "HSM not found (exit 30)",
                action: "Check it is connected and powered, then airlock hsm probe; check [hsm] in airlock.toml (docs/config.md).",
            },
        ],
    },
    Step {
        title: "Request",
        who: "Custodians, online operator",
        command: None,
        read_aloud: "Online operator: the request SHA256SUMS digest, group by group; a custodian compares it with the screen. Then the signer's name and fingerprint, and the keys of the plan. Each custodian then types yes (or ticks the plan and presses The digests match in the window); nothing logs in before.",
        ticks: &[
            "request digest matches, every group",
            "signer is the expected one",
            "keys and aliases are the planned ones",
            "every custodian confirmed the plan before the login",
        ],
        what_if: &[
            WhatIf {
                situation: "Digest mismatch",
                action: "Stop before anyone types a passphrase: press Ctrl-C at the first passphrase prompt; nothing has touched the HSM. Have it read again. If it still differs, this is not the request they signed: keep the stick as evidence and get a new request.",
            },
            WhatIf {
                situation: "Refused (exit 10 to 18, or 20)",
                action: "The message names the file and field. Nothing was done; the online side fixes and re-signs the request. Expired (18): check the clock, then ask for new import parameters.",
            },
        ],
    },
    Step {
        title: "Quorum login",
        who: "Each custodian, alone at the keyboard",
        command: None,
        read_aloud: "Nobody reads a passphrase. Operator: \"Custodian NAME authenticated (k of M)\" after each, then \"Quorum logged in\" and the self-tests.",
        ticks: &[
            "each custodian typed unseen",
            "Quorum logged in to the HSM",
            "self-tests passed",
        ],
        what_if: &[
            WhatIf {
                situation: "Forgotten passphrase",
                action: "A wrong passphrase is refused without any HSM login attempt and asked again on the terminal; three in a row (exit 40) lock that custodian out of this ceremony. With N > M another enrolled custodian logs in instead; afterwards replace the one who forgot with airlock enroll --replace (M current custodians consent). With 2 of 2 there is no way back (see step 1).",
            },
            WhatIf {
                situation: "Signing key is not the enrolled one",
                action: "Stop: this is not the enrolled HSM or token. Keep everything as it is and call the security officer.",
            },
        ],
    },
    Step {
        title: "Generate and wrap",
        who: "Operator",
        command: None,
        read_aloud: "Operator: one line per key: name, generated or resumed, wrap path, KCV.",
        ticks: &["one line for every planned key"],
        what_if: &[WhatIf {
            situation: "HSM unplugged or power lost mid-run",
            action: "The command stops (exit 30 or 32, or nothing after a power cut); the key material never left the HSM. Reconnect, run airlock hsm probe and airlock ceremony status, then the same command with the same request: it resumes and reuses the keys it already made.",
        }],
    },
    Step {
        title: "Seal, export and wipe",
        who: "Operator",
        command: None,
        read_aloud: "Operator: \"Bundle sealed, read back, verified and published\", and the wipe line.",
        ticks: &[
            "bundle published at the --out folder",
            "0 HSM session objects remaining; logged out",
        ],
        what_if: &[
            WhatIf {
                situation: "Export or read-back failed (exit 50 or 4)",
                action: "Nothing half-written is published. Check the stick (space, write-protect), then run the same command again: it resumes.",
            },
            WhatIf {
                situation: "Session objects remaining",
                action: "Write the number here. The attestation prints WIPE INCOMPLETE in large type; tell the security officer.",
            },
        ],
    },
    Step {
        title: "Print the attestation",
        who: "Operator",
        command: Some("airlock print /media/usb/IMPORT/attestation.pdf"),
        read_aloud: "Operator: the print job id.",
        ticks: &["every page printed, footers read page i of n"],
        what_if: &[WhatIf {
            situation: "Printer failure (exit 60)",
            action: "The ceremony result is kept: the bundle is complete and sealed, and attestation.pdf is in it. Do not run the ceremony again (a completed request is refused). Fix the printer (airlock print --list, paper, cable) and print again. If the PDF is missing, rebuild it: airlock attest /media/usb/IMPORT --ceremony-key STATE/ceremony-signing-key.pem --journal STATE/ceremonies/ID/journal.jsonl --force.",
        }],
    },
    Step {
        title: "Read the import digest",
        who: "Two custodians; witness",
        command: None,
        read_aloud: "Custodian A: the import SHA256SUMS digest from the screen. Custodian B: the same from the paper (hex or PGP words).",
        ticks: &["screen and paper agree, every group"],
        what_if: &[WhatIf {
            situation: "Screen and paper differ",
            action: "Do not sign. Rebuild and reprint the attestation (airlock attest ... --force, then airlock print). If they still differ, keep the stick, the paper and the workstation untouched for investigation.",
        }],
    },
    Step {
        title: "Sign",
        who: "Custodians, witness",
        command: None,
        read_aloud: "Witness: each name as they sign.",
        ticks: &[
            "every custodian signed the attestation",
            "the witness signed the attestation and this checklist",
        ],
        what_if: &[WhatIf {
            situation: "Someone will not sign",
            action: "Do not hand the bundle over. Write down why; the security officer decides.",
        }],
    },
    Step {
        title: "Bag the bundle",
        who: "Operator, witness",
        command: Some("sync ; sudo umount /media/usb"),
        read_aloud: "Witness: the new bag's serial.",
        ticks: &[
            "unmounted without error before the stick was pulled",
            "serial written on the attestation",
            "bag sealed",
        ],
        what_if: &[WhatIf {
            situation: "umount says the target is busy",
            action: "Close every window and shell on /media/usb (cd /), then umount again. Never pull a mounted stick.",
        }],
    },
    Step {
        title: "Back up the state directory",
        who: "Operator, witness",
        command: Some("airlock state backup --out /media/backup/state-CEREMONY_ID"),
        read_aloud: "Operator: the backup's SHA256SUMS digest, written on the backup medium's label.",
        ticks: &[
            "backup written, HSM seals checked",
            "digest on the label; medium stored apart from the workstation",
        ],
        what_if: &[WhatIf {
            situation: "The state directory is lost or damaged later",
            action: "On the workstation: airlock state restore --from BACKUP --ceremony-key-fingerprint FINGERPRINT (from the enrolment record or any attestation). A backup that was edited, or sealed by another key, is refused (exit 54 / 12).",
        }],
    },
    Step {
        title: "Hand-off",
        who: "Online operator",
        command: Some(
            "airlock-online import --bundle DIR --ceremony-key PEM --expect-digest DIGEST --request DIR",
        ),
        read_aloud: "Online operator, on receipt: the bag serial, and that airlock-online import accepted the digest typed from the paper.",
        ticks: &[
            "bag serial confirmed by the online operator",
            "digest confirmed before import",
        ],
        what_if: &[WhatIf {
            situation: "Digest mismatch at the online side",
            action: "Nothing is imported. Do not retry with another digest; keep the stick and paper and compare with the ceremony's journal (docs/online-runbook.md).",
        }],
    },
];

/// Every text that ends up in the markdown and on paper (for checks).
#[cfg(test)]
fn all_texts() -> impl Iterator<Item = &'static str> {
    let roles = ROLES.iter().flat_map(|r| [r.name, r.who, r.duties]);
    let steps = STEPS.iter().flat_map(|s| {
        [s.title, s.who, s.read_aloud]
            .into_iter()
            .chain(s.command)
            .chain(s.ticks.iter().copied())
            .chain(s.what_if.iter().flat_map(|w| [w.situation, w.action]))
    });
    roles.chain(steps)
}

/// The checklist as Markdown: what `docs/checklist.md` holds.
pub fn markdown() -> String {
    let mut m = String::new();
    m.push_str("# Key ceremony checklist\n\n");
    m.push_str(
        "<!-- Generated by `airlock checklist --markdown` from crates/airlock-attest/src/checklist.rs;\n     \
         edit that file, then regenerate this one (a test checks they agree). -->\n\n",
    );
    m.push_str(&format!(
        "Edition {EDITION}. Print it for every ceremony with `airlock checklist --out checklist.pdf` \
         (A4; `--letter` for US Letter); the witness ticks it and files it with the signed \
         attestation. The steps are those of the [runbook](runbook.md); exit codes are in \
         [exit codes](exit-codes.md).\n\n"
    ));
    m.push_str("## Roles\n\n| role | who | does |\n|---|---|---|\n");
    for r in ROLES {
        m.push_str(&format!("| {} | {} | {} |\n", r.name, r.who, r.duties));
    }
    m.push_str("\n## Steps\n\n| # | step | who | read aloud | tick |\n|---:|---|---|---|---|\n");
    for (i, s) in STEPS.iter().enumerate() {
        m.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            i + 1,
            s.title,
            s.who,
            s.read_aloud,
            s.ticks
                .iter()
                .map(|t| format!("[ ] {t}"))
                .collect::<Vec<_>>()
                .join("<br>")
        ));
    }
    m.push_str("\n## What to do if\n");
    for (i, s) in STEPS.iter().enumerate() {
        m.push_str(&format!("\n### {}. {}\n\n", i + 1, s.title));
        if let Some(c) = s.command {
            m.push_str(&format!("Command: `{c}`\n\n"));
        }
        m.push_str("| if | then |\n|---|---|\n");
        for w in s.what_if {
            m.push_str(&format!("| {} | {} |\n", w.situation, w.action));
        }
    }
    m
}

const BODY: f32 = 8.5;
const SMALL: f32 = 7.5;
const LABEL_GREY: f32 = 0.35;
const RULE_GREY: f32 = 0.6;
const SHADE: f32 = 0.93;
const LABEL_W: f32 = 78.0;

fn heading(p: &mut Pages, title: &str) {
    p.ensure(46.0);
    p.y += 20.0;
    p.text(Face::Bold, 11.0, p.left(), p.y, title);
    p.y += 4.0;
    let (l, r) = (p.left(), p.left() + p.content_width());
    p.line(l, p.y, r, p.y, 0.6, RULE_GREY);
    p.y += 2.0;
}

fn paragraph(p: &mut Pages, face: Face, size: f32, x: f32, width: f32, text: &str) {
    for l in wrap(face, size, text, width) {
        p.ensure(size + 4.0);
        p.y += size + 3.0;
        p.text(face, size, x, p.y, l);
    }
}

/// A grey label at the left and a wrapped value beside it.
fn row(p: &mut Pages, label: &str, value: &str, face: Face) {
    let x = p.left() + LABEL_W;
    let lines = wrap(face, BODY, value, p.content_width() - LABEL_W);
    let line_h = BODY + 3.0;
    p.ensure(line_h * lines.len().min(3) as f32 + 3.0);
    p.y += line_h + 1.0;
    p.text_grey(Face::Sans, SMALL, p.left(), p.y, LABEL_GREY, label);
    for (i, l) in lines.into_iter().enumerate() {
        if i > 0 {
            p.ensure(line_h);
            p.y += line_h;
        }
        p.text(face, BODY, x, p.y, l);
    }
}

/// An empty box to tick, then the text.
fn tick(p: &mut Pages, text: &str) {
    let x = p.left() + LABEL_W;
    let lines = wrap(Face::Sans, BODY, text, p.content_width() - LABEL_W - 16.0);
    p.ensure(BODY + 6.0);
    p.y += BODY + 5.0;
    p.frame(x, p.y - 8.0, 9.0, 9.0, 0.8, 0.0);
    for (i, l) in lines.into_iter().enumerate() {
        if i > 0 {
            p.y += BODY + 3.0;
        }
        p.text(Face::Sans, BODY, x + 16.0, p.y, l);
    }
}

/// A fill-in line with a small label under it.
fn blank(p: &mut Pages, x: f32, y: f32, w: f32, label: &str) {
    p.line(x, y, x + w, y, 0.5, 0.0);
    p.text_grey(Face::Sans, 6.5, x, y + 8.0, LABEL_GREY, label);
}

fn title(p: &mut Pages) {
    p.title_block(
        "Key ceremony checklist",
        "Airlock · AWS KMS bring your own key",
        &format!("edition {EDITION}"),
    );
    p.y += 8.0;
    let w = p.content_width();
    paragraph(
        p,
        Face::Sans,
        BODY,
        p.left(),
        w,
        "The witness holds this sheet and ticks each box as it happens. Stop at any box that cannot be ticked \
         and follow its \"what to do if\". Nobody ever reads a passphrase or PIN aloud. Steps follow \
         docs/runbook.md; exit codes are in docs/exit-codes.md.",
    );
    p.y += 24.0;
    let (l, gap) = (p.left(), 12.0);
    let col = (w - 3.0 * gap) / 4.0;
    for (i, label) in ["date", "place", "request id", "HSM serial"]
        .iter()
        .enumerate()
    {
        blank(p, l + i as f32 * (col + gap), p.y, col, label);
    }
    p.y += 8.0;
}

fn roles(p: &mut Pages) {
    heading(p, "Roles");
    let w = p.content_width();
    for r in ROLES {
        p.ensure(40.0);
        p.y += 13.0;
        p.text(Face::Bold, 9.0, p.left(), p.y, r.name);
        let x = p.left() + Face::Bold.width(r.name, 9.0) + 8.0;
        p.text_grey(Face::Sans, SMALL, x, p.y, LABEL_GREY, r.who);
        paragraph(p, Face::Sans, BODY, p.left(), w, r.duties);
    }
    heading(p, "Present");
    let names = [
        "Custodian",
        "Custodian",
        "Custodian",
        "Witness",
        "Security officer",
        "Operator at the keyboard",
    ];
    let (l, r) = (p.left(), p.left() + w);
    let x_name = l + 120.0;
    let x_sig = l + 300.0;
    for n in names {
        p.ensure(26.0);
        p.y += 24.0;
        p.text_grey(Face::Sans, SMALL, l, p.y, LABEL_GREY, n);
        blank(p, x_name, p.y + 1.0, x_sig - x_name - 14.0, "name");
        blank(p, x_sig, p.y + 1.0, r - x_sig, "signature");
    }
    p.y += 8.0;
}

fn what_if_box(p: &mut Pages, rows: &[WhatIf]) {
    let x = p.left() + LABEL_W;
    let w = p.content_width() - LABEL_W;
    let (pad, sit_w) = (5.0, 112.0);
    let line_h = SMALL + 3.0;
    // The whole table on one page where it fits (rows are rarely many).
    let total: f32 = rows
        .iter()
        .map(|r| {
            let a = wrap(Face::Bold, SMALL, r.situation, sit_w - pad).len();
            let b = wrap(Face::Sans, SMALL, r.action, w - sit_w - 2.0 * pad).len();
            a.max(b) as f32 * line_h + 2.0 * pad - 2.0
        })
        .sum();
    p.ensure(total + 5.0);
    for (i, r) in rows.iter().enumerate() {
        let sit = wrap(Face::Bold, SMALL, r.situation, sit_w - pad);
        let act = wrap(Face::Sans, SMALL, r.action, w - sit_w - 2.0 * pad);
        let lines = sit.len().max(act.len());
        let h = lines as f32 * line_h + 2.0 * pad - 2.0;
        let top_gap = if i == 0 { 5.0 } else { 0.0 };
        p.ensure(h + top_gap);
        p.y += top_gap;
        if i == 0 {
            p.text_grey(
                Face::Sans,
                SMALL,
                p.left(),
                p.y + pad + SMALL,
                LABEL_GREY,
                "What to do if",
            );
        }
        p.rect(x, p.y, w, h, SHADE);
        p.line(x, p.y + h, x + w, p.y + h, 0.8, 1.0);
        for (j, l) in sit.into_iter().enumerate() {
            let y = p.y + pad + SMALL + j as f32 * line_h;
            p.text(Face::Bold, SMALL, x + pad, y, l);
        }
        for (j, l) in act.into_iter().enumerate() {
            let y = p.y + pad + SMALL + j as f32 * line_h;
            p.text(Face::Sans, SMALL, x + sit_w + pad, y, l);
        }
        p.y += h;
    }
}

/// One step: number, title, who, command, read aloud, ticks, what-ifs.
fn step(p: &mut Pages, i: usize, s: &Step) {
    p.y += 22.0;
    let label = format!("{}.", i + 1);
    p.text(Face::Bold, 11.0, p.left(), p.y, &label);
    p.text(Face::Bold, 11.0, p.left() + 22.0, p.y, s.title);
    let right = p.left() + p.content_width();
    p.text_right(Face::Sans, BODY, right, p.y, LABEL_GREY, s.who);
    p.y += 3.0;
    p.line(p.left(), p.y, right, p.y, 0.4, RULE_GREY);
    if let Some(c) = s.command {
        row(p, "Type", c, Face::Mono);
    }
    row(p, "Read aloud", s.read_aloud, Face::Sans);
    p.y += 2.0;
    for (j, t) in s.ticks.iter().enumerate() {
        if j == 0 {
            p.text_grey(
                Face::Sans,
                SMALL,
                p.left(),
                p.y + BODY + 5.0,
                LABEL_GREY,
                "Tick",
            );
        }
        tick(p, t);
    }
    what_if_box(p, s.what_if);
}

fn steps(p: &mut Pages) {
    p.new_page();
    p.y += 4.0;
    p.text(
        Face::Bold,
        13.0,
        p.left(),
        p.y + 10.0,
        "The ceremony, step by step",
    );
    p.y += 10.0;
    for (i, s) in STEPS.iter().enumerate() {
        // A whole step on one page: measure it on an endless page first.
        let mut scratch = Pages::new(p.width, f32::MAX / 4.0);
        step(&mut scratch, i, s);
        p.ensure(scratch.y - scratch.top);
        step(p, i, s);
    }
    // The notes and the witness's signature stay together on one page.
    p.ensure(190.0);
    heading(
        p,
        "Notes (times, labels of keys left in the HSM, anything unusual)",
    );
    let (l, r) = (p.left(), p.left() + p.content_width());
    for _ in 0..5 {
        p.ensure(22.0);
        p.y += 20.0;
        p.line(l, p.y, r, p.y, 0.4, RULE_GREY);
    }
    p.ensure(40.0);
    p.y += 34.0;
    blank(p, l, p.y, 230.0, "witness name");
    blank(
        p,
        l + 260.0,
        p.y,
        r - l - 260.0,
        "witness signature and date",
    );
}

fn footers(p: &mut Pages) {
    p.footers(&format!(
        "Airlock key ceremony checklist · edition {EDITION}"
    ));
}

/// Lays out the checklist (exposed for tests and previews).
pub fn layout(paper: Paper) -> Result<Pages, AttestError> {
    let (w, h) = paper.size_pt();
    let mut p = Pages::new(w, h);
    title(&mut p);
    roles(&mut p);
    steps(&mut p);
    footers(&mut p);
    for (face, text) in p.texts() {
        face.check("the checklist text", text)?;
    }
    Ok(p)
}

/// Renders the checklist as PDF bytes: the same build and paper give the
/// same bytes (the date is [`EDITION`], the document id a hash of the
/// content).
pub fn render_pdf(paper: Paper) -> Result<Vec<u8>, AttestError> {
    let pages = layout(paper)?;
    let date = time::OffsetDateTime::parse(
        &format!("{EDITION}T00:00:00Z"),
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| AttestError::Pdf(format!("edition date {EDITION}: {e}")))?;
    let id = hex::encode(Sha256::digest(
        format!("airlock-checklist/1\n{}\n{}", paper.name(), markdown()).as_bytes(),
    ));
    let meta = DocMeta {
        title: "Key ceremony checklist".into(),
        subject: format!("Airlock key ceremony checklist, edition {EDITION}"),
        date,
        id: id[..32].to_string(),
    };
    to_pdf(&pages, &meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_a_who_a_reading_a_tick_and_a_what_if() {
        assert!(STEPS.len() >= 10);
        for s in STEPS {
            assert!(!s.who.is_empty() && !s.read_aloud.is_empty(), "{}", s.title);
            assert!(!s.ticks.is_empty(), "{} has nothing to tick", s.title);
            assert!(!s.what_if.is_empty(), "{} has no what-if", s.title);
        }
    }

    #[test]
    fn texts_fit_a_markdown_table_and_the_fonts() {
        for t in all_texts() {
            assert!(!t.contains('|') && !t.contains('\n'), "{t:?}");
            Face::Sans.check("checklist", t).unwrap();
            Face::Bold.check("checklist", t).unwrap();
        }
    }

    #[test]
    fn the_required_situations_are_covered() {
        let all: String = STEPS
            .iter()
            .flat_map(|s| s.what_if.iter().map(|w| w.situation))
            .collect::<Vec<_>>()
            .join("\n");
        for s in [
            "Digest mismatch",
            "Forgotten passphrase",
            "A custodian is absent",
            "HSM unplugged",
            "Printer failure (exit 60)",
            "Keys left in the HSM",
            "Wrong clock",
        ] {
            assert!(all.contains(s), "no what-if for {s:?}");
        }
        let absent = STEPS
            .iter()
            .flat_map(|s| s.what_if)
            .find(|w| w.situation == "A custodian is absent")
            .unwrap();
        assert!(absent.action.contains("2 of 2"), "{}", absent.action);
        let roles: Vec<&str> = ROLES.iter().map(|r| r.name).collect();
        for r in [
            "Custodian",
            "Witness",
            "Security officer",
            "Operator at the keyboard",
        ] {
            assert!(roles.contains(&r), "{r}");
        }
    }

    #[test]
    fn same_paper_same_bytes() {
        assert_eq!(
            render_pdf(Paper::A4).unwrap(),
            render_pdf(Paper::A4).unwrap()
        );
        assert_ne!(
            render_pdf(Paper::A4).unwrap(),
            render_pdf(Paper::Letter).unwrap()
        );
    }
}
