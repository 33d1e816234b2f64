//! A policy checked against the ENI map: every service and security group it names must
//! be known, so that a typo does not silently admit no one.

use super::{Of, Peers, Policy, PolicyError, Rule};
use crate::enrich::EniMap;

/// A rule's peer lists with the prefix of their keys (`ingress_from`, `egress_to`).
fn lists(r: &Rule) -> impl Iterator<Item = (&'static str, &Peers)> {
    std::iter::once(("ingress_from", &r.ingress)).chain(r.egress.iter().map(|e| ("egress_to", e)))
}

impl Policy {
    /// Checks that every service and security group the policy names is known to the
    /// map (when the map knows any), so that a typo does not silently admit no one.
    ///
    /// Without a map (records attributed from their v7 ECS fields only), service names
    /// cannot be checked, and rules that admit peers by security group or by service
    /// cannot be evaluated at all: nothing says which groups or which service a peer's
    /// address belongs to. Such a rule is an error rather than a silent "admits no one".
    pub fn check_against(&self, name: &str, map: &EniMap) -> Result<(), PolicyError> {
        let file = || name.to_string();
        // Every rule with where it is in the file, for messages.
        let rules: Vec<(String, &Rule)> = self
            .defaults
            .iter()
            .map(|d| ("defaults".to_string(), d))
            .chain(
                self.services
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (format!("service[{i}] ({})", s.name), &s.rule)),
            )
            .collect();
        if map.is_empty() {
            return without_map(name, &rules);
        }
        // Sorted lists: each name the policy gives is found by binary search, so that
        // checking a large policy against a large map is not their product.
        let services = map.known_services();
        let groups = map.known_security_groups();
        let balancers = map.known_load_balancers();
        let families = map.known_families();
        let known = |list: &[&str], x: &str| list.binary_search(&x).is_ok();
        // Task ENIs whose task no source names may be any service's: a service the map
        // does not name is then not a typo, and the audit says what it could not judge.
        let unnamed = map
            .holders()
            .iter()
            .any(|h| h.kind == crate::enrich::PeerKind::Task && h.task_arn.is_none());
        for (at, s) in rules
            .iter()
            .skip(self.defaults.iter().count())
            .zip(&self.services)
        {
            if s.of == Of::Family {
                if !known(&families, &s.name) && !unnamed {
                    return Err(PolicyError::UnknownFamily {
                        file: file(),
                        at: at.0.clone(),
                        family: s.name.clone(),
                        known: families.join(", "),
                    });
                }
            } else if !known(&services, &s.name) && !unnamed {
                return Err(PolicyError::UnknownService {
                    file: file(),
                    at: at.0.clone(),
                    service: s.name.clone(),
                    known: services.join(", "),
                });
            }
        }
        for (at, r) in &rules {
            for (dir, peers) in lists(r) {
                let at = || at.clone();
                if let Some(sg) = peers.security_groups.iter().find(|sg| !known(&groups, sg)) {
                    return Err(PolicyError::UnknownGroup {
                        file: file(),
                        at: at(),
                        dir,
                        group: sg.clone(),
                    });
                }
                if let Some(s) = peers
                    .services
                    .iter()
                    .find(|s| !known(&services, s) && !unnamed)
                {
                    return Err(PolicyError::UnknownPeerService {
                        file: file(),
                        at: at(),
                        dir,
                        service: s.clone(),
                    });
                }
                if let Some(f) = peers
                    .families
                    .iter()
                    .find(|f| !known(&families, f) && !unnamed)
                {
                    return Err(PolicyError::UnknownPeerFamily {
                        file: file(),
                        at: at(),
                        dir,
                        family: f.clone(),
                    });
                }
                if let Some(lb) = peers
                    .load_balancers
                    .iter()
                    .find(|lb| !known(&balancers, lb))
                {
                    return Err(PolicyError::UnknownLoadBalancer {
                        file: file(),
                        at: at(),
                        dir,
                        balancer: lb.clone(),
                        known: if balancers.is_empty() {
                            "none".to_string()
                        } else {
                            balancers.join(", ")
                        },
                    });
                }
            }
        }
        Ok(())
    }
}

/// Without a map: a rule that needs one to be judged (isolation, lists by security
/// group, service or load balancer) is an error rather than a silent "admits no one".
fn without_map(name: &str, rules: &[(String, &Rule)]) -> Result<(), PolicyError> {
    let file = || name.to_string();
    for (at, r) in rules {
        if r.isolated {
            return Err(PolicyError::IsolatedWithoutMap {
                file: file(),
                at: at.clone(),
            });
        }
        for (dir, peers) in lists(r) {
            let key = if !peers.security_groups.is_empty() {
                "security_groups"
            } else if !peers.services.is_empty() {
                "services"
            } else if !peers.load_balancers.is_empty() {
                "load_balancers"
            } else if !peers.families.is_empty() {
                "families"
            } else {
                continue;
            };
            return Err(PolicyError::PeersWithoutMap {
                file: file(),
                at: at.clone(),
                dir,
                key,
            });
        }
    }
    Ok(())
}
