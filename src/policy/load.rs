//! Reading a policy file: its keys as written (TOML, every unknown key refused with
//! its line) and their resolution into a [`Policy`] (`vpc` expanded, CIDR blocks
//! checked, command-line rules added, duplicate services refused).

use std::collections::HashSet;

use serde::Deserialize;

use super::{
    CommandLineRules, Of, Peers, Policy, PolicyError, Rule, RuleIndex, ServiceRule,
    DEFAULT_CLEARTEXT_PORTS,
};

/// What a `[[service]]` names: one of `name` and `family`, or not exactly one.
enum Named {
    One(String, Of),
    Neither,
    Both,
}
use crate::net::Cidr;

/// A policy file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    network: Network,
    defaults: Option<RuleFile>,
    #[serde(default)]
    service: Vec<ServiceFile>,
}

/// `[network]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Network {
    #[serde(default)]
    vpc_cidrs: Vec<String>,
    cleartext_ports: Option<Vec<u16>>,
}

/// Declares [`RuleFile`] (the keys of one rule, as written in `[defaults]`) and
/// [`ServiceFile`] (a `[[service]]`: `name`, `cluster` and the same keys) from one list
/// of keys. Not `#[serde(flatten)]`: with it serde loses the position and the list of
/// expected keys in "unknown field" messages, and `deny_unknown_fields` does not apply.
macro_rules! rule_keys {
    ($($(#[$attr:meta])* $key:ident: $ty:ty,)*) => {
        /// The keys of one rule, as written in `[defaults]` or a `[[service]]`. Absent
        /// `egress_to_*` keys (`None`) differ from empty lists: any of them present means
        /// the service's egress is audited.
        #[derive(Debug, Default, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RuleFile {
            $($(#[$attr])* $key: $ty,)*
        }

        /// A `[[service]]`: its name, its cluster if any, and its rule's keys.
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ServiceFile {
            name: Option<String>,
            family: Option<String>,
            cluster: Option<String>,
            $($(#[$attr])* $key: $ty,)*
        }

        impl ServiceFile {
            /// Its name (`name`, else `family`, with which), its cluster and its
            /// rule's keys.
            fn split(self) -> (Named, Option<String>, RuleFile) {
                let rule = RuleFile {
                    $($key: self.$key,)*
                };
                let named = match (self.name, self.family) {
                    (Some(n), None) => Named::One(n, Of::Service),
                    (None, Some(f)) => Named::One(f, Of::Family),
                    (None, None) => Named::Neither,
                    (Some(_), Some(_)) => Named::Both,
                };
                (named, self.cluster, rule)
            }
        }
    };
}

rule_keys! {
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    ingress_from_security_groups: Vec<String>,
    #[serde(default)]
    ingress_from_cidrs: Vec<String>,
    #[serde(default)]
    ingress_from_services: Vec<String>,
    #[serde(default)]
    ingress_from_load_balancers: Vec<String>,
    #[serde(default)]
    ingress_from_families: Vec<String>,
    egress_to_security_groups: Option<Vec<String>>,
    egress_to_cidrs: Option<Vec<String>>,
    egress_to_services: Option<Vec<String>>,
    egress_to_load_balancers: Option<Vec<String>>,
    egress_to_families: Option<Vec<String>>,
    egress_ports: Option<Vec<u16>>,
    #[serde(default)]
    require_encryption: bool,
    #[serde(default)]
    isolated: bool,
    #[serde(default)]
    private_aws_access: bool,
}

impl Policy {
    /// Parses and resolves a policy file. `vpc_cidrs` given on the command line take
    /// precedence over `[network]`; with neither, `vpc` means the private ranges.
    pub fn parse(
        name: &str,
        text: &str,
        vpc_cidrs: &[Cidr],
        extra: &CommandLineRules,
    ) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_string();
            let file = name.to_string();
            match e.span() {
                Some(span) => PolicyError::SyntaxAt {
                    file,
                    line: text[..span.start].matches('\n').count() + 1,
                    message,
                },
                None => PolicyError::Syntax { file, message },
            }
        })?;
        Policy::resolve(name, file, vpc_cidrs, extra)
    }

    /// The policy of the command-line rules alone (no policy file).
    pub fn from_command_line(
        vpc_cidrs: &[Cidr],
        extra: &CommandLineRules,
    ) -> Result<Policy, PolicyError> {
        Policy::resolve("command line", PolicyFile::default(), vpc_cidrs, extra)
    }

    fn resolve(
        name: &str,
        file: PolicyFile,
        cli_cidrs: &[Cidr],
        extra: &CommandLineRules,
    ) -> Result<Policy, PolicyError> {
        let file_name = || name.to_string();
        let vpc_cidrs = if cli_cidrs.is_empty() {
            file.network
                .vpc_cidrs
                .iter()
                .enumerate()
                .map(|(index, c)| {
                    Cidr::parse_strict(c).map_err(|error| PolicyError::VpcCidr {
                        file: file_name(),
                        index,
                        error: Box::new(error),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            cli_cidrs.to_vec()
        };
        let mut defaults = file.defaults;
        let mut service: Vec<(Named, Option<String>, RuleFile)> =
            file.service.into_iter().map(ServiceFile::split).collect();
        if !extra.is_empty() {
            if defaults.is_none() && service.is_empty() {
                defaults = Some(RuleFile::default());
            }
            for r in defaults
                .iter_mut()
                .chain(service.iter_mut().map(|s| &mut s.2))
            {
                r.ingress_from_security_groups
                    .extend(extra.security_groups.iter().cloned());
                r.ingress_from_cidrs.extend(extra.cidrs.iter().cloned());
                r.ingress_from_services
                    .extend(extra.services.iter().cloned());
            }
        }
        let resolver = Resolver {
            file: name,
            vpc: crate::enrich::vpc_cidrs_or_private(&vpc_cidrs),
        };
        let defaults = defaults
            .as_ref()
            .map(|d| resolver.rule(d, "defaults"))
            .transpose()?;
        let mut services: Vec<ServiceRule> = Vec::new();
        // (name, cluster) as written: a set, so that the check stays linear in the rules.
        let mut seen: HashSet<(&str, Of, Option<&str>)> = HashSet::new();
        for (index, (named, cluster, r)) in service.iter().enumerate() {
            let (service, of) = match named {
                Named::One(n, of) => (n, *of),
                Named::Neither | Named::Both => {
                    return Err(PolicyError::NameOrFamily {
                        file: file_name(),
                        index,
                        both: matches!(named, Named::Both),
                    })
                }
            };
            let at = match of {
                Of::Service => format!("service[{index}] ({service})"),
                Of::Family => format!("service[{index}] (family {service})"),
            };
            if service.is_empty() {
                return Err(PolicyError::EmptyName {
                    file: file_name(),
                    index,
                    key: of.key(),
                });
            }
            if !seen.insert((service.as_str(), of, cluster.as_deref())) {
                return Err(PolicyError::ListedTwice {
                    file: file_name(),
                    at,
                    service: service.clone(),
                });
            }
            services.push(ServiceRule {
                name: service.clone(),
                of,
                cluster: cluster.clone(),
                rule: resolver.rule(r, &at)?,
            });
        }
        Ok(Policy {
            vpc_cidrs,
            cleartext_ports: file
                .network
                .cleartext_ports
                .unwrap_or_else(|| DEFAULT_CLEARTEXT_PORTS.to_vec()),
            defaults,
            index: RuleIndex::of(&services),
            services,
        })
    }
}

/// What resolving a rule's keys needs: the file's name (for messages) and the blocks
/// that `vpc` stands for.
struct Resolver<'a> {
    file: &'a str,
    vpc: Vec<Cidr>,
}

impl Resolver<'_> {
    /// A CIDR list (`{at}.{key}`) with `vpc` expanded.
    fn cidrs(
        &self,
        entries: &[String],
        at: &str,
        key: &'static str,
    ) -> Result<Vec<Cidr>, PolicyError> {
        let mut cidrs = Vec::new();
        for (index, c) in entries.iter().enumerate() {
            if c == "vpc" {
                cidrs.extend(self.vpc.iter().copied());
            } else {
                cidrs.push(Cidr::parse_strict(c).map_err(|error| PolicyError::Cidr {
                    file: self.file.to_string(),
                    at: at.to_string(),
                    key,
                    index,
                    error: Box::new(error),
                })?);
            }
        }
        Ok(cidrs)
    }

    /// One rule's keys (`[defaults]` or the `[[service]]` at `at`), resolved.
    fn rule(&self, r: &RuleFile, at: &str) -> Result<Rule, PolicyError> {
        let egress_keys = r.egress_to_security_groups.is_some()
            || r.egress_to_cidrs.is_some()
            || r.egress_to_services.is_some()
            || r.egress_to_load_balancers.is_some()
            || r.egress_to_families.is_some();
        if r.egress_ports.is_some() && !egress_keys {
            return Err(PolicyError::EgressPortsAlone {
                file: self.file.to_string(),
                at: at.to_string(),
            });
        }
        let egress = if egress_keys {
            let cidr_names = r.egress_to_cidrs.clone().unwrap_or_default();
            Some(Peers {
                security_groups: r.egress_to_security_groups.clone().unwrap_or_default(),
                cidrs: self.cidrs(&cidr_names, at, "egress_to_cidrs")?,
                cidr_names,
                services: r.egress_to_services.clone().unwrap_or_default(),
                load_balancers: r.egress_to_load_balancers.clone().unwrap_or_default(),
                families: r.egress_to_families.clone().unwrap_or_default(),
            })
        } else {
            None
        };
        Ok(Rule {
            ports: r.ports.clone(),
            ingress: Peers {
                security_groups: r.ingress_from_security_groups.clone(),
                cidrs: self.cidrs(&r.ingress_from_cidrs, at, "ingress_from_cidrs")?,
                cidr_names: r.ingress_from_cidrs.clone(),
                services: r.ingress_from_services.clone(),
                load_balancers: r.ingress_from_load_balancers.clone(),
                families: r.ingress_from_families.clone(),
            },
            egress,
            egress_ports: r.egress_ports.clone(),
            require_encryption: r.require_encryption,
            isolated: r.isolated,
            private_aws_access: r.private_aws_access,
            baseline: None,
        })
    }
}
