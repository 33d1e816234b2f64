//! What can be wrong with a policy: its file, or its names against the ENI map. Each
//! message names the file, the rule (`service[2] (web)`) and the key.

use crate::net::NetError;

/// A policy that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The TOML does not parse, or has an unknown key or a value of the wrong type.
    #[error("{file}:{line}: {message}")]
    SyntaxAt {
        file: String,
        line: usize,
        message: String,
    },
    /// As [`PolicyError::SyntaxAt`], where TOML gives no position.
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: network.vpc_cidrs[{index}]: {error}")]
    VpcCidr {
        file: String,
        index: usize,
        error: Box<NetError>,
    },
    /// An entry of a CIDR list (`ingress_from_cidrs`, `egress_to_cidrs`).
    #[error("{file}: {at}.{key}[{index}]: {error} (or \"vpc\")")]
    Cidr {
        file: String,
        at: String,
        key: &'static str,
        index: usize,
        error: Box<NetError>,
    },
    #[error(
        "{file}: {at}.egress_ports: given without any egress_to_* list, so no egress is \
         audited (add egress_to_cidrs, egress_to_security_groups or egress_to_services)"
    )]
    EgressPortsAlone { file: String, at: String },
    #[error("{file}: service[{index}].{key} is empty")]
    EmptyName {
        file: String,
        index: usize,
        key: &'static str,
    },
    /// A `[[service]]` with neither `name` nor `family`, or with both.
    #[error(
        "{file}: service[{index}]: {}",
        if *both {
            "gives both name and family; a rule is for a service (name) or for the tasks of \
             a task definition family outside any service (family), not both"
        } else {
            "missing name (the ECS service) or family (a task definition family, for tasks \
             outside any service)"
        }
    )]
    NameOrFamily {
        file: String,
        index: usize,
        both: bool,
    },
    #[error("{file}: {at}: service {service} is listed twice")]
    ListedTwice {
        file: String,
        at: String,
        service: String,
    },
    #[error(
        "{file}: {at}.isolated: without --map nothing says which cluster a peer's task \
         belongs to, or which peer is a VPC endpoint; give the ENI map with --map"
    )]
    IsolatedWithoutMap { file: String, at: String },
    /// A list by security group, service or load balancer (`{dir}_{key}`), without a map.
    #[error(
        "{file}: {at}.{dir}_{key}: without --map nothing says which security groups, \
         service or load balancer a peer belongs to; give the ENI map with --map"
    )]
    PeersWithoutMap {
        file: String,
        at: String,
        dir: &'static str,
        key: &'static str,
    },
    #[error("{file}: {at}: the map has no task of service {service:?} (known: {known})")]
    UnknownService {
        file: String,
        at: String,
        service: String,
        known: String,
    },
    #[error(
        "{file}: {at}.{dir}_security_groups: {group} is not a security group of any ENI in \
         the map"
    )]
    UnknownGroup {
        file: String,
        at: String,
        dir: &'static str,
        group: String,
    },
    #[error("{file}: {at}: the map has no task of family {family:?} (known: {known})")]
    UnknownFamily {
        file: String,
        at: String,
        family: String,
        known: String,
    },
    #[error("{file}: {at}.{dir}_families: the map has no task of family {family:?}")]
    UnknownPeerFamily {
        file: String,
        at: String,
        dir: &'static str,
        family: String,
    },
    #[error("{file}: {at}.{dir}_services: the map has no task of service {service:?}")]
    UnknownPeerService {
        file: String,
        at: String,
        dir: &'static str,
        service: String,
    },
    #[error(
        "{file}: {at}.{dir}_load_balancers: the map has no ENI of load balancer {balancer:?} \
         (known: {known}; a load balancer is named as in its ENIs' description, ELB \
         app/NAME/ID: app/NAME)"
    )]
    UnknownLoadBalancer {
        file: String,
        at: String,
        dir: &'static str,
        balancer: String,
        known: String,
    },
}
