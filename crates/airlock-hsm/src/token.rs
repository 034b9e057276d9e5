//! `Hsm`: open a module, select the token from `airlock.toml`'s selector,
//! report its identity and failed-login state, and the security officer's
//! enrolment step (setting the user PIN). Logging in as the user yields a
//! [`UserSession`].

use std::path::Path;
use std::sync::Arc;

use airlock_core::config::TokenSelector;
use cryptoki::session::UserType;
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::AuthPin;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Context, HsmError};
use crate::fault::{Cause, FaultPlan};
use crate::module::{Module, module_init_error};
use crate::session::UserSession;

/// Who the token says it is (PKCS#11 CK_TOKEN_INFO and CK_INFO).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenIdentity {
    /// Token manufacturer ID.
    pub manufacturer: String,
    /// Token model.
    pub model: String,
    /// Token serial number.
    pub serial: String,
    /// Token label.
    pub label: String,
    /// Token firmware version, "major.minor".
    pub firmware: String,
    /// Token hardware version, "major.minor".
    pub hardware: String,
    /// Slot id.
    pub slot_id: u64,
    /// The module's library description.
    pub library_description: String,
    /// The module's manufacturer.
    pub library_manufacturer: String,
    /// The module's library version.
    pub library_version: String,
    /// The module's path, as configured.
    pub module_path: String,
    /// SHA-256 (lowercase hex) of the module file that was loaded.
    pub module_sha256: String,
}

/// The token's failed-login state and PIN flags, for checking that a
/// ceremony step left them unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TokenFlags {
    /// CKF_USER_PIN_INITIALIZED.
    pub user_pin_initialized: bool,
    /// CKF_USER_PIN_COUNT_LOW: a wrong user PIN was entered since the last good login.
    pub user_pin_count_low: bool,
    /// CKF_USER_PIN_FINAL_TRY.
    pub user_pin_final_try: bool,
    /// CKF_USER_PIN_LOCKED.
    pub user_pin_locked: bool,
    /// CKF_SO_PIN_COUNT_LOW.
    pub so_pin_count_low: bool,
    /// CKF_SO_PIN_FINAL_TRY.
    pub so_pin_final_try: bool,
    /// CKF_SO_PIN_LOCKED.
    pub so_pin_locked: bool,
}

impl From<&TokenInfo> for TokenFlags {
    fn from(t: &TokenInfo) -> Self {
        TokenFlags {
            user_pin_initialized: t.user_pin_initialized(),
            user_pin_count_low: t.user_pin_count_low(),
            user_pin_final_try: t.user_pin_final_try(),
            user_pin_locked: t.user_pin_locked(),
            so_pin_count_low: t.so_pin_count_low(),
            so_pin_final_try: t.so_pin_final_try(),
            so_pin_locked: t.so_pin_locked(),
        }
    }
}

/// An opened module with one selected token.
#[derive(Debug)]
pub struct Hsm {
    pub(crate) module: Arc<Module>,
    pub(crate) slot: Slot,
    pub(crate) identity: TokenIdentity,
}

fn describe(t: &TokenInfo) -> String {
    format!(
        "{:?} (serial {}, {} {})",
        t.label().trim_end(),
        t.serial_number().trim_end(),
        t.manufacturer_id().trim_end(),
        t.model().trim_end()
    )
}

impl Hsm {
    /// Loads `module`, finds the one token matching `token`, and checks it
    /// is initialised and its user PIN is not locked.
    pub fn open(module: &Path, token: &TokenSelector) -> Result<Hsm, HsmError> {
        let hsm = Self::open_for_so(module, token)?;
        let flags = hsm.token_flags()?;
        if flags.user_pin_locked {
            return Err(HsmError::PinLocked {
                label: hsm.identity.label.clone(),
                serial: hsm.identity.serial.clone(),
            });
        }
        Ok(hsm)
    }

    /// As [`Hsm::open`] but accepts a token whose user PIN is locked or not
    /// set, for the security officer's enrolment step ([`Hsm::init_user_pin`]).
    pub fn open_for_so(module: &Path, token: &TokenSelector) -> Result<Hsm, HsmError> {
        let m = Module::load(module)?;
        let slots = m
            .call("C_GetSlotList", || m.pkcs11.get_slots_with_token())
            .map_err(|e| module_init_error(module, e))?;
        let mut present = Vec::new();
        let mut matching = Vec::new();
        for slot in slots {
            let info = m
                .call("C_GetTokenInfo", || m.pkcs11.get_token_info(slot))
                .map_err(|e| module_init_error(module, e))?;
            present.push(describe(&info));
            if token.matches(
                info.label(),
                info.serial_number(),
                info.manufacturer_id(),
                info.model(),
            ) {
                matching.push((slot, info));
            }
        }
        let (slot, info) = match matching.len() {
            0 => {
                return Err(HsmError::NoToken {
                    selector: token.to_string(),
                    path: module.to_path_buf(),
                    present: if present.is_empty() {
                        "none".into()
                    } else {
                        present.join(", ")
                    },
                });
            }
            1 => matching.remove(0),
            n => {
                return Err(HsmError::AmbiguousToken {
                    selector: token.to_string(),
                    count: n,
                    matches: matching
                        .iter()
                        .map(|(s, t)| format!("slot {}: {}", s.id(), describe(t)))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        };
        if !info.token_initialized() {
            return Err(HsmError::TokenNotInitialised {
                slot: slot.id(),
                serial: info.serial_number().trim_end().to_string(),
            });
        }
        let lib = m
            .call("C_GetInfo", || m.pkcs11.get_library_info())
            .map_err(|e| module_init_error(module, e))?;
        let v = |v: cryptoki::types::Version| format!("{}.{}", v.major(), v.minor());
        let identity = TokenIdentity {
            manufacturer: info.manufacturer_id().trim_end().to_string(),
            model: info.model().trim_end().to_string(),
            serial: info.serial_number().trim_end().to_string(),
            label: info.label().trim_end().to_string(),
            firmware: v(info.firmware_version()),
            hardware: v(info.hardware_version()),
            slot_id: slot.id(),
            library_description: lib.library_description().trim_end().to_string(),
            library_manufacturer: lib.manufacturer_id().trim_end().to_string(),
            library_version: v(lib.library_version()),
            module_path: module.display().to_string(),
            module_sha256: m.sha256.clone(),
        };
        Ok(Hsm {
            module: Arc::new(m),
            slot,
            identity,
        })
    }

    /// The selected token's identity.
    pub fn identity(&self) -> &TokenIdentity {
        &self.identity
    }

    /// The module path.
    pub fn module_path(&self) -> &Path {
        &self.module.path
    }

    /// Sets the fault plan and restarts the call count (tests, issue 8).
    pub fn set_fault_plan(&self, plan: FaultPlan) {
        self.module.gate.set_plan(plan);
    }

    /// PKCS#11 calls made since open or the last [`Hsm::set_fault_plan`].
    pub fn call_count(&self) -> u64 {
        self.module.gate.calls()
    }

    /// Reads the token's PIN flags now.
    pub fn token_flags(&self) -> Result<TokenFlags, HsmError> {
        let m = &self.module;
        let info = m
            .call("C_GetTokenInfo", || m.pkcs11.get_token_info(self.slot))
            .ctx(|| format!("reading the state of token {:?}", self.identity.label))?;
        Ok(TokenFlags::from(&info))
    }

    pub(crate) fn token_info(&self) -> Result<TokenInfo, HsmError> {
        let m = &self.module;
        m.call("C_GetTokenInfo", || m.pkcs11.get_token_info(self.slot))
            .ctx(|| format!("reading token {:?}", self.identity.label))
    }

    /// Enrolment: logs in as security officer, sets the user PIN
    /// (C_InitPIN), logs out, then proves a user login with the new PIN
    /// works (and logs out again).
    pub fn init_user_pin(
        &self,
        so_pin: &Zeroizing<String>,
        new_user_pin: &Zeroizing<String>,
    ) -> Result<(), HsmError> {
        let m = &self.module;
        let label = &self.identity.label;
        let session = m
            .call("C_OpenSession", || m.pkcs11.open_rw_session(self.slot))
            .ctx(|| format!("opening a session on token {label:?}"))?;
        let so = AuthPin::from(so_pin.as_str());
        self.login(&session, UserType::So, &so)?;
        let new_pin = AuthPin::from(new_user_pin.as_str());
        let init = m
            .call("C_InitPIN", || session.init_pin(&new_pin))
            .ctx(|| format!("setting the user PIN of token {label:?}"));
        let logout = m
            .call("C_Logout", || session.logout())
            .ctx(|| format!("security officer logout from token {label:?}"));
        init?;
        logout?;
        self.login(&session, UserType::User, &new_pin)?;
        m.call("C_Logout", || session.logout())
            .ctx(|| format!("user logout from token {label:?}"))?;
        Ok(())
    }

    /// C_Login with PIN errors mapped to their own variants.
    pub(crate) fn login(
        &self,
        session: &cryptoki::session::Session,
        user: UserType,
        pin: &AuthPin,
    ) -> Result<(), HsmError> {
        let who = match user {
            UserType::So => "security officer",
            _ => "user",
        };
        let label = self.identity.label.clone();
        match self
            .module
            .call("C_Login", || session.login(user, Some(pin)))
        {
            Ok(()) => Ok(()),
            Err(e) => match &e.cause {
                Cause::Token(ckr)
                    if matches!(
                        ckr.as_str(),
                        "CKR_PIN_INCORRECT" | "CKR_PIN_INVALID" | "CKR_PIN_LEN_RANGE"
                    ) =>
                {
                    Err(HsmError::PinIncorrect {
                        who,
                        label,
                        ckr: ckr.clone(),
                    })
                }
                Cause::Token(ckr) if ckr == "CKR_PIN_LOCKED" => Err(HsmError::PinLocked {
                    label,
                    serial: self.identity.serial.clone(),
                }),
                _ => Err(e.into_hsm(format!("{who} login to token {label:?}"))),
            },
        }
    }

    /// Opens a read-write session and logs in as the user. The returned
    /// session destroys its session objects and logs out when dropped or
    /// closed.
    pub fn login_user(&self, pin: &Zeroizing<String>) -> Result<UserSession, HsmError> {
        let info = self.token_info()?;
        if info.user_pin_locked() {
            return Err(HsmError::PinLocked {
                label: self.identity.label.clone(),
                serial: self.identity.serial.clone(),
            });
        }
        if !info.user_pin_initialized() {
            return Err(HsmError::UserPinNotInitialised {
                label: self.identity.label.clone(),
            });
        }
        let m = &self.module;
        let session = m
            .call("C_OpenSession", || m.pkcs11.open_rw_session(self.slot))
            .ctx(|| format!("opening a session on token {:?}", self.identity.label))?;
        let auth = AuthPin::from(pin.as_str());
        self.login(&session, UserType::User, &auth)?;
        Ok(UserSession::new(self, session))
    }
}
