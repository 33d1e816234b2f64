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

use super::ec2::{address_texts, Described};
use super::load::{Sink, Time};
use super::merge::{EniFact, SourceKind};

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

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Configuration {
    network_interface_id: Option<String>,
    description: Option<String>,
    interface_type: Option<String>,
    requester_id: Option<String>,
    private_ip_address: Option<String>,
    private_ip_addresses: Option<Vec<PrivateIp>>,
    ipv6_addresses: Option<Vec<Ipv6>>,
    groups: Option<Vec<Group>>,
    subnet_id: Option<String>,
    vpc_id: Option<String>,
    attachment: Option<Attachment>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PrivateIp {
    private_ip_address: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Ipv6 {
    ipv6_address: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Group {
    group_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Attachment {
    instance_id: Option<String>,
}

/// One configuration item.
pub(crate) fn item(sink: &mut Sink, it: Item, at: &dyn Fn() -> String) -> Result<(), String> {
    if it.resource_type.as_deref() != Some("AWS::EC2::NetworkInterface") {
        sink.skip(
            "Config items of other resource types than AWS::EC2::NetworkInterface skipped",
            at,
        );
        return Ok(());
    }
    let Some(id) = it.resource_id.filter(|s| !s.is_empty()) else {
        return Err(format!("{}: no resourceId", at()));
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
            parsed.map_err(|e| format!("{}.configuration: {e}", at()))?
        }
    };
    let addrs = address_texts(
        config.private_ip_address,
        config
            .private_ip_addresses
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.private_ip_address),
        config
            .ipv6_addresses
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.ipv6_address),
    );
    // An item without a description or interface type says nothing of the kind.
    let says_kind = config.description.is_some() || config.interface_type.is_some();
    let described = Described {
        interface_type: config.interface_type,
        requester_id: config.requester_id,
        description: config.description,
        instance: config.attachment.and_then(|a| a.instance_id).is_some(),
        addrs,
        groups: config
            .groups
            .map(|g| g.into_iter().filter_map(|g| g.group_id).collect()),
        subnet_id: config.subnet_id,
        vpc_id: config.vpc_id,
    };
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
