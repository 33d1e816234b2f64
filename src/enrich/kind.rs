//! What an ENI or a peer is: one typed vocabulary and one table of its words.
//!
//! Every place that names a kind (the map CSV, the `eni_kind`/`peer_kind` columns, the
//! audit's reasons, `query --peer-kind`, the report's groups and the SQL mirror) reads
//! it from [`PeerKind`] and [`PeerKind::words`]; nothing matches on the names as text.
//!
//! The kind of an ENI comes from what EC2 says about it (`InterfaceType`, `RequesterId`,
//! `Description`), as AWS documents them; see [`classify`].

/// The kind of an ENI the map knows (`task` ... `other`), or of an address it does not
/// (`vpc`, `internet`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerKind {
    Task,
    Alb,
    Nlb,
    Gwlb,
    /// A classic load balancer.
    Elb,
    Natgw,
    /// An interface VPC endpoint (PrivateLink).
    Vpce,
    /// A Gateway Load Balancer endpoint.
    Gwlbe,
    Rds,
    Lambda,
    /// An EFS mount target.
    Efs,
    /// A transit gateway attachment.
    Tgw,
    Instance,
    Other,
    /// An address no map file knows, inside the VPC CIDRs.
    Vpc,
    /// An address outside the VPC CIDRs.
    Internet,
}

/// How the report colours and groups a kind of peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerClass {
    Internet,
    /// Addresses inside the VPC that are no task, load balancer or endpoint: instances,
    /// NAT gateways, databases, other ENIs and addresses no map file knows.
    Vpc,
    LoadBalancer,
    Task,
    Endpoint,
}

/// The words of one kind.
#[derive(Clone, Copy, Debug)]
pub struct Words {
    /// The name in the map CSV, the columns and on the command line.
    pub name: &'static str,
    /// The peer in a finding's reason, before its ENI: "an RDS database".
    pub a: &'static str,
    /// What the ENIs of a security group are, when they belong to no service: "RDS
    /// databases".
    pub owners: &'static str,
    /// The label of a group of such peers in the report: "RDS db-1".
    pub label: &'static str,
    pub class: PeerClass,
}

const fn w(
    name: &'static str,
    a: &'static str,
    owners: &'static str,
    label: &'static str,
    class: PeerClass,
) -> Words {
    Words {
        name,
        a,
        owners,
        label,
        class,
    }
}

/// One row per kind, in the order of [`PeerKind::ALL`].
const WORDS: [Words; 16] = [
    w("task", "a task", "tasks", "task", PeerClass::Task),
    w(
        "alb",
        "a load balancer (ALB) address",
        "ALB",
        "ALB",
        PeerClass::LoadBalancer,
    ),
    w(
        "nlb",
        "a load balancer (NLB) address",
        "NLB",
        "NLB",
        PeerClass::LoadBalancer,
    ),
    w(
        "gwlb",
        "a Gateway Load Balancer address",
        "Gateway Load Balancer",
        "GWLB",
        PeerClass::LoadBalancer,
    ),
    w(
        "elb",
        "a classic load balancer address",
        "classic load balancer",
        "ELB",
        PeerClass::LoadBalancer,
    ),
    w(
        "natgw",
        "a NAT gateway",
        "NAT gateway",
        "via NAT",
        PeerClass::Vpc,
    ),
    w(
        "vpce",
        "a VPC endpoint",
        "VPC endpoint",
        "endpoint",
        PeerClass::Endpoint,
    ),
    w(
        "gwlbe",
        "a Gateway Load Balancer endpoint",
        "Gateway Load Balancer endpoint",
        "GWLB endpoint",
        PeerClass::Endpoint,
    ),
    w(
        "rds",
        "an RDS database",
        "RDS databases",
        "RDS",
        PeerClass::Vpc,
    ),
    w(
        "lambda",
        "a Lambda function",
        "Lambda functions",
        "Lambda",
        PeerClass::Vpc,
    ),
    w(
        "efs",
        "an EFS mount target",
        "EFS mount targets",
        "EFS",
        PeerClass::Vpc,
    ),
    w(
        "tgw",
        "a transit gateway attachment",
        "transit gateway attachments",
        "TGW",
        PeerClass::Vpc,
    ),
    w(
        "instance",
        "an EC2 instance",
        "EC2 instances",
        "instance",
        PeerClass::Vpc,
    ),
    w("other", "ENI", "other ENIs", "ENI", PeerClass::Vpc),
    w(
        "vpc",
        "an address in the VPC that no map file knows",
        "",
        "VPC",
        PeerClass::Vpc,
    ),
    w(
        "internet",
        "an internet address",
        "",
        "",
        PeerClass::Internet,
    ),
];

impl PeerKind {
    /// Every kind, ENI kinds first, then `vpc` and `internet`.
    pub const ALL: [PeerKind; 16] = [
        PeerKind::Task,
        PeerKind::Alb,
        PeerKind::Nlb,
        PeerKind::Gwlb,
        PeerKind::Elb,
        PeerKind::Natgw,
        PeerKind::Vpce,
        PeerKind::Gwlbe,
        PeerKind::Rds,
        PeerKind::Lambda,
        PeerKind::Efs,
        PeerKind::Tgw,
        PeerKind::Instance,
        PeerKind::Other,
        PeerKind::Vpc,
        PeerKind::Internet,
    ];

    /// The kinds an ENI of the map can have (all but `vpc` and `internet`).
    pub fn eni_kinds() -> &'static [PeerKind] {
        &Self::ALL[..14]
    }

    pub fn words(self) -> &'static Words {
        &WORDS[self as usize]
    }

    /// The name used in the map CSV and in the `eni_kind`/`peer_kind` columns.
    pub fn as_str(self) -> &'static str {
        self.words().name
    }

    /// Any kind by its name (`vpc` and `internet` too).
    pub fn parse(s: &str) -> Option<PeerKind> {
        PeerKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// An ENI kind by its name, as a map CSV writes it.
    pub fn parse_eni(s: &str) -> Option<PeerKind> {
        PeerKind::parse(s).filter(|k| k.is_eni())
    }

    /// The names of the ENI kinds, for messages: "task, alb, ..., other".
    pub fn eni_names() -> String {
        let names: Vec<&str> = Self::eni_kinds().iter().map(|k| k.as_str()).collect();
        names.join(", ")
    }

    /// Whether it is a kind of ENI (not `vpc` or `internet`).
    pub fn is_eni(self) -> bool {
        !matches!(self, PeerKind::Vpc | PeerKind::Internet)
    }

    /// Whether it stands for a group of addresses rather than an ENI.
    pub fn is_address_group(self) -> bool {
        !self.is_eni()
    }

    pub fn is_load_balancer(self) -> bool {
        self.words().class == PeerClass::LoadBalancer
    }

    pub fn class(self) -> PeerClass {
        self.words().class
    }
}

impl std::fmt::Display for PeerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PeerClass {
    /// The class of a `peer_kind` value (an unknown value counts as the VPC's).
    pub fn of(peer_kind: &str) -> PeerClass {
        PeerKind::parse(peer_kind).map_or(PeerClass::Vpc, PeerKind::class)
    }

    pub const ALL: [PeerClass; 5] = [
        PeerClass::Internet,
        PeerClass::Vpc,
        PeerClass::LoadBalancer,
        PeerClass::Task,
        PeerClass::Endpoint,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PeerClass::Internet => "internet",
            PeerClass::Vpc => "VPC",
            PeerClass::LoadBalancer => "load balancer",
            PeerClass::Task => "task",
            PeerClass::Endpoint => "endpoint",
        }
    }

    /// The CSS class of its colour.
    pub fn css(self) -> &'static str {
        match self {
            PeerClass::Internet => "k-internet",
            PeerClass::Vpc => "k-vpc",
            PeerClass::LoadBalancer => "k-lb",
            PeerClass::Task => "k-task",
            PeerClass::Endpoint => "k-vpce",
        }
    }
}

/// What EC2 says about an ENI, as `describe-network-interfaces`, CloudTrail and Config
/// print it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ec2Says<'a> {
    pub interface_type: &'a str,
    pub requester_id: &'a str,
    pub description: &'a str,
    /// Whether it is attached to an EC2 instance.
    pub instance: bool,
}

/// The kind of an ENI from what EC2 says about it.
///
/// `InterfaceType` decides where AWS gives the service a type of its own; otherwise the
/// `Description` the managing service writes (`ELB app/<name>/<id>`, `RDSNetworkInterface`,
/// `AWS Lambda VPC ENI-...`, `EFS mount target for fs-...`,
/// `arn:aws:ecs:<region>:<account>:attachment/<uuid>`), then the `RequesterId` (`amazon-rds`,
/// `amazon-elb`), then an instance attachment.
pub fn classify(says: Ec2Says) -> PeerKind {
    use PeerKind::*;
    match says.interface_type {
        "network_load_balancer" => return Nlb,
        "gateway_load_balancer" => return Gwlb,
        "gateway_load_balancer_endpoint" => return Gwlbe,
        "nat_gateway" | "natGateway" => return Natgw,
        "vpc_endpoint" => return Vpce,
        "lambda" => return Lambda,
        "transit_gateway" => return Tgw,
        "branch" => return Task,
        _ => {}
    }
    let d = says.description;
    if let Some(lb) = d.strip_prefix("ELB ") {
        return match lb.split('/').next() {
            Some("app") => Alb,
            Some("net") => Nlb,
            Some("gwy") => Gwlb,
            _ => Elb,
        };
    }
    let prefixes: [(&str, PeerKind); 7] = [
        ("Interface for NAT Gateway", Natgw),
        ("VPC Endpoint Interface", Vpce),
        ("RDSNetworkInterface", Rds),
        ("AWS Lambda VPC ENI", Lambda),
        ("EFS mount target", Efs),
        ("Network Interface for Transit Gateway Attachment", Tgw),
        ("arn:aws:ecs:", Task),
    ];
    for (p, k) in prefixes {
        if d.starts_with(p) && (k != Task || d.contains(":attachment/")) {
            return k;
        }
    }
    match says.requester_id {
        "amazon-rds" => return Rds,
        "amazon-elb" => return Elb,
        "amazon-elasticfilesystem" => return Efs,
        _ => {}
    }
    if says.instance {
        Instance
    } else {
        Other
    }
}

/// The load balancer an ENI belongs to, from its description: `ELB app/web-alb/50dc...`
/// is `app/web-alb`; a classic one, `ELB my-lb`, is `my-lb`.
pub fn load_balancer_of(description: &str) -> Option<String> {
    let rest = description.strip_prefix("ELB ")?.trim();
    let mut parts = rest.split('/');
    let first = parts.next().filter(|s| !s.is_empty())?;
    match (first, parts.next()) {
        ("app" | "net" | "gwy", Some(name)) if !name.is_empty() => Some(format!("{first}/{name}")),
        (_, None) => Some(first.to_string()),
        _ => None,
    }
}

/// The ENI attachment id of an ECS task ENI, from its description
/// (`arn:aws:ecs:<region>:<account>:attachment/<uuid>`).
pub fn ecs_attachment_of(description: &str) -> Option<&str> {
    if !description.starts_with("arn:aws") {
        return None;
    }
    description
        .split_once(":attachment/")
        .map(|(_, id)| id)
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(interface_type: &str, requester_id: &str, description: &str) -> PeerKind {
        classify(Ec2Says {
            interface_type,
            requester_id,
            description,
            instance: false,
        })
    }

    #[test]
    fn every_kind_has_its_row() {
        for k in PeerKind::ALL {
            assert_eq!(PeerKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(PeerKind::parse_eni("vpc"), None);
        assert_eq!(PeerKind::parse_eni("rds"), Some(PeerKind::Rds));
    }

    #[test]
    fn kinds_as_aws_documents_them() {
        use PeerKind::*;
        // Rows of one table (interface type, requester, description, kind); two of them
        // are long enough for rustfmt to spread over lines, hence alike in shape.
        let cases = [
            (
                "interface",
                "amazon-elb",
                "ELB app/web-alb/50dc6c495c0c9188",
                Alb,
            ),
            ("network_load_balancer", "", "ELB net/api/1", Nlb),
            ("interface", "", "ELB net/api/1", Nlb),
            ("gateway_load_balancer", "", "ELB gwy/fw/1", Gwlb),
            ("interface", "amazon-elb", "ELB my-classic-lb", Elb),
            ("nat_gateway", "", "Interface for NAT Gateway nat-1", Natgw),
            ("vpc_endpoint", "", "VPC Endpoint Interface vpce-1", Vpce),
            ("gateway_load_balancer_endpoint", "", "", Gwlbe),
            ("interface", "amazon-rds", "RDSNetworkInterface", Rds),
            ("interface", "amazon-rds", "", Rds),
            ("lambda", "", "AWS Lambda VPC ENI-fn-1", Lambda),
            ("interface", "", "AWS Lambda VPC ENI-fn-1", Lambda),
            ("interface", "", "EFS mount target for fs-1 (fsmt-1)", Efs),
            ("transit_gateway", "", "", Tgw),
            (
                "interface",
                "578734482556",
                "arn:aws:ecs:us-east-1:123456789012:attachment/4c0f",
                Task,
            ),
            ("branch", "", "", Task),
            ("interface", "", "", Other),
        ];
        for (t, r, d, want) in cases {
            assert_eq!(kind(t, r, d), want, "{t} {r} {d}");
        }
        let instance = Ec2Says {
            interface_type: "interface",
            instance: true,
            ..Ec2Says::default()
        };
        assert_eq!(classify(instance), Instance);
    }

    #[test]
    fn load_balancer_names() {
        assert_eq!(
            load_balancer_of("ELB app/web-alb/50dc6c495c0c9188").as_deref(),
            Some("app/web-alb")
        );
        assert_eq!(
            load_balancer_of("ELB net/api-nlb/3b1c").as_deref(),
            Some("net/api-nlb")
        );
        assert_eq!(load_balancer_of("ELB legacy").as_deref(), Some("legacy"));
        assert_eq!(load_balancer_of("RDSNetworkInterface"), None);
        assert_eq!(
            ecs_attachment_of("arn:aws:ecs:us-east-1:123456789012:attachment/4c0f-1"),
            Some("4c0f-1")
        );
        assert_eq!(ecs_attachment_of("attachment/4c0f"), None);
    }
}
