//! Step 8 of the query, its second part: the reason of each finding, in the words of
//! the native audit (`Peers::describe`, `sg_owner` and the sentences of each rule), and
//! its severity.

use std::fmt::Write;

use super::{arms_else, rank, sev, Query};
use crate::enrich::PeerKind;
use crate::policy::audit::{Check, Severity};
use crate::policy::{Peers, Rule};

impl Query<'_> {
    /// `sg_owner`, `f3` and `f4`: what uses each security group the reasons name, the
    /// severity and the reason of each finding, and the worst severity of its service.
    pub(super) fn reasons(&self, w: &mut String) {
        let high = sev(Severity::High);
        let medium = sev(Severity::Medium);
        let low = sev(Severity::Low);
        let severity = format!(
            "CASE WHEN action = 'REJECT' THEN {low} WHEN rule_rank = {aws} THEN {medium} \
             WHEN p_kind = {internet} THEN {high} ELSE {medium} END",
            aws = rank(Check::PrivatelinkBypass),
            internet = self.peer_kind(PeerKind::Internet),
        );
        let reasons = arms_else(
            Check::ALL.map(|c| (rank(c).to_string(), self.reason(c))),
            "\n      ",
        );
        let _ = writeln!(
            w,
            "sg_owner AS (\n  {sg_owner}\n),\n\
             f3 AS (\n  SELECT f2.*, {severity} AS sev,\n    CASE rule_rank{reasons}\n    \
             END AS reason\n  FROM f2 CROSS JOIN sg_owner\n),\n\
             f4 AS (SELECT f3.*, MIN(sev) OVER (PARTITION BY service) AS worst FROM f3),",
            sg_owner = self.sg_owners(),
        );
    }

    /// The reason of a finding of a check, over the columns of `f2`.
    fn reason(&self, check: Check) -> String {
        let d = self.d;
        match check {
            Check::UnexpectedIngress => format!(
                "concat(peer_addr, ' is ', peer_words, CASE WHEN action = 'REJECT' THEN concat(' and tried to connect to', ports_text, ', rejected; ') \
                 ELSE concat(' and connected to', ports_text, '; ') END, who, ' ', {})",
                self.per_rule("rule_id", |r| self.describe_ingress(r), "''")
            ),
            Check::UnexpectedEgress => format!(
                "concat(who, ' ', {}, '; ', happened)",
                self.per_rule("rule_id", |r| self.describe_egress(r), "''")
            ),
            Check::Cleartext => format!(
                "concat(who, ' requires encryption in transit; ', happened, {})",
                "CASE WHEN ev_status = 1 AND ev_port = 0 THEN ' and the flow log marks it not encrypted (encryption-status 0)'\n      \
                 WHEN ev_status = 0 THEN ', a cleartext port, and the flow log does not say whether it was encrypted (no encryption-status)'\n      \
                 ELSE ' and the flow log marks it not encrypted (encryption-status 0; where the status is missing, the cleartext port decides)' END"
            ),
            Check::Isolation => {
                let own_cluster = format!(
                    "CASE WHEN cluster IS NOT NULL THEN concat('tasks of its cluster ', {}) ELSE 'tasks of its own cluster' END",
                    d.last_part("cluster")
                );
                let iso_lists = self.per_rule(
                    "rule_id",
                    |r| {
                        let lists = !r.ingress.is_empty()
                            || r.egress.as_ref().is_some_and(|e| !e.is_empty());
                        self.lit(if lists {
                            ", VPC endpoints and the peers its lists allow"
                        } else {
                            " and VPC endpoints"
                        })
                    },
                    "''",
                );
                format!(
                    "concat(who, ' is isolated and may talk only to ', {own_cluster}, {iso_lists}, '; ', happened)"
                )
            }
            Check::PrivatelinkBypass => format!(
                "concat(who, ' must reach AWS services only through VPC endpoints (PrivateLink); its task reached ', peer_addr, ' (', \
                 COALESCE(aws_service, 'AWS'), ', ', CASE WHEN ev_field = 1 THEN {} ELSE {} END, ')', \
                 CASE WHEN ports_text = '' THEN '' ELSE concat(' on', ports_text) END, ' over the internet instead')",
                d.lit("by the flow log's pkt-*-aws-service field"),
                d.lit("by AWS's ip-ranges.json")
            ),
            Check::NewPeer => format!(
                "concat(who, ' has a peer its baseline does not know: ', happened, '; ', {})",
                self.per_rule("rule_id", |r| self.describe_baseline(r), "''")
            ),
        }
    }

    /// The row of `sg_owner`: column `o{i}` says what uses the `i`th security group
    /// the reasons name (`sg_owner` of the policy, from the same table of words).
    fn sg_owners(&self) -> String {
        let d = self.d;
        let mut owner_label =
            String::from("CASE WHEN service IS NOT NULL THEN concat('tasks of ', service)");
        for k in PeerKind::eni_kinds() {
            let _ = write!(
                owner_label,
                " WHEN kind = {} THEN {}",
                self.lit(k.as_str()),
                self.lit(k.words().owners)
            );
        }
        owner_label += " ELSE 'other ENIs' END";
        let owners: Vec<String> = self
            .sgs
            .iter()
            .enumerate()
            .map(|(i, sg)| {
                let label = &owner_label;
                let has = d.position("concat(';', sgs, ';')", &self.lit(&format!(";{sg};")));
                format!(
                    "{} AS o{i}",
                    d.agg_sorted_text(&format!("CASE WHEN {has} > 0 THEN {label} END"))
                )
            })
            .collect();
        if owners.is_empty() {
            "SELECT 1 AS nothing".to_string()
        } else {
            format!("SELECT {} FROM m0", owners.join(",\n    "))
        }
    }

    /// `sg-0abc (ALB)`: the security group and what uses it, from the map table.
    fn sg_text(&self, sg: &str) -> String {
        let i = self.sg_index(sg);
        format!(
            "concat({}, CASE WHEN o{i} IS NULL THEN '' ELSE concat(' (', o{i}, ')') END)",
            self.lit(sg)
        )
    }

    fn sg_index(&self, sg: &str) -> usize {
        self.sgs.iter().position(|s| s == sg).unwrap_or(usize::MAX)
    }

    /// `Peers::describe`, as an SQL expression.
    fn describe_peers(&self, p: &Peers) -> String {
        // Parts: each a list of SQL expressions joined as a sentence list.
        let list = |items: Vec<String>| -> String {
            match items.len() {
                0 => "''".into(),
                1 => items[0].clone(),
                n => format!(
                    "concat({}, ' and ', {})",
                    items[..n - 1].join(", ', ', "),
                    items[n - 1]
                ),
            }
        };
        let mut parts: Vec<(String, bool)> = Vec::new();
        // `what` (plural for more than one), then the items as a sentence list.
        let mut group = |what: &str, items: Vec<String>| {
            if items.is_empty() {
                return;
            }
            let many = items.len() > 1;
            let plural = if many { "s" } else { "" };
            parts.push((format!("concat('{what}{plural} ', {})", list(items)), many));
        };
        group(
            "security group",
            p.security_groups.iter().map(|s| self.sg_text(s)).collect(),
        );
        group("service", p.services.iter().map(|s| self.lit(s)).collect());
        group(
            "load balancer",
            p.load_balancers.iter().map(|s| self.lit(s)).collect(),
        );
        if !p.families.is_empty() {
            let many = p.families.len() > 1;
            let names: Vec<String> = p.families.iter().map(|s| self.lit(s)).collect();
            let what = if many { "task families" } else { "task family" };
            parts.push((format!("concat('{what} ', {})", list(names)), many));
        }
        for c in &p.cidr_names {
            let text = if c == "vpc" { "the VPC" } else { c.as_str() };
            parts.push((self.lit(text), text.contains(" and ")));
        }
        let any_and = parts.iter().any(|(_, and)| *and);
        let exprs: Vec<String> = parts.into_iter().map(|(e, _)| e).collect();
        if exprs.len() > 1 && any_and {
            let n = exprs.len();
            format!(
                "concat({}, ', and ', {})",
                exprs[..n - 1].join(", ', ', "),
                exprs[n - 1]
            )
        } else {
            list(exprs)
        }
    }

    /// What a rule's baseline admits (`NewPeer::reason`), as an SQL expression.
    fn describe_baseline(&self, r: &Rule) -> String {
        let Some(b) = r.baseline.as_deref() else {
            return "''".into();
        };
        let egress = b.egress.as_ref().filter(|e| !e.is_empty());
        let mut lists = Vec::new();
        if !b.ingress.is_empty() {
            lists.push(format!(
                "concat('admits inbound only ', {})",
                self.describe_peers(&b.ingress)
            ));
        }
        if let Some(e) = egress {
            lists.push(format!(
                "concat('reaches only ', {})",
                self.describe_peers(e)
            ));
        }
        match lists.as_slice() {
            [] => self.lit("its baseline has no rule for it, or one that admits no one"),
            [one] => format!("concat('its baseline ', {one})"),
            [a, b] => format!("concat('its baseline ', {a}, ' and ', {b})"),
            _ => unreachable!("two lists at most"),
        }
    }

    fn describe_ingress(&self, r: &Rule) -> String {
        if r.admits_nobody() {
            return self.lit("admits no inbound connections");
        }
        format!(
            "concat('admits only ', {})",
            self.describe_peers(&r.ingress)
        )
    }

    fn describe_egress(&self, r: &Rule) -> String {
        match &r.egress {
            Some(e) if !e.is_empty() => {
                let ports = r.egress_ports.as_ref().map_or(String::new(), |p| {
                    let plural = if p.len() == 1 { "" } else { "s" };
                    let items: Vec<String> = p.iter().map(u16::to_string).collect();
                    let text = match items.len() {
                        0 => String::new(),
                        1 => items[0].clone(),
                        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
                    };
                    format!(", on port{plural} {text}")
                });
                format!(
                    "concat('may open connections only to ', {}, {})",
                    self.describe_peers(e),
                    self.lit(&ports)
                )
            }
            _ => self.lit("may open no outbound connections"),
        }
    }

    /// Notes every security group the reasons name (before the query is written).
    pub(super) fn collect_sgs(&mut self) {
        let mut sgs: Vec<String> = Vec::new();
        for r in &self.rules {
            let baseline = r.rule.baseline.as_deref();
            let lists = std::iter::once(&r.rule.ingress)
                .chain(r.rule.egress.as_ref())
                .chain(baseline.map(|b| &b.ingress))
                .chain(baseline.and_then(|b| b.egress.as_ref()));
            for p in lists {
                for sg in &p.security_groups {
                    if !sgs.contains(sg) {
                        sgs.push(sg.clone());
                    }
                }
            }
        }
        self.sgs = sgs;
    }
}
