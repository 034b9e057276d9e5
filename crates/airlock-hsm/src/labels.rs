//! The token's label inventory: every token object's `CKA_LABEL`, read
//! once before a ceremony generates anything. A ceremony checks each new
//! label against it instead of searching the token once per key (a
//! `C_FindObjects` by label is a scan of every object on some tokens, so
//! one search per key made a ceremony quadratic in the token's size).
//!
//! The inventory is only as good as the guarantee that nobody else adds
//! objects while it is in use: the ceremony holds an exclusive lock on the
//! token and the state directory for as long as it runs
//! (`airlock_ceremony::lock`), and every label it generates is added here.

use std::collections::HashSet;

use cryptoki::object::{Attribute, AttributeType};

use crate::error::{Context, HsmError};
use crate::session::UserSession;

/// Every label carried by a token object when the inventory was taken,
/// plus the labels generated through it since.
#[derive(Debug, Default, Clone)]
pub struct TokenLabels {
    labels: HashSet<Vec<u8>>,
    objects: usize,
}

impl TokenLabels {
    /// Whether some token object carries `label`.
    pub fn contains(&self, label: &str) -> bool {
        self.labels.contains(label.as_bytes())
    }

    /// How many token objects the inventory read (for the journal).
    pub fn objects_read(&self) -> usize {
        self.objects
    }

    /// Records a label just given to a new object.
    pub(crate) fn insert(&mut self, label: &str) {
        self.labels.insert(label.as_bytes().to_vec());
    }
}

impl UserSession {
    /// Reads the label of every token object this session can see: one
    /// `C_FindObjects` over all token objects, then one
    /// `C_GetAttributeValue` per object. Objects without a label are
    /// counted but add nothing.
    pub fn token_labels(&mut self) -> Result<TokenLabels, HsmError> {
        let handles = self
            .call("C_FindObjects", |s| {
                s.find_objects(&[Attribute::Token(true)])
            })
            .ctx(|| "listing every token object for the label inventory".to_string())?;
        let mut inventory = TokenLabels {
            labels: HashSet::with_capacity(handles.len()),
            objects: handles.len(),
        };
        for h in handles {
            let attrs = self
                .call("C_GetAttributeValue", |s| {
                    s.get_attributes(h, &[AttributeType::Label])
                })
                .ctx(|| "reading a token object's label for the inventory".to_string())?;
            for a in attrs {
                if let Attribute::Label(l) = a {
                    inventory.labels.insert(l);
                }
            }
        }
        Ok(inventory)
    }
}
