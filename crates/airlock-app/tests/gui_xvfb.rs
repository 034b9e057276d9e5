//! The real window under Xvfb: `airlock` with no arguments opens the app
//! (glow renderer on Mesa's software OpenGL) on a test workstation, a
//! screenshot of the X screen is taken with ImageMagick's `import`, and it
//! must not be blank. With AIRLOCK_SCREENSHOT_DIR set, the PNG is kept
//! there (docs/screenshots/ is made this way).

#![cfg(feature = "gui")]

use std::process::Command;

use airlock_test_kit::airlock_bin;
use airlock_test_kit::gui::Workstation;

#[test]
fn the_app_starts_and_renders_under_xvfb() {
    let ws = Workstation::new(1, airlock_bin!());
    let shot = ws.bench.path("preflight.png");
    let log = ws.bench.path("app.log");
    let limits = ws.bench.path("limits");
    let script = format!(
        "\"$AIRLOCK_BIN\" --config \"$AIRLOCK_CONFIG\" >'{log}' 2>&1 & pid=$!; sleep 8; import -window root '{shot}'; \
         cat /proc/$pid/limits > '{limits}'; kill $pid; wait $pid 2>/dev/null; true",
        log = log.display(),
        shot = shot.display(),
        limits = limits.display()
    );
    let mut cmd = Command::new("xvfb-run");
    cmd.args(["-a", "-s", "-screen 0 1400x900x24", "sh", "-c", &script])
        .env("AIRLOCK_BIN", env!("CARGO_BIN_EXE_airlock"))
        .env("AIRLOCK_CONFIG", &ws.bench.config)
        .env_remove("WAYLAND_DISPLAY");
    for (k, v) in ws.bench.token.env_vars() {
        cmd.env(k, v);
    }
    let status = cmd
        .status()
        .expect("xvfb-run is missing: ceremony-scripts/lib/install-deps.sh --test installs xvfb and imagemagick");
    assert!(status.success(), "xvfb-run failed");
    let app_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(shot.is_file(), "no screenshot taken; app log:\n{app_log}");
    // A blank (or black) screen has one colour; the app draws text, frames
    // and badges in many.
    let out = Command::new("identify")
        .args(["-format", "%k"])
        .arg(&shot)
        .output()
        .expect("identify");
    let colours: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("colour count");
    assert!(
        colours > 50,
        "screenshot looks blank ({colours} colours); app log:\n{app_log}"
    );
    assert!(
        !app_log.contains("error"),
        "the app reported an error:\n{app_log}"
    );
    // The app hardened itself like the CLI: no core dumps.
    let limits = std::fs::read_to_string(&limits).unwrap_or_default();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap_or_else(|| panic!("no core limit in:\n{limits}"));
    assert!(
        core.split_whitespace().filter(|w| *w == "0").count() >= 2,
        "core dumps not off in the running app: {core}"
    );
    if let Some(dir) = std::env::var_os("AIRLOCK_SCREENSHOT_DIR") {
        std::fs::copy(&shot, std::path::Path::new(&dir).join("01-preflight.png")).unwrap();
    }
}
