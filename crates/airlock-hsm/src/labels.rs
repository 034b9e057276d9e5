//! The token's label inventory, taken once before a ceremony generates
//! anything. A ceremony checks each new label against it instead of
//! searching the token once per key (a `C_FindObjects` by label is a scan
//! of every object on some tokens, so one search per key made a ceremony
//! quadratic in the token's size).
//!
//! Two ways to take it, both exact for the labels the ceremony plans:
//! - **every label**: one `C_FindObjects` over all token objects, then one
//!   `C_GetAttributeValue` (CKA_LABEL) per object; the right way where
//!   reading an object by handle is cheap (production HSMs);
//! - **the planned labels**: one `C_FindObjects` by label per planned label,
//!   all before generation; taken instead when reading every object's label
//!   is on course to cost more than those searches would (Kryoptic's sqlite
//!   store scans its whole table for every object it reads, so reading
//!   10,000 labels there took 132 s, a search per planned label a few).
//!
//! The choice is made on the token's own timing: one search by label is
//! timed first, and the reads go on while their projected total stays under
//! that search's cost times the number of planned labels. A label
//! outside the inventory's scope is never reported absent: the caller
//! searches for it.
//!
//! The inventory is only as good as the guarantee that nobody else adds
//! objects while it is in use: the ceremony holds an exclusive lock on the
//! token and the state directory for as long as it runs
//! (`airlock_ceremony::lock`), and every label it generates is added here.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use cryptoki::object::{Attribute, AttributeType};

use crate::error::{Context, HsmError};
use crate::session::UserSession;

/// How the inventory was taken (journaled by the ceremony).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelScope {
    /// Every token object's label was read.
    AllObjects,
    /// Only the planned labels were searched for.
    Planned,
}

impl LabelScope {
    /// The name journaled.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelScope::AllObjects => "all_objects",
            LabelScope::Planned => "planned_labels",
        }
    }
}

/// The labels carried by token objects when the inventory was taken (all
/// of them, or those among the planned ones), plus the labels generated
/// through it since.
#[derive(Debug, Clone)]
pub struct TokenLabels {
    labels: HashSet<Vec<u8>>,
    /// With [`LabelScope::Planned`]: the labels the inventory can answer for.
    covered: Option<HashSet<Vec<u8>>>,
    objects: usize,
    scope: LabelScope,
}

impl TokenLabels {
    /// Whether some token object carries `label`; `None` when the label is
    /// outside the inventory's scope (search the token for it).
    pub fn contains(&self, label: &str) -> Option<bool> {
        let l = label.as_bytes();
        match &self.covered {
            Some(c) if !c.contains(l) && !self.labels.contains(l) => None,
            _ => Some(self.labels.contains(l)),
        }
    }

    /// How many token objects the token held when the inventory was taken.
    pub fn objects_read(&self) -> usize {
        self.objects
    }

    /// How the inventory was taken.
    pub fn scope(&self) -> LabelScope {
        self.scope
    }

    /// Records a label just given to a new object.
    pub(crate) fn insert(&mut self, label: &str) {
        self.labels.insert(label.as_bytes().to_vec());
    }
}

impl UserSession {
    /// Takes the label inventory for a ceremony that will create `planned`
    /// labels (see the module docs for the two ways).
    pub fn token_labels(&mut self, planned: &[String]) -> Result<TokenLabels, HsmError> {
        // One real search by label, timed: what each of the planned-label
        // searches would cost.
        let budget = match planned.first() {
            Some(first) => {
                let started = Instant::now();
                self.label_taken(first)?;
                started.elapsed().max(Duration::from_micros(20)) * planned.len() as u32
            }
            None => Duration::ZERO,
        };
        let handles = self
            .call("C_FindObjects", |s| {
                s.find_objects(&[Attribute::Token(true)])
            })
            .ctx(|| "listing every token object for the label inventory".to_string())?;
        let reading = Instant::now();
        let mut labels = HashSet::with_capacity(handles.len().min(1 << 16));
        for (i, h) in handles.iter().enumerate() {
            // Projected cost of reading every label, from those read so far.
            if !keep_reading(i, handles.len(), reading.elapsed(), budget) {
                let mut inventory = self.token_labels_planned(planned)?;
                inventory.objects = handles.len();
                return Ok(inventory);
            }
            let attrs = self
                .call("C_GetAttributeValue", |s| {
                    s.get_attributes(*h, &[AttributeType::Label])
                })
                .ctx(|| "reading a token object's label for the inventory".to_string())?;
            for a in attrs {
                if let Attribute::Label(l) = a {
                    labels.insert(l);
                }
            }
        }
        Ok(TokenLabels {
            labels,
            covered: None,
            objects: handles.len(),
            scope: LabelScope::AllObjects,
        })
    }

    /// Whether some token object is labelled `label` (one search).
    pub(crate) fn label_taken(&mut self, label: &str) -> Result<bool, HsmError> {
        Ok(!self
            .objects_labelled(label, &[Attribute::Token(true)])?
            .is_empty())
    }

    /// The inventory of the planned labels only: one search each (what
    /// [`UserSession::token_labels`] falls back to on a slow token).
    pub fn token_labels_planned(&mut self, planned: &[String]) -> Result<TokenLabels, HsmError> {
        let mut labels = HashSet::new();
        for label in planned {
            if self.label_taken(label)? {
                labels.insert(label.as_bytes().to_vec());
            }
        }
        Ok(TokenLabels {
            labels,
            covered: Some(planned.iter().map(|l| l.as_bytes().to_vec()).collect()),
            objects: 0,
            scope: LabelScope::Planned,
        })
    }
}

/// Whether to go on reading labels after `read` of `total`, `elapsed` in,
/// against `budget` (the planned-label searches' expected cost): the first
/// 16 are always read, then the reads go on while their projected total
/// stays within the budget.
fn keep_reading(read: usize, total: usize, elapsed: Duration, budget: Duration) -> bool {
    read < 16 || elapsed.mul_f64(total as f64 / read as f64) <= budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_stops_once_it_is_on_course_to_cost_more_than_the_searches() {
        let ms = Duration::from_millis;
        // Small tokens are always read whole.
        assert!(keep_reading(15, 10_000, ms(10_000), ms(1)));
        // 100 of 10,000 read in 1.3 s: 130 s projected, against 440
        // searches of 13 ms (5.7 s): stop and search.
        assert!(!keep_reading(100, 10_000, ms(1_300), ms(5_720)));
        // A token that reads by handle in microseconds is read whole.
        assert!(keep_reading(5_000, 10_000, ms(50), ms(5_720)));
    }

    #[test]
    fn a_planned_scope_answers_only_for_its_labels() {
        let mut t = TokenLabels {
            labels: [b"a/r".to_vec()].into_iter().collect(),
            covered: Some([b"a/r".to_vec(), b"b/r".to_vec()].into_iter().collect()),
            objects: 10,
            scope: LabelScope::Planned,
        };
        assert_eq!(t.contains("a/r"), Some(true));
        assert_eq!(t.contains("b/r"), Some(false));
        assert_eq!(
            t.contains("c/r"),
            None,
            "never claims an unsearched label is free"
        );
        t.insert("c/r");
        assert_eq!(t.contains("c/r"), Some(true));
    }
}
