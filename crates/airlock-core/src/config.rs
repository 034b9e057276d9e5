//! `airlock.toml`: which PKCS#11 module and token to use, and where the
//! state directory (trust store, roster, journals) lives. Parsed strictly
//! into a validated [`AirlockConfig`]; a typo is an error, never a silent
//! default.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::exit::{ExitClass, ExitCode};

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No configuration was found in any of the places searched.
    #[error(
        "no configuration found (looked at: {searched}); pass --config FILE or set AIRLOCK_CONFIG"
    )]
    NotFound {
        /// The places searched, in order.
        searched: String,
    },
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TOML did not parse or did not match the schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What toml said, including line and column.
        message: String,
    },
    /// A value parsed but is not acceptable.
    #[error("{path}: [{section}] {key}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The table.
        section: &'static str,
        /// The key.
        key: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
}

impl ExitClass for ConfigError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Config
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    hsm: RawHsm,
    state: RawState,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHsm {
    module: PathBuf,
    token: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    dir: PathBuf,
}

/// How the token is chosen among the module's slots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenSelector {
    /// CKA token label (`token=` in a URI, or the plain string).
    pub label: Option<String>,
    /// Token serial number (`serial=`).
    pub serial: Option<String>,
    /// Token manufacturer (`manufacturer=`).
    pub manufacturer: Option<String>,
    /// Token model (`model=`).
    pub model: Option<String>,
}

impl TokenSelector {
    /// Parses a plain label or an RFC 7512 `pkcs11:` URI. Only token
    /// attributes are meaningful here; other path attributes are refused so
    /// that a URI meant for something else is not half-applied.
    pub fn parse(s: &str) -> Result<Self, String> {
        let Some(rest) = s.strip_prefix("pkcs11:") else {
            if s.is_empty() {
                return Err("the token label is empty".into());
            }
            return Ok(TokenSelector {
                label: Some(s.to_string()),
                ..Default::default()
            });
        };
        let path = rest.split('?').next().unwrap_or("");
        let mut sel = TokenSelector::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| format!("URI attribute {attr:?} has no '='"))?;
            let v = percent_decode(v)?;
            let slot = match k {
                "token" => &mut sel.label,
                "serial" => &mut sel.serial,
                "manufacturer" => &mut sel.manufacturer,
                "model" => &mut sel.model,
                "library-description"
                | "library-manufacturer"
                | "library-version"
                | "slot-id"
                | "slot-description"
                | "slot-manufacturer" => continue,
                other => {
                    return Err(format!(
                        "URI attribute {other:?} does not select a token; use token=, serial=, manufacturer= or model="
                    ));
                }
            };
            if slot.is_some() {
                return Err(format!("URI attribute {k:?} appears twice"));
            }
            *slot = Some(v);
        }
        if sel == TokenSelector::default() {
            return Err("the pkcs11: URI names no token attribute (token=, serial=, ...)".into());
        }
        Ok(sel)
    }

    /// True when a token with these properties matches every given attribute.
    pub fn matches(&self, label: &str, serial: &str, manufacturer: &str, model: &str) -> bool {
        let eq = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| w == have.trim_end())
        };
        eq(&self.label, label)
            && eq(&self.serial, serial)
            && eq(&self.manufacturer, manufacturer)
            && eq(&self.model, model)
    }
}

impl fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (k, v) in [
            ("token", &self.label),
            ("serial", &self.serial),
            ("manufacturer", &self.manufacturer),
            ("model", &self.model),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        write!(f, "{}", parts.join(";"))
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape in {s:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8 after decoding"))
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct AirlockConfig {
    /// Where the configuration was read from.
    pub source: PathBuf,
    /// Absolute path of the PKCS#11 module.
    pub module: PathBuf,
    /// Which token to use.
    pub token: TokenSelector,
    /// The state directory (trust store, roster, journals).
    pub state_dir: PathBuf,
    /// How the file was chosen, as journaled by a ceremony.
    pub origin: String,
}

/// Where a ceremony reads its configuration unless `--config` is given on
/// the command line: `AIRLOCK_CONFIG` and the user's config folder, which
/// one person can change, are not consulted in ceremony mode.
pub const SYSTEM_CONFIG_PATH: &str = "/etc/airlock/airlock.toml";

impl AirlockConfig {
    /// Parses and validates configuration text. Checks that the module path
    /// is absolute and exists; the state directory may not exist yet.
    pub fn parse(text: &str, source: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: source.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let invalid = |section, key, message: String| ConfigError::Invalid {
            path: source.to_path_buf(),
            section,
            key,
            message,
        };
        if !raw.hsm.module.is_absolute() {
            return Err(invalid(
                "hsm",
                "module",
                format!(
                    "{} is not an absolute path; give the full path of the PKCS#11 library",
                    raw.hsm.module.display()
                ),
            ));
        }
        if !raw.hsm.module.is_file() {
            return Err(invalid(
                "hsm",
                "module",
                format!(
                    "{} does not exist or is not a file; install the HSM vendor's PKCS#11 library or fix the path",
                    raw.hsm.module.display()
                ),
            ));
        }
        let token = TokenSelector::parse(&raw.hsm.token).map_err(|m| invalid("hsm", "token", m))?;
        if !raw.state.dir.is_absolute() {
            return Err(invalid(
                "state",
                "dir",
                format!("{} is not an absolute path", raw.state.dir.display()),
            ));
        }
        if raw.state.dir.exists() && !raw.state.dir.is_dir() {
            return Err(invalid(
                "state",
                "dir",
                format!("{} exists and is not a directory", raw.state.dir.display()),
            ));
        }
        Ok(AirlockConfig {
            source: source.to_path_buf(),
            module: raw.hsm.module,
            token,
            state_dir: raw.state.dir,
            origin: "given".into(),
        })
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Ceremony mode (`airlock ceremony run`, the desktop app): only
    /// `explicit` (from `--config` on the command line), else
    /// [`SYSTEM_CONFIG_PATH`]; the choice is recorded in `origin` and
    /// journaled.
    pub fn load_for_ceremony(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let (path, origin) = match explicit {
            Some(p) => (
                p.to_path_buf(),
                format!("--config {} on the command line", p.display()),
            ),
            None => {
                let p = PathBuf::from(SYSTEM_CONFIG_PATH);
                if !p.is_file() {
                    let ignored = if std::env::var_os("AIRLOCK_CONFIG").is_some() {
                        " (AIRLOCK_CONFIG is ignored in ceremony mode)"
                    } else {
                        ""
                    };
                    return Err(ConfigError::NotFound {
                        searched: format!(
                            "ceremony mode reads only --config on the command line or {SYSTEM_CONFIG_PATH}{ignored}"
                        ),
                    });
                }
                (p, format!("the system path {SYSTEM_CONFIG_PATH}"))
            }
        };
        let mut c = Self::load(&path)?;
        c.origin = origin;
        Ok(c)
    }

    /// Finds the configuration: `explicit` (from `--config`), then
    /// `AIRLOCK_CONFIG`, then `$XDG_CONFIG_HOME/airlock/airlock.toml`
    /// (`~/.config` when XDG_CONFIG_HOME is unset).
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
        if let Some(p) = explicit {
            return Ok(p.to_path_buf());
        }
        if let Some(p) = std::env::var_os("AIRLOCK_CONFIG").filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(p));
        }
        let xdg = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        match xdg {
            Some(base) => {
                let p = base.join("airlock").join("airlock.toml");
                if p.is_file() {
                    Ok(p)
                } else {
                    Err(ConfigError::NotFound {
                        searched: format!("--config, AIRLOCK_CONFIG, {}", p.display()),
                    })
                }
            }
            None => Err(ConfigError::NotFound {
                searched: "--config, AIRLOCK_CONFIG (XDG_CONFIG_HOME and HOME unset)".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uri_with_escapes() {
        let s = TokenSelector::parse("pkcs11:token=air%20lock;serial=1234").unwrap();
        assert_eq!(s.label.as_deref(), Some("air lock"));
        assert_eq!(s.serial.as_deref(), Some("1234"));
        assert!(s.matches("air lock", "1234   ", "x", "y"));
        assert!(!s.matches("airlock", "1234", "x", "y"));
    }

    #[test]
    fn refuses_object_uri_and_empty() {
        assert!(TokenSelector::parse("pkcs11:object=foo").is_err());
        assert!(TokenSelector::parse("pkcs11:").is_err());
        assert!(TokenSelector::parse("").is_err());
        assert!(TokenSelector::parse("pkcs11:token=a;token=b").is_err());
    }

    #[test]
    fn config_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("lib.so");
        std::fs::write(&module, b"").unwrap();
        let src = Path::new("airlock.toml");
        let ok = format!(
            "[hsm]\nmodule = {:?}\ntoken = \"airlock\"\n[state]\ndir = \"/var/lib/airlock\"\n",
            module
        );
        let c = AirlockConfig::parse(&ok, src).unwrap();
        assert_eq!(c.token.label.as_deref(), Some("airlock"));

        let typo = ok.replace("token =", "tokn =");
        let e = AirlockConfig::parse(&typo, src).unwrap_err().to_string();
        assert!(e.contains("tokn"), "{e}");

        let rel = ok.replace(&format!("{module:?}"), "\"lib.so\"");
        let e = AirlockConfig::parse(&rel, src).unwrap_err().to_string();
        assert!(e.contains("[hsm] module"), "{e}");
    }
}
