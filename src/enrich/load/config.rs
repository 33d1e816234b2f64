//! AWS Config: `aws configservice get-resource-config-history` output for
//! `AWS::EC2::NetworkInterface` (each item's `configuration` a JSON string, or an
//! object in Config's own snapshot files).
//!
//! An ENI's window opens at its `resourceCreationTime`, else at the capture time of its
//! first item, and closes at the capture time of its `ResourceDeleted` item.
//! `configurationItemCaptureTime` is when Config recorded the item, which may lag the
//! change by minutes: a window that starts at one is said so in a warning.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::ec2::Described;
use super::sink::Sink;
use super::value::{BadAddress, Time};
use crate::enrich::merge::{EniFact, SourceKind};

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Item<'a> {
    resource_type: Option<String>,
    resource_id: Option<String>,
    configuration_item_capture_time: Time,
    configuration_item_status: Option<String>,
    resource_creation_time: Time,
    #[serde(borrow)]
    configuration: Option<&'a RawValue>,
}

/// Config's spelling of what EC2 says of an ENI.
mod shape {
    crate::enrich::load::ec2::eni_shape!("camelCase");
}
use shape::NetworkInterface as Configuration;

/// A configuration item that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("{0}: no resourceId")]
    NoResourceId(String),
    #[error("{at}.configuration: {error}")]
    Configuration {
        at: String,
        error: serde_json::Error,
    },
    #[error(transparent)]
    Address(#[from] BadAddress),
}

/// One configuration item.
pub(crate) fn item(sink: &mut Sink, it: Item, at: &dyn Fn() -> String) -> Result<(), ConfigError> {
    if it.resource_type.as_deref() != Some("AWS::EC2::NetworkInterface") {
        sink.skip(
            "Config items of other resource types than AWS::EC2::NetworkInterface skipped",
            at,
        );
        return Ok(());
    }
    let Some(id) = it.resource_id.filter(|s| !s.is_empty()) else {
        return Err(ConfigError::NoResourceId(at()));
    };
    let captured = it.configuration_item_capture_time.0;
    let status = it.configuration_item_status.unwrap_or_default();
    if status.starts_with("ResourceDeleted") {
        sink.eni(EniFact {
            eni_id: id,
            deleted: captured,
            deleted_lags: true,
            source: SourceKind::Config,
            origin: sink.origin(&at()),
            ..EniFact::default()
        });
        return Ok(());
    }
    // The configuration: a JSON string (the CLI's output), or an object.
    let config: Configuration = match it.configuration {
        None => Configuration::default(),
        Some(raw) => {
            let text = raw.get();
            let parsed = if text.starts_with('"') {
                serde_json::from_str::<String>(text)
                    .and_then(|s| serde_json::from_str::<Configuration>(&s))
            } else if text == "null" {
                Ok(Configuration::default())
            } else {
                serde_json::from_str::<Configuration>(text)
            };
            parsed.map_err(|error| ConfigError::Configuration { at: at(), error })?
        }
    };
    // An item without a description or interface type says nothing of the kind.
    let described = Described::from(config);
    let says_kind = described.description.is_some() || described.interface_type.is_some();
    let instance = described.instance;
    let mut fact = described.fact(id, SourceKind::Config, sink.origin(&at()), at)?;
    if !says_kind && !instance {
        fact.kind = None;
    }
    (fact.created, fact.created_lags) = match it.resource_creation_time.0 {
        Some(t) => (Some(t), false),
        None => (captured, captured.is_some()),
    };
    sink.eni(fact);
    Ok(())
}
