//! Preflight facts about the workstation: is it air-gapped (no network
//! interface but loopback is up, in this process's network namespace), what
//! the clock says, and its hostname. The ceremony refuses to start on a
//! networked machine unless the operator overrides it, and then says so on
//! every output.

use nix::net::if_::InterfaceFlags;
use serde::Serialize;

/// One network interface that is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpInterface {
    /// Interface name, e.g. `eth0`.
    pub name: String,
    /// Whether it is a loopback interface.
    pub loopback: bool,
}

/// What the air-gap check saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AirGapStatus {
    /// Non-loopback interfaces that are up (empty means air-gapped).
    pub offending: Vec<String>,
}

impl AirGapStatus {
    /// True when no interface but loopback is up.
    pub fn air_gapped(&self) -> bool {
        self.offending.is_empty()
    }
}

/// Lists interfaces that are administratively up.
pub fn up_interfaces() -> std::io::Result<Vec<UpInterface>> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)?;
    let mut out: Vec<UpInterface> = Vec::new();
    for a in addrs {
        if !a.flags.contains(InterfaceFlags::IFF_UP) {
            continue;
        }
        if out.iter().any(|i| i.name == a.interface_name) {
            continue;
        }
        out.push(UpInterface {
            loopback: a.flags.contains(InterfaceFlags::IFF_LOOPBACK),
            name: a.interface_name,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Checks the air gap.
pub fn air_gap_status() -> std::io::Result<AirGapStatus> {
    let offending = up_interfaces()?
        .into_iter()
        .filter(|i| !i.loopback)
        .map(|i| i.name)
        .collect();
    Ok(AirGapStatus { offending })
}

/// This workstation's hostname (or `unknown`).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_never_offends() {
        let all = up_interfaces().unwrap();
        let status = air_gap_status().unwrap();
        for i in &all {
            assert_eq!(status.offending.contains(&i.name), !i.loopback, "{i:?}");
        }
    }
}
