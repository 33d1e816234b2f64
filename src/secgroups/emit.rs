//! The review in words (stdout), and the proposed change as EC2 CLI `--cli-input-json`
//! documents and Terraform blocks.
//!
//! `emit(dir)` writes, per group with a change, `dir/<group id>/`:
//! `authorize-ingress.json`, `revoke-ingress.json`, `authorize-egress.json`,
//! `revoke-egress.json` (those with content), each the input of `aws ec2
//! authorize-security-group-ingress --cli-input-json file://...` (or `revoke-`,
//! `-egress`), and `main.tf` with one `aws_vpc_security_group_ingress_rule` /
//! `aws_vpc_security_group_egress_rule` per authorized rule (only the provider's
//! documented arguments: `security_group_id`, `ip_protocol`, `from_port`, `to_port`,
//! `cidr_ipv4`, `cidr_ipv6`, `prefix_list_id`, `referenced_security_group_id`,
//! `description`) and the revocations in a comment: Terraform cannot revoke a rule it
//! does not manage. Files are written whole (a temporary file renamed); files of these
//! names that a change no longer needs are removed, so a folder never mixes two runs.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::review::{GroupReview, Review, RuleReview, RuleStatus};
use super::{aws_protocol, Direction, Ports, SgRule, Source};
use crate::net::protocol_name;
use crate::text::printable;
use crate::time::rfc3339;

/// The files `emit` writes in a group's folder, sorted.
const FILES: [&str; 5] = [
    "authorize-egress.json",
    "authorize-ingress.json",
    "main.tf",
    "revoke-egress.json",
    "revoke-ingress.json",
];

impl Review {
    /// The review in words: one section per task security group.
    pub fn write_text(&self, w: &mut dyn Write) -> io::Result<()> {
        for (n, g) in self.groups.iter().enumerate() {
            if n > 0 {
                writeln!(w)?;
            }
            write_group(w, g)?;
        }
        for g in &self.missing_groups {
            if !self.groups.is_empty() {
                writeln!(w)?;
            }
            writeln!(
                w,
                "security group {}: not in the security groups given; its tasks' traffic is \
                 not judged",
                printable(g, false)
            )?;
        }
        Ok(())
    }

    /// Writes the proposed change of each group that has one under `dir` (see the
    /// module documentation); returns the paths written, sorted.
    pub fn emit(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for g in &self.groups {
            if g.proposal.is_empty() {
                continue;
            }
            let folder = dir.join(folder_name(&g.group_id)?);
            std::fs::create_dir_all(&folder)?;
            let mut docs: Vec<(&str, String)> = Vec::new();
            for direction in [Direction::Egress, Direction::Ingress] {
                let add: Vec<&SgRule> = g
                    .proposal
                    .authorize
                    .iter()
                    .map(|n| &n.rule)
                    .filter(|r| r.direction == direction)
                    .collect();
                let remove: Vec<&SgRule> = g
                    .proposal
                    .revoke
                    .iter()
                    .filter(|r| r.direction == direction)
                    .collect();
                for (verb, rules, described) in
                    [("authorize", add, true), ("revoke", remove, false)]
                {
                    if rules.is_empty() {
                        continue;
                    }
                    let doc = json!({
                        "GroupId": g.group_id,
                        "IpPermissions": rules
                            .iter()
                            .map(|r| ip_permission(r, described))
                            .collect::<Vec<_>>(),
                    });
                    let name = match (verb, direction) {
                        ("authorize", Direction::Egress) => "authorize-egress.json",
                        ("authorize", Direction::Ingress) => "authorize-ingress.json",
                        (_, Direction::Egress) => "revoke-egress.json",
                        (_, Direction::Ingress) => "revoke-ingress.json",
                    };
                    let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
                    docs.push((name, text + "\n"));
                }
            }
            docs.push(("main.tf", terraform(g)));
            for name in FILES {
                let path = folder.join(name);
                match docs.iter().find(|d| d.0 == name) {
                    Some((_, text)) => {
                        write_whole(&path, text.as_bytes())?;
                        written.push(path);
                    }
                    None => match std::fs::remove_file(&path) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                        _ => {}
                    },
                }
            }
        }
        written.sort();
        Ok(written)
    }
}

/// A group id as a folder name: letters, digits, `-` and `_` only (never `..` or a
/// separator, whatever the input says).
fn folder_name(id: &str) -> io::Result<&str> {
    if !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(id)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "security group id {:?} cannot name a folder",
                printable(id, false)
            ),
        ))
    }
}

/// Writes a file through a temporary file in its folder, renamed when complete.
fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let temp = path.with_file_name(format!(".{name}.tmp"));
    let result = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// One rule as AWS's `IpPermission`; `described` keeps its description.
fn ip_permission(r: &SgRule, described: bool) -> Value {
    let mut p = Map::new();
    p.insert("IpProtocol".into(), aws_protocol(r.protocol).into());
    if let Some((from, to)) = r.ports.from_to() {
        p.insert("FromPort".into(), from.into());
        p.insert("ToPort".into(), to.into());
    }
    let (list, key, value) = match &r.source {
        Source::Cidr(c) if c.is_v4() => ("IpRanges", "CidrIp", c.to_string()),
        Source::Cidr(c) => ("Ipv6Ranges", "CidrIpv6", c.to_string()),
        Source::PrefixList(id) => ("PrefixListIds", "PrefixListId", id.clone()),
        Source::Group(id) => ("UserIdGroupPairs", "GroupId", id.clone()),
    };
    let mut source = Map::new();
    source.insert(key.into(), value.into());
    if let (true, Some(d)) = (described, &r.description) {
        source.insert("Description".into(), d.clone().into());
    }
    p.insert(list.into(), Value::Array(vec![Value::Object(source)]));
    Value::Object(p)
}

/// A string in HCL's syntax: quoted, escaped, interpolation sequences doubled.
fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A resource name: letters, digits, `_` and `-`, starting with a letter.
fn resource_name(r: &SgRule, taken: &mut HashSet<String>) -> String {
    let mut base = format!("{}_{}", r.direction.word(), protocol_word(r.protocol));
    if let Ports::Range(a, b) = r.ports {
        base.push_str(&format!("_{a}"));
        if a != b {
            base.push_str(&format!("_{b}"));
        }
    }
    base.push('_');
    base.push_str(r.direction.preposition());
    base.push('_');
    base.extend(r.source.to_string().chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '-' {
            c
        } else {
            '_'
        }
    }));
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

fn protocol_word(p: i32) -> String {
    match p {
        -1 => "all".into(),
        p => protocol_name(p).map_or_else(|| format!("protocol_{p}"), String::from),
    }
}

/// The group's `main.tf`: a resource per authorized rule, the revocations in comments.
fn terraform(g: &GroupReview) -> String {
    let mut out = format!(
        "# Proposed by vpcflow for {} from the traffic observed {} to {}.\n",
        comment(&g.group_id),
        rfc3339(g.seen.first_seen.unwrap_or_default()),
        rfc3339(g.seen.last_seen.unwrap_or_default()),
    );
    let mut taken = HashSet::new();
    for n in &g.proposal.authorize {
        let r = &n.rule;
        let kind = match r.direction {
            Direction::Ingress => "aws_vpc_security_group_ingress_rule",
            Direction::Egress => "aws_vpc_security_group_egress_rule",
        };
        let mut attrs: Vec<(&str, String)> = vec![
            ("security_group_id", hcl_string(&r.group_id)),
            ("ip_protocol", hcl_string(&aws_protocol(r.protocol))),
        ];
        if let Some((from, to)) = r.ports.from_to() {
            attrs.push(("from_port", from.to_string()));
            attrs.push(("to_port", to.to_string()));
        }
        attrs.push(match &r.source {
            Source::Cidr(c) if c.is_v4() => ("cidr_ipv4", hcl_string(&c.to_string())),
            Source::Cidr(c) => ("cidr_ipv6", hcl_string(&c.to_string())),
            Source::PrefixList(id) => ("prefix_list_id", hcl_string(id)),
            Source::Group(id) => ("referenced_security_group_id", hcl_string(id)),
        });
        if let Some(d) = &r.description {
            attrs.push(("description", hcl_string(d)));
        }
        let width = attrs.iter().map(|a| a.0.len()).max().unwrap_or(0);
        out.push_str(&format!(
            "\nresource \"{kind}\" \"{}\" {{\n",
            resource_name(r, &mut taken)
        ));
        for (k, v) in attrs {
            out.push_str(&format!("  {k:<width$} = {v}\n"));
        }
        out.push_str("}\n");
    }
    if !g.proposal.revoke.is_empty() {
        out.push_str(
            "\n# Revoke these rules. Terraform cannot revoke a rule it does not manage: remove\n\
             # each from where it is defined (another module, the console, a script), or bring\n\
             # it under Terraform with `terraform import` of its sgr- id (shown where known)\n\
             # into an aws_vpc_security_group_ingress_rule/egress_rule and delete that block.\n",
        );
        for r in &g.proposal.revoke {
            out.push_str(&format!("#   {}\n", comment(&r.to_string())));
            if let Some(id) = &r.rule_id {
                let kind = match r.direction {
                    Direction::Ingress => "aws_vpc_security_group_ingress_rule",
                    Direction::Egress => "aws_vpc_security_group_egress_rule",
                };
                let name: String = id
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                out.push_str(&format!(
                    "#     terraform import {kind}.revoke_{name} {}\n",
                    comment(id)
                ));
            }
        }
    }
    out
}

/// Text for a `#` comment: on one line, control characters escaped.
fn comment(s: &str) -> String {
    printable(s, false).into_owned()
}

fn when(t: Option<i64>) -> String {
    t.map_or_else(|| "-".into(), rfc3339)
}

fn write_group(w: &mut dyn Write, g: &GroupReview) -> io::Result<()> {
    let name = g
        .group_name
        .as_deref()
        .map(|n| format!(" ({})", printable(n, false)))
        .unwrap_or_default();
    writeln!(w, "security group {}{name}", printable(&g.group_id, false))?;
    let owners: Vec<String> = g
        .owners
        .iter()
        .map(|o| printable(o, false).into_owned())
        .collect();
    writeln!(w, "  tasks: {}", owners.join("; "))?;
    let (first, last) = (when(g.seen.first_seen), when(g.seen.last_seen));
    writeln!(
        w,
        "  traffic judged: {} connections of {} interfaces, {first} to {last}",
        g.seen.connections,
        g.enis.len()
    )?;
    let of = |status: RuleStatus| g.rules.iter().filter(move |r| r.status == status);
    let unused: Vec<&RuleReview> = of(RuleStatus::Unused).collect();
    if !unused.is_empty() {
        writeln!(w, "  unused rules:")?;
        for r in unused {
            writeln!(
                w,
                "    {}: would have blocked nothing seen between {first} and {last}",
                r.rule
            )?;
        }
    }
    let not_judged: Vec<&RuleReview> = of(RuleStatus::NotJudged).collect();
    if !not_judged.is_empty() {
        writeln!(
            w,
            "  not judged (the prefix list's entries were not given):"
        )?;
        for r in not_judged {
            writeln!(w, "    {}", r.rule)?;
        }
    }
    let drifting: Vec<&RuleReview> = g.rules.iter().filter(|r| r.drifting).collect();
    if !drifting.is_empty() {
        writeln!(w, "  wider than the learned policy needs:")?;
        for r in drifting {
            let learned: Vec<String> = r
                .learned
                .iter()
                .map(|l| format!("{} ({} connections)", l.source, l.connections))
                .collect();
            writeln!(
                w,
                "    {}: its {} connections need only {}",
                r.rule,
                r.usage.connections,
                learned.join(", ")
            )?;
        }
    }
    let used: Vec<&RuleReview> = of(RuleStatus::Used).collect();
    if !used.is_empty() {
        writeln!(w, "  used rules:")?;
        for r in used {
            let blocks = if r.would_block.is_empty() {
                "removing it would block nothing seen (other rules admit the same)".to_string()
            } else {
                let b: Vec<String> = r
                    .would_block
                    .iter()
                    .map(|b| {
                        let port = if b.server_port > 0 {
                            format!(" {}", b.server_port)
                        } else {
                            String::new()
                        };
                        format!(
                            "{}{port} {} {} ({} connections)",
                            protocol_word(b.protocol),
                            r.rule.direction.preposition(),
                            b.source,
                            b.connections
                        )
                    })
                    .collect();
                format!("removing it would block {}", b.join(", "))
            };
            writeln!(
                w,
                "    {}: {} connections, {} bytes, {} to {}; {blocks}",
                r.rule,
                r.usage.connections,
                r.usage.bytes,
                when(r.usage.first_seen),
                when(r.usage.last_seen)
            )?;
        }
    }
    if g.proposal.is_empty() {
        writeln!(w, "  proposed change: none")?;
        return Ok(());
    }
    writeln!(w, "  proposed change:")?;
    for r in &g.rules {
        if r.revoked() {
            let why = if r.drifting {
                "wider than needed"
            } else {
                "unused"
            };
            writeln!(w, "    revoke {} ({why})", r.rule)?;
        }
    }
    for n in &g.proposal.authorize {
        writeln!(
            w,
            "    authorize {} ({} connections of {})",
            n.rule,
            n.usage.connections,
            n.owners
                .iter()
                .map(|o| printable(o, false).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_strings_escape_quotes_and_interpolation() {
        assert_eq!(
            hcl_string("a \"b\" \\ ${x} %{y} $z"),
            r#""a \"b\" \\ $${x} %%{y} $z""#
        );
        assert_eq!(hcl_string("line\nnext\u{1b}"), r#""line\nnext\u001b""#);
    }

    #[test]
    fn resource_names_are_identifiers_and_unique() {
        let r = SgRule {
            group_id: "sg-1".into(),
            rule_id: None,
            direction: Direction::Egress,
            protocol: 6,
            ports: Ports::Range(443, 443),
            source: Source::Cidr("2001:db8::/32".parse().unwrap()),
            description: None,
        };
        let mut taken = HashSet::new();
        assert_eq!(
            resource_name(&r, &mut taken),
            "egress_tcp_443_to_2001_db8___32"
        );
        assert_eq!(
            resource_name(&r, &mut taken),
            "egress_tcp_443_to_2001_db8___32_2"
        );
        let all = SgRule {
            protocol: -1,
            ports: Ports::All,
            source: Source::Group("sg-\u{1b}x".into()),
            ..r
        };
        // The escape text of a control character is no identifier character either.
        assert_eq!(resource_name(&all, &mut taken), "egress_all_to_sg-_u_1b_x");
    }

    #[test]
    fn group_ids_that_cannot_name_a_folder_are_refused() {
        assert!(folder_name("sg-0abc").is_ok());
        for bad in ["", "..", "sg/../x", "sg-1\u{0}"] {
            assert!(folder_name(bad).is_err(), "{bad:?}");
        }
    }
}
