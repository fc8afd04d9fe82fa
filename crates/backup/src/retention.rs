//! Retention: which snapshots a policy keeps (restic's `forget --keep-*` rules, applied by the
//! server per town and host). Pure: snapshot times in, decisions with their reasons out.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How many snapshots to keep in each kind of period. Zero everywhere keeps everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The most recent N.
    pub last: u32,
    /// The newest of each of the last N hours that have one.
    pub hourly: u32,
    /// The newest of each of the last N days that have one.
    pub daily: u32,
    /// The newest of each of the last N ISO weeks that have one.
    pub weekly: u32,
    /// The newest of each of the last N months that have one.
    pub monthly: u32,
    /// The newest of each of the last N years that have one.
    pub yearly: u32,
}

impl Policy {
    /// Whether the policy keeps everything (no rule set).
    pub fn keeps_everything(&self) -> bool {
        *self == Policy::default()
    }
}

/// A snapshot's fate and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The snapshot.
    pub id: String,
    /// Kept?
    pub keep: bool,
    /// The rules that keep it (`last`, `hourly`, …), empty when it goes.
    pub reasons: Vec<&'static str>,
}

/// Decides for every snapshot (any order in; newest first out).
pub fn apply(policy: &Policy, snapshots: &[(String, OffsetDateTime)]) -> Vec<Decision> {
    let mut sorted: Vec<&(String, OffsetDateTime)> = snapshots.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    type Bucket = fn(OffsetDateTime) -> (i32, u32);
    let rules: [(&'static str, u32, Bucket); 6] = [
        ("last", policy.last, |_| (0, 0)),
        ("hourly", policy.hourly, |t| {
            (t.year(), t.ordinal() as u32 * 24 + u32::from(t.hour()))
        }),
        ("daily", policy.daily, |t| {
            (t.year(), u32::from(t.ordinal()))
        }),
        ("weekly", policy.weekly, |t| {
            let (y, w, _) = t.to_iso_week_date();
            (y, u32::from(w))
        }),
        ("monthly", policy.monthly, |t| {
            (t.year(), u32::from(u8::from(t.month())))
        }),
        ("yearly", policy.yearly, |t| (t.year(), 0)),
    ];
    let mut left: Vec<u32> = rules.iter().map(|r| r.1).collect();
    let mut last_bucket: Vec<Option<(i32, u32)>> = vec![None; rules.len()];
    let everything = policy.keeps_everything();
    sorted
        .into_iter()
        .map(|(id, at)| {
            let mut reasons = Vec::new();
            for (i, (name, _, bucket)) in rules.iter().enumerate() {
                if left[i] == 0 {
                    continue;
                }
                // `last` keeps each snapshot; the others the newest of each new period.
                let key = if *name == "last" {
                    None
                } else {
                    Some(bucket(*at))
                };
                if key.is_none() || key != last_bucket[i] {
                    left[i] -= 1;
                    last_bucket[i] = key;
                    reasons.push(*name);
                }
            }
            Decision {
                id: id.clone(),
                keep: everything || !reasons.is_empty(),
                reasons,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn keeps_the_newest_of_each_period_worked_by_hand() {
        // Nightly at 02:00 from Sunday 2026-11-01 to Friday 2026-11-27, plus a second run on the 27th.
        let mut snaps: Vec<(String, OffsetDateTime)> = (1..=27)
            .map(|d| {
                (
                    format!("d{d:02}"),
                    datetime!(2026-11-01 02:00 UTC).replace_day(d).unwrap(),
                )
            })
            .collect();
        snaps.push(("d27b".into(), datetime!(2026-11-27 14:00 UTC)));
        snaps.push(("oct".into(), datetime!(2026-10-15 02:00 UTC)));
        let policy = Policy {
            last: 2,
            daily: 7,
            weekly: 4,
            monthly: 3,
            ..Policy::default()
        };
        let kept: Vec<(String, Vec<&str>)> = apply(&policy, &snaps)
            .into_iter()
            .filter(|d| d.keep)
            .map(|d| (d.id, d.reasons))
            .collect();
        assert_eq!(
            kept,
            vec![
                // Newest: last, daily (27th), ISO week 48, November.
                ("d27b".into(), vec!["last", "daily", "weekly", "monthly"]),
                ("d27".into(), vec!["last"]),
                ("d26".into(), vec!["daily"]),
                ("d25".into(), vec!["daily"]),
                ("d24".into(), vec!["daily"]),
                ("d23".into(), vec!["daily"]),
                // Sunday the 22nd closes ISO week 47.
                ("d22".into(), vec!["daily", "weekly"]),
                ("d21".into(), vec!["daily"]),
                ("d15".into(), vec!["weekly"]),
                ("d08".into(), vec!["weekly"]),
                ("oct".into(), vec!["monthly"]),
            ]
        );
    }

    #[test]
    fn an_empty_policy_keeps_everything() {
        let snaps = vec![
            ("a".to_string(), datetime!(2026-11-01 02:00 UTC)),
            ("b".to_string(), datetime!(2026-11-02 02:00 UTC)),
        ];
        assert!(apply(&Policy::default(), &snaps).iter().all(|d| d.keep));
        let only_last = Policy {
            last: 1,
            ..Policy::default()
        };
        let d = apply(&only_last, &snaps);
        assert_eq!(
            (d[0].id.as_str(), d[0].keep, d[1].id.as_str(), d[1].keep),
            ("b", true, "a", false)
        );
    }
}
