//! Driving the desktop app in tests through egui_kittest (feature `gui`):
//! a [`Workstation`] (a ready [`Workbench`] on Kryoptic, its configuration
//! loaded for the in-process app, a signed request on a fake USB folder)
//! and the clicks a custodian makes, step by step.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use airlock_app::gui::{FixedFolders, GuiApp};
use airlock_core::config::AirlockConfig;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use crate::bundle::{Wrapping, make_request_bundle};
use crate::{CUSTODIANS, TestToken, TokenKind, Workbench, fixture_key};

/// A ready workstation.
pub struct Workstation {
    /// Token, roster (alice and bob, threshold 2), trusted signer.
    pub bench: Workbench,
    pub config: AirlockConfig,
    pub request_dir: PathBuf,
    pub out_parent: PathBuf,
}

impl Workstation {
    /// Token, roster (alice and bob, threshold 2), trusted signer, and a
    /// signed request of `keys` keys on a fake USB folder.
    pub fn new(keys: usize, bin: &str) -> Self {
        Self::with(keys, &[], bin)
    }

    /// As [`Workstation::new`], enrolled with extra `enroll` arguments
    /// (the quorum's policy, e.g. `--allow-existing-material`).
    pub fn with(keys: usize, enroll_args: &[&str], bin: &str) -> Self {
        // The app runs the engine in this process.
        TestToken::set_test_env("AIRLOCK_INSECURE_TEST_KDF", "1");
        let bench = Workbench::ready_with(TokenKind::Kryoptic, enroll_args, bin);
        let config = AirlockConfig::load(&bench.config).expect("test airlock.toml");
        let usb = bench.path("usb");
        std::fs::create_dir(&usb).unwrap();
        let request_dir = usb.join("request");
        make_request(
            &request_dir,
            &[
                "--request-id",
                "gui-test-request",
                "--prefix",
                "gui-key",
                "--count",
                &keys.to_string(),
            ],
        );
        let out_parent = bench.path("out-usb");
        std::fs::create_dir(&out_parent).unwrap();
        Workstation {
            bench,
            config,
            request_dir,
            out_parent,
        }
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.config.state_dir
    }

    /// The bundle folder the app creates for this request.
    pub fn bundle_dir(&self) -> PathBuf {
        self.out_parent.join("airlock-import-gui-test-request")
    }
}

/// A request signed by the test signer, wrapping under the test-only
/// RSA-4096 key, made by tests/lib/make-request-bundle.sh with `args`.
pub fn make_request(out: &Path, args: &[&str]) {
    let key = fixture_key("test-only-wrapping-rsa4096.pub.pem");
    make_request_bundle(out, Wrapping::Key(&key), args);
}

/// The app in a kittest harness; folders come from `folders` in order.
pub fn harness(ws: &Workstation, folders: Vec<PathBuf>) -> Harness<'static, GuiApp> {
    harness_sized(ws, folders, [1400.0, 1400.0])
}

/// [`harness`] in a window of `size` points (e.g. 1024x768).
pub fn harness_sized(
    ws: &Workstation,
    folders: Vec<PathBuf>,
    size: [f32; 2],
) -> Harness<'static, GuiApp> {
    let app = GuiApp::new(
        eframe::egui::Context::default(),
        ws.config.clone(),
        Box::new(FixedFolders::new(folders)),
    );
    let mut h = Harness::builder()
        .with_size(size)
        .build_ui_state(|ui, app: &mut GuiApp| app.ui(ui), app);
    h.step();
    h
}

/// Steps frames until the worker is idle (and a few more so the window
/// shows the result).
pub fn settle(h: &mut Harness<'static, GuiApp>) {
    let start = Instant::now();
    h.step();
    while h.state().is_busy() {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "the engine step did not finish in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    for _ in 0..3 {
        h.step();
    }
}

/// Clicks the only widget whose label is exactly `label`, then settles.
pub fn click(h: &mut Harness<'static, GuiApp>, label: &str) {
    h.get_by_label(label).click();
    settle(h);
}

/// Clicks the only widget whose label contains `part`, then settles.
pub fn click_containing(h: &mut Harness<'static, GuiApp>, part: &str) {
    h.get_by_label_contains(part).click();
    settle(h);
}

/// Ticks the network override (test machines have interfaces up) and
/// runs preflight, then moves on to the custodians.
pub fn preflight(h: &mut Harness<'static, GuiApp>) {
    click_containing(h, "Allow network");
    click(h, "Run preflight");
    assert!(
        h.state().error().is_none(),
        "preflight failed: {:?}",
        h.state().error()
    );
    click(h, "Continue to Custodians");
}

/// One custodian picks their name and types their passphrase.
pub fn authenticate(h: &mut Harness<'static, GuiApp>, name: &str, passphrase: &str) {
    click(h, name);
    let field = h.get_by_role(eframe::egui::accesskit::Role::PasswordInput);
    field.focus();
    field.type_text(passphrase);
    h.step();
    click(h, "Authenticate");
}

/// From a fresh app to the end of Generate & wrap.
pub fn through_generate(h: &mut Harness<'static, GuiApp>) {
    to_review(h);
    confirm_review(h);
    click(h, "Continue to Generate & wrap");
    choose_output(h);
    click(h, "Log in and generate");
    assert!(
        h.state().error().is_none(),
        "generate failed: {:?}",
        h.state().error()
    );
}

/// On Generate & wrap, before the login: the output folder (the engine
/// checks it now).
pub fn choose_output(h: &mut Harness<'static, GuiApp>) {
    click(h, "Choose the output folder…");
    assert!(
        h.state().error().is_none(),
        "output folder refused: {:?}",
        h.state().error()
    );
}

/// Preflight, both custodians, then the request folder is chosen (the
/// engine verifies it; the caller checks the outcome).
pub fn choose_request(h: &mut Harness<'static, GuiApp>) {
    preflight(h);
    for (n, p) in CUSTODIANS {
        authenticate(h, n, p);
    }
    assert!(
        h.state().error().is_none(),
        "authentication failed: {:?}",
        h.state().error()
    );
    click(h, "Continue to Request");
    click(h, "Choose the request folder…");
}

/// Preflight, both custodians, the request: on to the Review step.
pub fn to_review(h: &mut Harness<'static, GuiApp>) {
    choose_request(h);
    assert!(
        h.state().error().is_none(),
        "request failed: {:?}",
        h.state().error()
    );
    click(h, "Continue to Review");
}

/// The "Keys 1–8 of 300" line on Review: (first, last, total).
pub fn plan_range(h: &Harness<'static, GuiApp>) -> (usize, usize, usize) {
    let label = h
        .query_all_by_label_contains("Keys ")
        .filter_map(|n| n.accesskit_node().value().or(n.accesskit_node().label()))
        .find(|l| l.starts_with("Keys ") && l.contains(" of "))
        .expect("the \"Keys N–M of T\" line on Review");
    let nums: Vec<usize> = label
        .trim_start_matches("Keys ")
        .split(['–', ' ', '.'])
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(nums.len(), 3, "not a range line: {label:?}");
    (nums[0], nums[1], nums[2])
}

/// Scrolls the Review list down (as a custodian reading it would) until
/// the last key has been on screen; returns how many scroll steps it took.
pub fn scroll_plan_to_end(h: &mut Harness<'static, GuiApp>) -> usize {
    for step in 0..2000 {
        let (_, last, total) = plan_range(h);
        if last == total {
            return step;
        }
        h.get_all_by_label_contains("arn:aws:kms:")
            .next()
            .expect("a key's ARN on screen")
            .scroll_down();
        // The scroll area repaints a few frames as it moves.
        h.run_steps(8);
    }
    panic!("the plan list never reached its last key");
}

/// On Review: every custodian ticks the plan, then the request digest is
/// confirmed as read aloud (the engine journals each).
pub fn confirm_review(h: &mut Harness<'static, GuiApp>) {
    scroll_plan_to_end(h);
    // The account and the totals by key spec and algorithm are on screen.
    let r = h
        .state()
        .snapshot()
        .request
        .clone()
        .expect("request verified");
    let totals = format!(
        "Totals: {}.",
        airlock_app::gui::steps::review::totals(&r.plan)
    );
    assert!(h.query_by_label(&totals).is_some(), "{totals} not shown");
    let account = format!("keys for AWS account {}.", r.account);
    assert!(
        h.query_by_label_contains(&account).is_some(),
        "{account} not shown"
    );
    for (n, _) in CUSTODIANS {
        click_containing(h, &format!("{n} confirms the plan"));
    }
    click(h, "The digests match: confirm (journaled)");
    assert!(
        h.state().error().is_none(),
        "confirmation failed: {:?}",
        h.state().error()
    );
}

/// On Wipe: the bundle digest is confirmed as read aloud, then wiped.
pub fn confirm_and_wipe(h: &mut Harness<'static, GuiApp>) {
    click(h, "The digests match: confirm (journaled)");
    click(h, "Wipe and log out");
}
