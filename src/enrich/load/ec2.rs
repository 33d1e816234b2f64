//! `aws ec2 describe-network-interfaces` output: every ENI that exists when it was
//! taken, its kind, all its addresses (secondary and IPv6 too) and security groups. It
//! says nothing of when it was taken: its facts are undated.
//!
//! What EC2 says of an ENI (`Described`) is also what CloudTrail's
//! `CreateNetworkInterface` response and AWS Config's items say, so they read it here.

use crate::enrich::kind::{classify, ecs_attachment_of, load_balancer_of, Ec2Says};
use crate::enrich::merge::{EniFact, SourceKind};

use super::sink::Sink;
use super::value::{address, BadAddress};

/// Declares an ENI as EC2's API describes it, `NetworkInterface` and its parts, with
/// its keys in one spelling (`"PascalCase"`: EC2's own output; `"camelCase"`: AWS
/// Config's items), and how it reads as [`Described`]. The two spellings have the same
/// fields: one declaration serves both, so they cannot drift apart.
macro_rules! eni_shape {
    ($case:tt) => {
        /// An ENI as EC2's API describes it.
        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = $case)]
        pub(crate) struct NetworkInterface {
            pub network_interface_id: Option<String>,
            description: Option<String>,
            interface_type: Option<String>,
            requester_id: Option<String>,
            attachment: Option<Attachment>,
            private_ip_address: Option<String>,
            private_ip_addresses: Option<Vec<PrivateIp>>,
            ipv6_addresses: Option<Vec<Ipv6>>,
            groups: Option<Vec<Group>>,
            subnet_id: Option<String>,
            vpc_id: Option<String>,
        }

        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = $case)]
        struct Attachment {
            instance_id: Option<String>,
        }

        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = $case)]
        struct PrivateIp {
            private_ip_address: Option<String>,
        }

        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = $case)]
        struct Ipv6 {
            ipv6_address: Option<String>,
        }

        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = $case)]
        struct Group {
            group_id: Option<String>,
        }

        impl From<NetworkInterface> for $crate::enrich::load::ec2::Described {
            fn from(ni: NetworkInterface) -> Self {
                $crate::enrich::load::ec2::Described {
                    addrs: $crate::enrich::load::ec2::address_texts(
                        ni.private_ip_address,
                        ni.private_ip_addresses
                            .unwrap_or_default()
                            .into_iter()
                            .map(|p| p.private_ip_address),
                        ni.ipv6_addresses
                            .unwrap_or_default()
                            .into_iter()
                            .map(|p| p.ipv6_address),
                    ),
                    interface_type: ni.interface_type,
                    requester_id: ni.requester_id,
                    description: ni.description,
                    instance: ni.attachment.and_then(|a| a.instance_id).is_some(),
                    groups: ni
                        .groups
                        .map(|g| g.into_iter().filter_map(|g| g.group_id).collect()),
                    subnet_id: ni.subnet_id,
                    vpc_id: ni.vpc_id,
                }
            }
        }
    };
}
pub(crate) use eni_shape;

/// EC2's own spelling.
mod shape {
    eni_shape!("PascalCase");
}
pub(crate) use shape::NetworkInterface;

/// An ENI of `describe-network-interfaces` output that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Ec2Error {
    #[error("{0}: no NetworkInterfaceId")]
    NoId(String),
    #[error("{at}: {eni} has no address")]
    NoAddress { at: String, eni: String },
    #[error(transparent)]
    Address(#[from] BadAddress),
}

/// One ENI of `describe-network-interfaces` output.
pub(crate) fn network_interface(
    sink: &mut Sink,
    mut ni: NetworkInterface,
    at: &dyn Fn() -> String,
) -> Result<(), Ec2Error> {
    let id = ni
        .network_interface_id
        .take()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Ec2Error::NoId(at()))?;
    let mut described = Described::from(ni);
    // The snapshot lists every group of the ENI: none listed is none.
    described.groups.get_or_insert_with(Vec::new);
    let fact = described.fact(id, SourceKind::DescribeEnis, sink.origin(&at()), at)?;
    if fact.addrs.is_empty() {
        return Err(Ec2Error::NoAddress {
            at: at(),
            eni: fact.eni_id,
        });
    }
    sink.eni(fact);
    Ok(())
}

/// What EC2 says of an ENI, in any source (describe-network-interfaces, CloudTrail's
/// `CreateNetworkInterface` response, a Config item).
#[derive(Default)]
pub(crate) struct Described {
    pub interface_type: Option<String>,
    pub requester_id: Option<String>,
    pub description: Option<String>,
    /// Whether it is attached to an EC2 instance.
    pub instance: bool,
    /// Its addresses as text (primary, secondary and IPv6), as the source lists them.
    pub addrs: Vec<String>,
    pub groups: Option<Vec<String>>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
}

/// An ENI's addresses as a source lists them: the primary, the secondary ones and the
/// IPv6 ones (a source may repeat the primary among the secondary).
pub(crate) fn address_texts(
    primary: Option<String>,
    secondary: impl IntoIterator<Item = Option<String>>,
    ipv6: impl IntoIterator<Item = Option<String>>,
) -> Vec<String> {
    primary
        .into_iter()
        .chain(secondary.into_iter().flatten())
        .chain(ipv6.into_iter().flatten())
        .collect()
}

impl Described {
    /// The ENI fact: its kind, load balancer and task attachment from the
    /// description, and its addresses checked.
    pub(crate) fn fact(
        self,
        eni_id: String,
        source: SourceKind,
        origin: String,
        at: &dyn Fn() -> String,
    ) -> Result<EniFact, BadAddress> {
        let description = self.description.unwrap_or_default();
        let kind = classify(Ec2Says {
            interface_type: self.interface_type.as_deref().unwrap_or(""),
            requester_id: self.requester_id.as_deref().unwrap_or(""),
            description: &description,
            instance: self.instance,
        });
        let mut addrs = Vec::new();
        for text in self.addrs.iter().filter(|t| !t.is_empty()) {
            let ip = address(text, at, "address")?;
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
        Ok(EniFact {
            eni_id,
            kind: Some(kind),
            load_balancer: load_balancer_of(&description),
            attachment_id: ecs_attachment_of(&description).map(String::from),
            addrs,
            security_groups: self.groups,
            subnet_id: self.subnet_id,
            vpc_id: self.vpc_id,
            source,
            origin,
            ..EniFact::default()
        })
    }
}
