//! Reading `describe-security-groups`, `describe-security-group-rules` and
//! `get-managed-prefix-list-entries` output, with the JSON path of every bad value.

use serde_json::{Map, Value};

use super::{Direction, GroupInfo, Ports, SecurityGroups, SgError, SgRule, Source};
use crate::net::{parse_protocol, Cidr};

/// Reads values of one file, naming the file in every error.
struct Reader<'a> {
    file: &'a str,
}

impl Reader<'_> {
    fn err(&self, path: &str, problem: impl Into<String>) -> SgError {
        SgError::Field {
            file: self.file.to_string(),
            path: path.to_string(),
            problem: problem.into(),
        }
    }

    fn object<'v>(&self, v: &'v Value, path: &str) -> Result<&'v Map<String, Value>, SgError> {
        v.as_object()
            .ok_or_else(|| self.err(path, format!("expected an object, found {}", kind(v))))
    }

    /// An array member; absent or null is empty.
    fn array<'v>(
        &self,
        o: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<&'v [Value], SgError> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(v) => Err(self.err(
                &join(path, key),
                format!("expected an array, found {}", kind(v)),
            )),
        }
    }

    /// A string member; absent or null is `None`.
    fn string<'v>(
        &self,
        o: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<Option<&'v str>, SgError> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.err(
                &join(path, key),
                format!("expected a string, found {}", kind(v)),
            )),
        }
    }

    fn required<'v>(
        &self,
        o: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<&'v str, SgError> {
        self.string(o, key, path)?
            .ok_or_else(|| self.err(&join(path, key), "missing"))
    }

    /// An integer member; absent or null is `None`.
    fn integer(
        &self,
        o: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<Option<i64>, SgError> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(v) => Err(self.err(
                &join(path, key),
                format!("expected an integer, found {}", short(v)),
            )),
        }
    }

    /// `IpProtocol`: `-1`, a name or a number.
    fn protocol(&self, o: &Map<String, Value>, path: &str) -> Result<i32, SgError> {
        let text = self.required(o, "IpProtocol", path)?;
        if text == "-1" || text.eq_ignore_ascii_case("all") {
            return Ok(-1);
        }
        parse_protocol(text).map_err(|_| {
            self.err(
                &format!("{path}.IpProtocol"),
                format!(
                    "{:?} is not a protocol (-1, tcp, udp, icmp, icmpv6 or 0-255)",
                    crate::text::printable(text, false)
                ),
            )
        })
    }

    /// `FromPort` and `ToPort` for the protocol.
    fn ports(&self, o: &Map<String, Value>, protocol: i32, path: &str) -> Result<Ports, SgError> {
        let from = self.integer(o, "FromPort", path)?;
        let to = self.integer(o, "ToPort", path)?;
        match protocol {
            6 | 17 => {
                let port = |v: Option<i64>, key: &str| {
                    let at = format!("{path}.{key}");
                    match v {
                        None => Err(self.err(&at, "missing (a TCP or UDP rule has a port range)")),
                        Some(p) => u16::try_from(p)
                            .map_err(|_| self.err(&at, format!("{p} is not a port (0-65535)"))),
                    }
                };
                let (a, b) = (port(from, "FromPort")?, port(to, "ToPort")?);
                if a > b {
                    return Err(self.err(
                        &format!("{path}.ToPort"),
                        format!("{b} is below FromPort {a}"),
                    ));
                }
                Ok(Ports::Range(a, b))
            }
            1 | 58 => {
                let icmp = |v: Option<i64>, key: &str, what: &str| {
                    let v = v.unwrap_or(-1);
                    i16::try_from(v)
                        .ok()
                        .filter(|v| (-1..=255).contains(v))
                        .ok_or_else(|| {
                            self.err(
                                &join(path, key),
                                format!("{v} is not an ICMP {what} (-1 for all, or 0-255)"),
                            )
                        })
                };
                Ok(Ports::Icmp {
                    kind: icmp(from, "FromPort", "type")?,
                    code: icmp(to, "ToPort", "code")?,
                })
            }
            _ => Ok(Ports::All),
        }
    }

    /// A block of the family the key says.
    fn cidr(&self, text: &str, v4: bool, path: &str) -> Result<Cidr, SgError> {
        let shown = crate::text::printable(text, false);
        let c: Cidr = text
            .parse()
            .map_err(|_| self.err(path, format!("{shown:?} is not a CIDR block")))?;
        if c.is_v4() != v4 {
            let family = if v4 { "IPv4" } else { "IPv6" };
            return Err(self.err(path, format!("{shown:?} is not an {family} block")));
        }
        Ok(c)
    }
}

/// A member's path: `path.key`, or `key` at the top.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A JSON value's kind, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A scalar as written, else its kind.
fn short(v: &Value) -> String {
    match v {
        Value::Number(_) | Value::Bool(_) => v.to_string(),
        Value::String(s) => format!("{:?}", crate::text::printable(s, false)),
        _ => kind(v).to_string(),
    }
}

fn json(file: &str, bytes: &[u8]) -> Result<Value, SgError> {
    serde_json::from_slice(bytes).map_err(|e| SgError::Json {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        problem: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or("")
            .to_string(),
    })
}

/// What a document of another shape looks like, from its top-level keys.
fn looks_like(v: &Value) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("NetworkInterfaces", "describe-network-interfaces output"),
        ("Reservations", "describe-instances output"),
        (
            "Entries",
            "get-managed-prefix-list-entries output (give it as a prefix list)",
        ),
        ("PrefixLists", "describe-managed-prefix-lists output"),
        ("Vpcs", "describe-vpcs output"),
        ("Subnets", "describe-subnets output"),
        ("LoadBalancers", "describe-load-balancers output"),
        ("tasks", "ecs describe-tasks output"),
        ("services", "ecs describe-services output"),
        ("Records", "a CloudTrail log file"),
        ("logEvents", "a CloudWatch Logs query's output"),
        ("events", "filter-log-events output"),
        ("prefixes", "AWS's ip-ranges.json"),
    ];
    let what = match v {
        Value::Object(o) => match KNOWN.iter().find(|(k, _)| o.contains_key(*k)) {
            Some((_, what)) => format!("this looks like {what}"),
            None if o.is_empty() => "this is an empty JSON object".to_string(),
            None => {
                let mut keys: Vec<String> = o
                    .keys()
                    .take(5)
                    .map(|k| format!("{:?}", crate::text::printable(k, false)))
                    .collect();
                if o.len() > 5 {
                    keys.push("...".into());
                }
                format!("this is a JSON object with {}", keys.join(", "))
            }
        },
        other => format!("this is {}, not an object", kind(other)),
    };
    format!(
        "{what}, not describe-security-groups output (an object with \"SecurityGroups\") \
         or describe-security-group-rules output (\"SecurityGroupRules\")"
    )
}

impl SecurityGroups {
    /// Reads `aws ec2 describe-security-groups` or `describe-security-group-rules`
    /// output; `name` names the file in errors.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<SecurityGroups, SgError> {
        let v = json(name, bytes)?;
        let r = Reader { file: name };
        let mut out = SecurityGroups::default();
        let o = v.as_object();
        if let Some(groups) = o.and_then(|o| o.get("SecurityGroups")) {
            let Value::Array(groups) = groups else {
                return Err(r.err(
                    "SecurityGroups",
                    format!("expected an array, found {}", kind(groups)),
                ));
            };
            for (i, g) in groups.iter().enumerate() {
                read_group(&r, g, &format!("SecurityGroups[{i}]"), &mut out)?;
            }
        } else if let Some(rules) = o.and_then(|o| o.get("SecurityGroupRules")) {
            let Value::Array(rules) = rules else {
                return Err(r.err(
                    "SecurityGroupRules",
                    format!("expected an array, found {}", kind(rules)),
                ));
            };
            for (i, rule) in rules.iter().enumerate() {
                let rule = read_rule(&r, rule, &format!("SecurityGroupRules[{i}]"))?;
                out.push_rule(rule);
            }
        } else {
            return Err(SgError::Shape {
                file: name.to_string(),
                looks: looks_like(&v),
            });
        }
        Ok(out)
    }

    /// Adds prefix lists' entries: `get-managed-prefix-list-entries` output in a file
    /// whose name holds the list's id, or an object mapping ids to such outputs (see the
    /// module documentation). A list given twice keeps the last entries.
    pub fn add_prefix_lists(&mut self, name: &str, bytes: &[u8]) -> Result<(), SgError> {
        let v = json(name, bytes)?;
        let r = Reader { file: name };
        let Value::Object(o) = &v else {
            return Err(SgError::Shape {
                file: name.to_string(),
                looks: format!(
                    "this is {}, not get-managed-prefix-list-entries output (an object with \
                     \"Entries\") or an object mapping prefix list ids to such outputs",
                    kind(&v)
                ),
            });
        };
        if o.contains_key("Entries") {
            let id = prefix_list_id(name).ok_or_else(|| SgError::PrefixListId {
                file: name.to_string(),
            })?;
            let entries = read_entries(&r, o, "")?;
            self.prefix_lists.insert(id.to_string(), entries);
            return Ok(());
        }
        if o.is_empty() || o.keys().any(|k| prefix_list_id(k) != Some(k.as_str())) {
            return Err(SgError::Shape {
                file: name.to_string(),
                looks: format!(
                    "{}, not get-managed-prefix-list-entries output (an object with \
                     \"Entries\", in a file named after the list: pl-0abc.json) or an object \
                     mapping prefix list ids to such outputs ({{\"pl-0abc\": {{\"Entries\": \
                     [...]}}}})",
                    looks_like(&v).split(", not describe").next().unwrap_or("")
                ),
            });
        }
        for (id, list) in o {
            let list = r.object(list, id)?;
            if !list.contains_key("Entries") {
                return Err(r.err(id, "missing \"Entries\""));
            }
            let entries = read_entries(&r, list, id)?;
            self.prefix_lists.insert(id.clone(), entries);
        }
        Ok(())
    }
}

/// The first `pl-` followed by hex digits in a text, when there is one.
fn prefix_list_id(text: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(at) = text[from..].find("pl-") {
        let start = from + at;
        let digits = text[start + 3..]
            .bytes()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if digits > 0 {
            return Some(&text[start..start + 3 + digits]);
        }
        from = start + 3;
    }
    None
}

fn read_entries(r: &Reader<'_>, o: &Map<String, Value>, path: &str) -> Result<Vec<Cidr>, SgError> {
    let mut out = Vec::new();
    for (i, e) in r.array(o, "Entries", path)?.iter().enumerate() {
        let p = join(path, &format!("Entries[{i}]"));
        let e = r.object(e, &p)?;
        let text = r.required(e, "Cidr", &p)?;
        let c: Cidr = text.parse().map_err(|_| {
            r.err(
                &format!("{p}.Cidr"),
                format!(
                    "{:?} is not a CIDR block",
                    crate::text::printable(text, false)
                ),
            )
        })?;
        out.push(c);
    }
    Ok(out)
}

/// One group of `describe-security-groups`: each permission's sources are rules.
fn read_group(
    r: &Reader<'_>,
    g: &Value,
    path: &str,
    out: &mut SecurityGroups,
) -> Result<(), SgError> {
    let o = r.object(g, path)?;
    let id = r.required(o, "GroupId", path)?.to_string();
    out.push_group(GroupInfo {
        id: id.clone(),
        name: r.string(o, "GroupName", path)?.map(String::from),
        vpc_id: r.string(o, "VpcId", path)?.map(String::from),
    });
    for (key, direction) in [
        ("IpPermissions", Direction::Ingress),
        ("IpPermissionsEgress", Direction::Egress),
    ] {
        for (j, p) in r.array(o, key, path)?.iter().enumerate() {
            let pp = format!("{path}.{key}[{j}]");
            let p = r.object(p, &pp)?;
            let protocol = r.protocol(p, &pp)?;
            let ports = r.ports(p, protocol, &pp)?;
            let mut push = |source: Source, description: Option<&str>| {
                out.push_rule(SgRule {
                    group_id: id.clone(),
                    rule_id: None,
                    direction,
                    protocol,
                    ports,
                    source,
                    description: description.map(String::from),
                })
            };
            const SOURCES: [(&str, &str); 4] = [
                ("IpRanges", "CidrIp"),
                ("Ipv6Ranges", "CidrIpv6"),
                ("PrefixListIds", "PrefixListId"),
                ("UserIdGroupPairs", "GroupId"),
            ];
            for (list, field) in SOURCES {
                for (k, s) in r.array(p, list, &pp)?.iter().enumerate() {
                    let sp = format!("{pp}.{list}[{k}]");
                    let s = r.object(s, &sp)?;
                    let text = r.required(s, field, &sp)?;
                    let source = match field {
                        "CidrIp" => Source::Cidr(r.cidr(text, true, &format!("{sp}.{field}"))?),
                        "CidrIpv6" => {
                            Source::Cidr(r.cidr(text, false, &format!("{sp}.{field}"))?)
                        }
                        "PrefixListId" => Source::PrefixList(text.to_string()),
                        _ => Source::Group(text.to_string()),
                    };
                    push(source, r.string(s, "Description", &sp)?);
                }
            }
        }
    }
    Ok(())
}

/// One rule of `describe-security-group-rules`.
fn read_rule(r: &Reader<'_>, v: &Value, path: &str) -> Result<SgRule, SgError> {
    let o = r.object(v, path)?;
    let group_id = r.required(o, "GroupId", path)?.to_string();
    let direction = match o.get("IsEgress") {
        Some(Value::Bool(true)) => Direction::Egress,
        Some(Value::Bool(false)) => Direction::Ingress,
        None | Some(Value::Null) => return Err(r.err(&format!("{path}.IsEgress"), "missing")),
        Some(v) => {
            return Err(r.err(
                &format!("{path}.IsEgress"),
                format!("expected true or false, found {}", short(v)),
            ))
        }
    };
    let protocol = r.protocol(o, path)?;
    let ports = r.ports(o, protocol, path)?;
    let mut sources = Vec::new();
    if let Some(t) = r.string(o, "CidrIpv4", path)? {
        sources.push(Source::Cidr(r.cidr(
            t,
            true,
            &format!("{path}.CidrIpv4"),
        )?));
    }
    if let Some(t) = r.string(o, "CidrIpv6", path)? {
        sources.push(Source::Cidr(r.cidr(
            t,
            false,
            &format!("{path}.CidrIpv6"),
        )?));
    }
    if let Some(t) = r.string(o, "PrefixListId", path)? {
        sources.push(Source::PrefixList(t.to_string()));
    }
    match o.get("ReferencedGroupInfo") {
        None | Some(Value::Null) => {}
        Some(g) => {
            let gp = format!("{path}.ReferencedGroupInfo");
            let g = r.object(g, &gp)?;
            sources.push(Source::Group(r.required(g, "GroupId", &gp)?.to_string()));
        }
    }
    if sources.len() != 1 {
        return Err(r.err(
            path,
            format!(
                "{} sources: a rule has exactly one of CidrIpv4, CidrIpv6, PrefixListId and \
                 ReferencedGroupInfo",
                sources.len()
            ),
        ));
    }
    Ok(SgRule {
        group_id,
        rule_id: r.string(o, "SecurityGroupRuleId", path)?.map(String::from),
        direction,
        protocol,
        ports,
        source: sources.remove(0),
        description: r.string(o, "Description", path)?.map(String::from),
    })
}
