//! The imported-material lifecycle, pure so that every limit is
//! unit-tested: the `--valid-to` of an expiring import (KMS: a future time,
//! at most 365 days after the ImportKeyMaterial request), how close a
//! material is to its expiry, and (in `kms.rs`) the on-demand rotation
//! budget of 25 per key.

use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};
use crate::exit::Exit;

/// KMS's limit: ValidTo at most 365 days after the ImportKeyMaterial
/// request (API reference, ImportKeyMaterial, ValidTo).
pub const MAX_VALID_DAYS: i64 = 365;

/// Headroom kept below the 365 days for the run itself: ValidTo is checked
/// once before the first change, and KMS compares it with each request's
/// own time, which comes later.
pub const RUN_HEADROOM: Duration = Duration::hours(1);

/// The shortest validity accepted: material that expires within a day of
/// its import leaves no time to notice and re-import before the key becomes
/// unusable (KMS sets it to PendingImport).
pub const MIN_VALIDITY: Duration = Duration::hours(24);

/// Formats a time as RFC 3339 (UTC, seconds).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Parses an RFC 3339 time.
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// Checks `--valid-to` against `now` before anything is done: RFC 3339, at
/// least [`MIN_VALIDITY`] ahead, at most 365 days ahead less
/// [`RUN_HEADROOM`]. Exit 28 otherwise.
pub fn check_valid_to(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime> {
    let refuse = |why: String| {
        Error::refused(
            Exit::ValidTo,
            format!(
                "--valid-to {s:?}: {why}; nothing was imported. Give a time between 24 hours and \
                 365 days (less one hour for the run) from now, e.g. --valid-to {}, or leave \
                 --valid-to out for material that does not expire",
                rfc3339(now + Duration::days(90))
            ),
        )
    };
    let t = parse(s).ok_or_else(|| refuse("not an RFC 3339 time (2027-03-01T00:00:00Z)".into()))?;
    if t <= now {
        return Err(refuse(format!(
            "it is not in the future (now is {})",
            rfc3339(now)
        )));
    }
    if t - now < MIN_VALIDITY {
        return Err(refuse(format!(
            "the material would expire within 24 hours of its import (now is {}), and the key \
             would become unusable (PendingImport) soon after",
            rfc3339(now)
        )));
    }
    let max = now + Duration::days(MAX_VALID_DAYS) - RUN_HEADROOM;
    if t > max {
        return Err(refuse(format!(
            "it is {} days ahead; AWS KMS accepts a ValidTo at most {MAX_VALID_DAYS} days after \
             the import (latest accepted now: {})",
            (t - now).whole_days(),
            rfc3339(max)
        )));
    }
    Ok(t)
}

/// How close a material is to its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The material does not expire.
    Never,
    /// Already expired: KMS deleted it and the key is unusable until the
    /// same material is re-imported.
    Expired,
    /// Expires within the warning window: whole days left.
    Soon(i64),
    /// Expires later: whole days left.
    Later(i64),
}

impl Expiry {
    /// Judges `valid_to` at `now` with a warning window of `warn_days`.
    pub fn at(valid_to: Option<OffsetDateTime>, now: OffsetDateTime, warn_days: u32) -> Self {
        match valid_to {
            None => Expiry::Never,
            Some(t) if t <= now => Expiry::Expired,
            Some(t) if t - now <= Duration::days(i64::from(warn_days)) => {
                Expiry::Soon((t - now).whole_days())
            }
            Some(t) => Expiry::Later((t - now).whole_days()),
        }
    }

    /// The spelling in `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Expiry::Never => "never",
            Expiry::Expired => "expired",
            Expiry::Soon(_) => "expires-soon",
            Expiry::Later(_) => "expires-later",
        }
    }

    /// Whole days left (negative never: expired is 0).
    pub fn days_left(self) -> Option<i64> {
        match self {
            Expiry::Never => None,
            Expiry::Expired => Some(0),
            Expiry::Soon(d) | Expiry::Later(d) => Some(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-04 20:00 UTC);

    #[test]
    fn valid_to_must_be_between_a_day_and_365_days_ahead() {
        assert_eq!(
            check_valid_to("2026-12-14T20:00:00Z", NOW).unwrap(),
            datetime!(2026-12-14 20:00 UTC)
        );
        // 365 days less the hour of headroom is the latest accepted.
        assert!(check_valid_to("2027-12-04T19:00:00Z", NOW).is_ok());
        for bad in [
            "2027-12-04T19:00:01Z", // inside the headroom
            "2027-12-05T20:00:00Z", // 366 days
            "2028-01-08T20:00:00Z", // 400 days
            "2026-12-04T20:00:00Z", // now
            "2026-12-01T00:00:00Z", // past
            "2026-12-05T19:59:59Z", // under 24 hours
            "next week",
        ] {
            let e = check_valid_to(bad, NOW).unwrap_err();
            assert_eq!(e.exit(), Exit::ValidTo, "{bad}");
            assert!(e.to_string().contains("nothing was imported"), "{bad}: {e}");
        }
        let e = check_valid_to("2028-01-08T20:00:00Z", NOW).unwrap_err();
        assert!(e.to_string().contains("400 days ahead"), "{e}");
        assert!(e.to_string().contains("at most 365 days"), "{e}");
        assert!(check_valid_to("2026-12-05T20:00:00Z", NOW).is_ok());
    }

    #[test]
    fn expiry_warns_within_the_window_and_expired_is_expired() {
        let at = |t| Expiry::at(Some(t), NOW, 30);
        assert_eq!(Expiry::at(None, NOW, 30), Expiry::Never);
        assert_eq!(at(datetime!(2026-12-14 20:00 UTC)), Expiry::Soon(10));
        assert_eq!(at(datetime!(2027-01-03 20:00 UTC)), Expiry::Soon(30));
        assert_eq!(at(datetime!(2027-01-03 20:00:01 UTC)), Expiry::Later(30));
        assert_eq!(at(datetime!(2027-03-04 20:00 UTC)), Expiry::Later(90));
        assert_eq!(at(NOW), Expiry::Expired);
        assert_eq!(at(datetime!(2026-11-01 00:00 UTC)), Expiry::Expired);
        // A zero-day window warns only once expired.
        assert_eq!(
            Expiry::at(Some(datetime!(2026-12-05 20:00 UTC)), NOW, 0),
            Expiry::Later(1)
        );
        assert_eq!(Expiry::Expired.days_left(), Some(0));
    }
}
