//! CloudTrail: the records of a trail (`{"Records": [...]}` files, plain or gzip, one
//! by one or as the trail's S3 tree) and `aws cloudtrail lookup-events` output (each
//! record a JSON string in `CloudTrailEvent`).
//!
//! `CreateNetworkInterface` opens an ENI's window at its `eventTime` with what the
//! response says of the ENI (id, addresses, IPv6 addresses, security groups, subnet,
//! VPC, description, requester, interface type); `DeleteNetworkInterface` closes it;
//! `AttachNetworkInterface` to an instance makes an ENI of no other kind an instance's.
//! Records with an `errorCode` (failed calls, dry runs) are skipped and counted; other
//! events are not about ENIs and are passed over. An ECS task ENI's description names
//! its attachment (`arn:aws:ecs:<region>:<account>:attachment/<uuid>`), which joins it
//! to its task in any source that lists the task's attachments.
//!
//! A `lookup-events` record comes as a string; [`super::document`] unwraps it and hands
//! it here as a record of its own.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::ec2::{address_texts, Described};
use super::sink::Sink;
use super::value::{BadAddress, Time};
use crate::enrich::merge::{EniFact, SourceKind};

/// A record about an ENI that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TrailError {
    #[error("{at}: {event} without an eventTime")]
    NoTime { at: String, event: String },
    #[error("{0}: CreateNetworkInterface without networkInterfaceId")]
    NoEniId(String),
    /// `requestParameters` or `responseElements` not of the shape the event has.
    #[error("{at}.{part}: {error}")]
    Part {
        at: String,
        part: &'static str,
        error: serde_json::Error,
    },
    #[error(transparent)]
    Address(#[from] BadAddress),
}

/// The parts of a record the map needs, as a record's top-level keys give them.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct RecordParts<'a> {
    pub event_name: Option<String>,
    pub event_time: Time,
    #[serde(borrow)]
    pub error_code: Option<&'a RawValue>,
    #[serde(borrow, rename = "requestParameters")]
    pub request: Option<&'a RawValue>,
    #[serde(borrow, rename = "responseElements")]
    pub response: Option<&'a RawValue>,
}

/// A set as CloudTrail writes EC2's XML lists: `{"items": [...]}` or `{"item": [...]}`.
#[derive(Deserialize)]
#[serde(default)]
struct Set<T> {
    item: Option<Vec<T>>,
    items: Option<Vec<T>>,
}

impl<T> Default for Set<T> {
    fn default() -> Self {
        Set {
            item: None,
            items: None,
        }
    }
}

impl<T> Set<T> {
    fn all(self) -> impl Iterator<Item = T> {
        self.item
            .unwrap_or_default()
            .into_iter()
            .chain(self.items.unwrap_or_default())
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Created {
    network_interface: Option<TrailNi>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TrailNi {
    network_interface_id: Option<String>,
    subnet_id: Option<String>,
    vpc_id: Option<String>,
    description: Option<String>,
    requester_id: Option<String>,
    interface_type: Option<String>,
    private_ip_address: Option<String>,
    group_set: Option<Set<GroupItem>>,
    ipv6_addresses_set: Option<Set<Ipv6Item>>,
    private_ip_addresses_set: Option<Set<PrivateIpItem>>,
    attachment: Option<AttachmentItem>,
}

// Kept on purpose beside `ec2::eni_shape!`'s conversion, which it resembles:
// CloudTrail writes EC2's XML lists (`groupSet.items`, `privateIpAddressesSet.item`),
// so the fields it reads are others; what it fills is the one `Described`.
impl From<TrailNi> for Described {
    fn from(ni: TrailNi) -> Self {
        Described {
            addrs: address_texts(
                ni.private_ip_address,
                ni.private_ip_addresses_set
                    .unwrap_or_default()
                    .all()
                    .map(|p| p.private_ip_address),
                ni.ipv6_addresses_set
                    .unwrap_or_default()
                    .all()
                    .map(|p| p.ipv6_address),
            ),
            interface_type: ni.interface_type,
            requester_id: ni.requester_id,
            description: ni.description,
            instance: ni.attachment.and_then(|a| a.instance_id).is_some(),
            groups: ni
                .group_set
                .map(|g| g.all().filter_map(|g| g.group_id).collect()),
            subnet_id: ni.subnet_id,
            vpc_id: ni.vpc_id,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GroupItem {
    group_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Ipv6Item {
    ipv6_address: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PrivateIpItem {
    private_ip_address: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AttachmentItem {
    instance_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct EniRequest {
    network_interface_id: Option<String>,
    instance_id: Option<String>,
}

/// One record of a trail file's `Records`.
pub(crate) fn record(
    sink: &mut Sink,
    r: RecordParts,
    at: &dyn Fn() -> String,
) -> Result<(), TrailError> {
    handle(sink, r, at)
}

/// A record met as a document of its own (a `lookup-events` string, a JSON line).
pub(crate) fn record_parts(sink: &mut Sink, r: RecordParts, at: &str) -> Result<(), TrailError> {
    handle(sink, r, &|| at.to_string())
}

/// A part of a record (`requestParameters`, `responseElements`), empty where absent.
fn parse<T: for<'a> Deserialize<'a> + Default>(
    raw: Option<&RawValue>,
    at: &dyn Fn() -> String,
    part: &'static str,
) -> Result<T, TrailError> {
    match raw {
        Some(raw) => serde_json::from_str(raw.get()).map_err(|error| TrailError::Part {
            at: at(),
            part,
            error,
        }),
        None => Ok(T::default()),
    }
}

/// One record: the three ENI events are read, others passed over.
fn handle(sink: &mut Sink, r: RecordParts, at: &dyn Fn() -> String) -> Result<(), TrailError> {
    sink.saw(SourceKind::CloudTrail);
    let Some(name) = r.event_name.as_deref() else {
        return Ok(());
    };
    if !matches!(
        name,
        "CreateNetworkInterface" | "DeleteNetworkInterface" | "AttachNetworkInterface"
    ) {
        return Ok(());
    }
    if r.error_code.is_some_and(|e| e.get() != "null") {
        sink.skip(
            "failed ENI calls (records with an errorCode: dry runs, denied calls) skipped",
            at,
        );
        return Ok(());
    }
    let Some(time) = r.event_time.0 else {
        return Err(TrailError::NoTime {
            at: at(),
            event: name.to_string(),
        });
    };
    match name {
        "CreateNetworkInterface" => {
            let created: Created = parse(r.response, at, "responseElements")?;
            let Some(mut ni) = created.network_interface else {
                sink.skip(
                    "CreateNetworkInterface records without responseElements.networkInterface skipped",
                    at,
                );
                return Ok(());
            };
            let Some(id) = ni.network_interface_id.take().filter(|s| !s.is_empty()) else {
                return Err(TrailError::NoEniId(at()));
            };
            let described = Described::from(ni);
            let mut fact = described.fact(id, SourceKind::CloudTrail, sink.origin(&at()), at)?;
            fact.created = Some(time);
            sink.eni(fact);
        }
        "DeleteNetworkInterface" => {
            let req: EniRequest = parse(r.request, at, "requestParameters")?;
            if let Some(id) = req.network_interface_id.filter(|s| !s.is_empty()) {
                sink.eni(EniFact {
                    eni_id: id,
                    deleted: Some(time),
                    source: SourceKind::CloudTrail,
                    origin: sink.origin(&at()),
                    ..EniFact::default()
                });
            }
        }
        _ => {
            let req: EniRequest = parse(r.request, at, "requestParameters")?;
            if let (Some(id), Some(_)) = (req.network_interface_id, req.instance_id) {
                sink.eni(EniFact {
                    eni_id: id,
                    on_instance: true,
                    source: SourceKind::CloudTrail,
                    origin: sink.origin(&at()),
                    ..EniFact::default()
                });
            }
        }
    }
    Ok(())
}
