//! `airlock config check` and how the configuration is found: `--config`,
//! then `AIRLOCK_CONFIG`, then `$XDG_CONFIG_HOME/airlock/airlock.toml`;
//! every mistake named with its file, table and key, exit code 3.

use std::path::Path;
use std::process::{Command, Output};

use airlock_test_kit::*;

fn airlock(home: &Path) -> Command {
    let mut c = bare(airlock_bin!());
    c.env("HOME", home).env("XDG_CONFIG_HOME", home.join("xdg"));
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write_config(path: &Path, module: &str, extra: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!("[hsm]\nmodule = \"{module}\"\ntoken = \"airlock\"\n[state]\ndir = \"/var/lib/airlock\"\n{extra}"),
    )
    .unwrap();
}

#[test]
fn found_in_order_flag_env_xdg() {
    let home = tempfile::tempdir().unwrap();
    let module = home.path().join("module.so");
    std::fs::write(&module, b"").unwrap();
    let m = module.to_str().unwrap();

    let none = airlock(home.path())
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(3), "{}", text(&none));
    assert!(text(&none).contains("AIRLOCK_CONFIG"));

    let xdg = home.path().join("xdg/airlock/airlock.toml");
    write_config(&xdg, m, "");
    let o = airlock(home.path())
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(xdg.to_str().unwrap()));

    let env = home.path().join("env.toml");
    write_config(&env, m, "");
    let o = airlock(home.path())
        .args(["config", "check"])
        .env("AIRLOCK_CONFIG", &env)
        .output()
        .unwrap();
    assert!(text(&o).contains(env.to_str().unwrap()), "{}", text(&o));

    let flag = home.path().join("flag.toml");
    write_config(&flag, m, "");
    let o = airlock(home.path())
        .args(["--config", flag.to_str().unwrap(), "config", "check"])
        .env("AIRLOCK_CONFIG", &env)
        .output()
        .unwrap();
    assert!(text(&o).contains(flag.to_str().unwrap()), "{}", text(&o));
}

#[test]
fn mistakes_are_named_with_exit_code_3() {
    let home = tempfile::tempdir().unwrap();
    let module = home.path().join("module.so");
    std::fs::write(&module, b"").unwrap();
    let cfg = home.path().join("airlock.toml");
    let check = || {
        airlock(home.path())
            .args(["--config", cfg.to_str().unwrap(), "config", "check"])
            .output()
            .unwrap()
    };
    for (module, extra, expect) in [
        ("/nonexistent/lib.so", "", "[hsm] module"),
        ("relative.so", "", "absolute"),
        (module.to_str().unwrap(), "[extra]\nx = 1\n", "extra"),
    ] {
        write_config(&cfg, module, extra);
        let o = check();
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        assert!(
            text(&o).contains(expect),
            "expected {expect:?} in: {}",
            text(&o)
        );
        assert!(
            text(&o).contains(cfg.to_str().unwrap()),
            "names the file: {}",
            text(&o)
        );
    }
    std::fs::write(&cfg, "[hsm]\nmodule = 3\n").unwrap();
    let o = check();
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o).contains("line"),
        "TOML errors carry the line: {}",
        text(&o)
    );
}

#[test]
fn version_names_commit_and_profile() {
    let o = Command::new(airlock_bin!())
        .arg("--version")
        .output()
        .unwrap();
    let v = String::from_utf8_lossy(&o.stdout);
    assert!(v.starts_with("airlock 0."), "{v}");
    assert!(v.contains("commit ") && v.contains("build"), "{v}");
}
