//! What `import` still has to do for one key, decided from what KMS says
//! about it now (key state, origin, spec, CurrentKeyMaterialId, the alias
//! target) and the KeyMaterialId KMS returned for this ceremony's material
//! (from the receipt, or from ListKeyRotations where KMS offers it). Tags
//! play no part. Pure, so that every branch is unit-tested.

use crate::receipt::Strategy;

/// What KMS says about a key now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// KeyState.
    pub state: String,
    /// Origin.
    pub origin: String,
    /// KeySpec.
    pub key_spec: String,
    /// CurrentKeyMaterialId.
    pub current_material: Option<String>,
    /// Whether the key's alias points at this key.
    pub alias_points_here: bool,
}

/// What is left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Import the material, test, RotateKeyOnDemand, check the material id.
    ImportThenRotate,
    /// The material is imported (pending); rotate and check.
    RotateOnly,
    /// Import into the new key, test, then switch the alias.
    ImportThenSwitch,
    /// The new key has this ceremony's material; switch the alias.
    SwitchOnly,
    /// Nothing: KMS shows this ceremony's material current (and the alias on it).
    Done,
}

impl Action {
    /// Whether ImportKeyMaterial is still needed.
    pub fn imports(self) -> bool {
        matches!(self, Action::ImportThenRotate | Action::ImportThenSwitch)
    }
}

/// Decides the strategy and the remaining action for one key, or says why
/// the key is in no state to import into. `ours` is the KeyMaterialId of
/// this ceremony's material for this key, when known; `prior` the strategy
/// an earlier run recorded.
pub fn decide(
    name: &str,
    bundle_spec: &str,
    new_material: bool,
    obs: &Observed,
    ours: Option<&str>,
    prior: Option<Strategy>,
) -> Result<(Strategy, Action), String> {
    if obs.origin != "EXTERNAL" {
        return Err(format!(
            "key {name}: origin is {}, not EXTERNAL; imported material can only go into EXTERNAL keys",
            obs.origin
        ));
    }
    if obs.key_spec != bundle_spec {
        return Err(format!(
            "key {name}: KMS says key spec {} but import.json says {bundle_spec}",
            obs.key_spec
        ));
    }
    match obs.state.as_str() {
        "PendingImport" => {
            if prior == Some(Strategy::OnDemand) {
                return Err(format!(
                    "key {name}: an earlier run rotated it on demand, but it is now PendingImport (its material was deleted); investigate before importing"
                ));
            }
            Ok((Strategy::AliasSwitch, Action::ImportThenSwitch))
        }
        "Enabled" => {
            let strategy = match (prior, ours) {
                (Some(s), _) => s,
                (None, Some(_)) if !obs.alias_points_here => Strategy::AliasSwitch,
                (None, _) if obs.alias_points_here => Strategy::OnDemand,
                (None, _) => {
                    return Err(format!(
                        "key {name}: Enabled, its alias points at another key, and KMS shows no material of this ceremony in it: \
                         it is neither a new key (PendingImport) nor the key behind its alias (on-demand); check the request"
                    ));
                }
            };
            let current_is_ours = ours.is_some() && obs.current_material.as_deref() == ours;
            match strategy {
                Strategy::OnDemand => {
                    if bundle_spec != "SYMMETRIC_DEFAULT" {
                        return Err(format!(
                            "key {name}: on-demand rotation of imported material is for SYMMETRIC_DEFAULT keys only; {bundle_spec} needs a new key and an alias switch"
                        ));
                    }
                    if !new_material {
                        return Err(format!(
                            "key {name}: import.json says EXISTING_KEY_MATERIAL for a key rotated on demand; on-demand rotation needs NEW_KEY_MATERIAL"
                        ));
                    }
                    if !obs.alias_points_here {
                        return Err(format!(
                            "key {name}: its alias no longer points at this key (on-demand keys keep their alias); \
                             point the alias back or use rollback's receipt to investigate"
                        ));
                    }
                    Ok((
                        strategy,
                        match ours {
                            None => Action::ImportThenRotate,
                            Some(_) if current_is_ours => Action::Done,
                            Some(_) => Action::RotateOnly,
                        },
                    ))
                }
                Strategy::AliasSwitch => {
                    if !current_is_ours {
                        return Err(format!(
                            "key {name}: the new key is Enabled but its current material is not the one this ceremony imported \
                             (KeyMaterialId {:?}, expected {:?}); do not switch the alias: investigate",
                            obs.current_material, ours
                        ));
                    }
                    Ok((
                        strategy,
                        if obs.alias_points_here {
                            Action::Done
                        } else {
                            Action::SwitchOnly
                        },
                    ))
                }
            }
        }
        other => Err(format!(
            "key {name}: state {other}; it must be PendingImport (new key) or Enabled (on-demand rotation): enable it or cancel its deletion first"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(state: &str, current: Option<&str>, here: bool) -> Observed {
        Observed {
            state: state.into(),
            origin: "EXTERNAL".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            current_material: current.map(str::to_string),
            alias_points_here: here,
        }
    }
    const S: &str = "SYMMETRIC_DEFAULT";

    #[test]
    fn new_keys() {
        let d = |o: &Observed, ours| decide("k", S, true, o, ours, None);
        assert_eq!(
            d(&obs("PendingImport", None, false), None),
            Ok((Strategy::AliasSwitch, Action::ImportThenSwitch))
        );
        // imported, alias not switched yet: decided from the material id
        assert_eq!(
            d(&obs("Enabled", Some("m1"), false), Some("m1")),
            Ok((Strategy::AliasSwitch, Action::SwitchOnly))
        );
        // alias switched: done
        assert_eq!(
            decide(
                "k",
                S,
                true,
                &obs("Enabled", Some("m1"), true),
                Some("m1"),
                Some(Strategy::AliasSwitch)
            ),
            Ok((Strategy::AliasSwitch, Action::Done))
        );
        // alias pointed back by hand: not done, switch again
        assert_eq!(
            decide(
                "k",
                S,
                true,
                &obs("Enabled", Some("m1"), false),
                Some("m1"),
                Some(Strategy::AliasSwitch)
            ),
            Ok((Strategy::AliasSwitch, Action::SwitchOnly))
        );
        // other material in the new key: refuse
        assert!(
            decide(
                "k",
                S,
                true,
                &obs("Enabled", Some("zz"), false),
                Some("m1"),
                Some(Strategy::AliasSwitch)
            )
            .is_err()
        );
    }

    #[test]
    fn on_demand_keys() {
        let d = |o: &Observed, ours, prior| decide("k", S, true, o, ours, prior);
        assert_eq!(
            d(&obs("Enabled", Some("old"), true), None, None),
            Ok((Strategy::OnDemand, Action::ImportThenRotate))
        );
        assert_eq!(
            d(
                &obs("Enabled", Some("old"), true),
                Some("new"),
                Some(Strategy::OnDemand)
            ),
            Ok((Strategy::OnDemand, Action::RotateOnly))
        );
        assert_eq!(
            d(
                &obs("Enabled", Some("new"), true),
                Some("new"),
                Some(Strategy::OnDemand)
            ),
            Ok((Strategy::OnDemand, Action::Done))
        );
        // alias moved away from an on-demand key: refuse
        assert!(
            d(
                &obs("Enabled", Some("new"), false),
                Some("new"),
                Some(Strategy::OnDemand)
            )
            .is_err()
        );
        // HMAC cannot rotate on demand
        let mut o = obs("Enabled", Some("old"), true);
        o.key_spec = "HMAC_256".into();
        assert!(decide("k", "HMAC_256", true, &o, None, None).is_err());
        // EXISTING_KEY_MATERIAL cannot rotate
        assert!(
            decide(
                "k",
                S,
                false,
                &obs("Enabled", Some("old"), true),
                None,
                None
            )
            .is_err()
        );
    }

    #[test]
    fn refusals() {
        let mut o = obs("Enabled", Some("old"), true);
        o.origin = "AWS_KMS".into();
        assert!(
            decide("k", S, true, &o, None, None)
                .unwrap_err()
                .contains("not EXTERNAL")
        );
        assert!(
            decide("k", S, true, &obs("Disabled", None, true), None, None)
                .unwrap_err()
                .contains("Disabled")
        );
        assert!(
            decide(
                "k",
                S,
                true,
                &obs("PendingDeletion", None, true),
                None,
                None
            )
            .is_err()
        );
        assert!(decide("k", S, true, &obs("Enabled", Some("x"), false), None, None).is_err());
        assert!(
            decide(
                "k",
                S,
                true,
                &obs("PendingImport", None, false),
                None,
                Some(Strategy::OnDemand)
            )
            .is_err()
        );
        assert!(
            decide(
                "k",
                "HMAC_256",
                true,
                &obs("Enabled", None, true),
                None,
                None
            )
            .is_err()
        );
    }
}
