//! Where an ENI lives: its AWS account and region, from the records that it logged
//! (`account_id` and `region` columns, where the layout has them), else from its task's
//! ARN (`arn:aws:ecs:<region>:<account>:task/...`). Findings sent to Security Hub and
//! Security Lake are filed under an account and a region (see `output::exchange`).

use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;

use crate::columns::TextCol;
use crate::fold::Fold;

/// The flow-log columns [`Places`] reads (projection pushdown).
pub const COLUMNS: [&str; 3] = ["interface_id", "account_id", "region"];

/// An AWS account and region, each where known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Place {
    pub account: Option<String>,
    pub region: Option<String>,
}

impl Place {
    /// Keeps the smaller of two values, so that the result does not depend on the order
    /// in which records or workers' states come (an ENI lives in one account and
    /// region; two values are a damaged input, judged the same on every run).
    fn absorb(&mut self, account: Option<&str>, region: Option<&str>) {
        fn least(mine: &mut Option<String>, new: Option<&str>) {
            if let Some(n) = new.filter(|n| !n.is_empty()) {
                if mine.as_deref().is_none_or(|m| n < m) {
                    *mine = Some(n.to_string());
                }
            }
        }
        least(&mut self.account, account);
        least(&mut self.region, region);
    }

    /// This place, with what it lacks taken from `other`.
    pub fn or(self, other: Place) -> Place {
        Place {
            account: self.account.or(other.account),
            region: self.region.or(other.region),
        }
    }
}

/// The account and region in an ARN (`arn:<partition>:<service>:<region>:<account>:...`);
/// `None` for text that is not an ARN, and empty parts are left out.
pub fn arn_place(arn: &str) -> Option<Place> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let (_partition, _service) = (parts.next()?, parts.next()?);
    let region = parts.next()?;
    let account = parts.next()?;
    parts.next()?;
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Some(Place {
        account: some(account),
        region: some(region),
    })
}

/// The fold that gathers each ENI's account and region from its records.
pub struct Places;

/// Each ENI's account and region, as its records say.
#[derive(Clone, Debug, Default)]
pub struct PlacesSeen {
    by_eni: FxHashMap<String, Place>,
}

impl PlacesSeen {
    /// The account and region the records of `eni_id` give (empty when none did).
    pub fn of(&self, eni_id: &str) -> Place {
        self.by_eni.get(eni_id).cloned().unwrap_or_default()
    }
}

impl Fold for Places {
    type State = PlacesSeen;
    fn state(&self) -> PlacesSeen {
        PlacesSeen::default()
    }
    fn add(&self, state: &mut PlacesSeen, batch: &RecordBatch) {
        let Some(eni) = TextCol::of(batch, "interface_id") else {
            return;
        };
        let account = TextCol::of(batch, "account_id");
        let region = TextCol::of(batch, "region");
        if account.is_none() && region.is_none() {
            return;
        }
        let mut last = None;
        for row in 0..batch.num_rows() {
            let Some(e) = eni.get(row) else { continue };
            let seen = (
                e,
                account.as_ref().and_then(|c| c.get(row)),
                region.as_ref().and_then(|c| c.get(row)),
            );
            if last == Some(seen) {
                continue;
            }
            last = Some(seen);
            match state.by_eni.get_mut(e) {
                Some(p) => p.absorb(seen.1, seen.2),
                None => {
                    let mut p = Place::default();
                    p.absorb(seen.1, seen.2);
                    state.by_eni.insert(e.to_string(), p);
                }
            }
        }
    }
    fn merge(&self, into: &mut PlacesSeen, from: PlacesSeen) {
        for (eni, p) in from.by_eni {
            let mine = into.by_eni.entry(eni).or_default();
            mine.absorb(p.account.as_deref(), p.region.as_deref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{decode_slice, DecoderOptions};

    #[test]
    fn an_arn_names_its_account_and_region() {
        let p = arn_place("arn:aws:ecs:eu-west-1:210987654321:task/prod/0abc").unwrap();
        assert_eq!(p.account.as_deref(), Some("210987654321"));
        assert_eq!(p.region.as_deref(), Some("eu-west-1"));
        let s3 = arn_place("arn:aws:s3:::bucket/key").unwrap();
        assert_eq!((s3.account, s3.region), (None, None));
        assert!(arn_place("prod-task").is_none());
        assert!(arn_place("arn:aws:ecs").is_none());
    }

    #[test]
    fn each_eni_takes_its_records_account_and_region_in_any_order() {
        let text = "version account-id interface-id srcaddr dstaddr srcport dstport protocol \
                    packets bytes start end action log-status region\n\
                    5 111111111111 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 1 10 20 ACCEPT OK us-east-1\n\
                    5 222222222222 eni-b 10.0.0.1 10.0.0.2 1 2 6 1 1 10 20 ACCEPT OK eu-west-1\n\
                    5 - eni-c 10.0.0.1 10.0.0.2 1 2 6 1 1 10 20 ACCEPT OK -\n\
                    5 111111111111 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 1 10 20 ACCEPT OK us-east-1\n";
        let decoded = decode_slice(
            text.as_bytes(),
            DecoderOptions {
                batch_size: 1,
                ..DecoderOptions::default()
            },
        );
        assert!(decoded.rejects.is_empty(), "{:?}", decoded.rejects);
        let fold = |batches: &mut dyn Iterator<Item = &RecordBatch>| {
            let mut s = Places.state();
            for b in batches {
                let mut one = Places.state();
                Places.add(&mut one, b);
                Places.merge(&mut s, one);
            }
            s
        };
        let forward = fold(&mut decoded.batches.iter());
        let backward = fold(&mut decoded.batches.iter().rev());
        for s in [&forward, &backward] {
            assert_eq!(
                s.of("eni-a"),
                Place {
                    account: Some("111111111111".into()),
                    region: Some("us-east-1".into())
                }
            );
            assert_eq!(s.of("eni-b").region.as_deref(), Some("eu-west-1"));
            assert_eq!(s.of("eni-c"), Place::default());
            assert_eq!(s.of("eni-unknown"), Place::default());
        }
    }
}
