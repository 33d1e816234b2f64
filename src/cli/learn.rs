//! `vpcflow learn`: the tightest policy that admits every accepted connection of the
//! window, written as a policy file the audit reads; with `--security-groups`, the task
//! security groups as they are, judged against the same traffic.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use vpcflow::enrich::EniMap;
use vpcflow::fold::Nothing;
use vpcflow::policy::audit::Auditor;
use vpcflow::policy::learn::{self, LearnOptions, Learned, Name, Observation, LEARNING_CHECKS};
use vpcflow::policy::Of;
use vpcflow::secgroups::{self, Observed, SecurityGroups, Source};
use vpcflow::Error;

use super::args::{MapOpts, ReadArgs};
use super::audit::{fold, leave_out, lost};
use super::{summarize, Ran};

#[derive(Args, Debug)]
pub struct LearnArgs {
    #[command(flatten)]
    read: ReadArgs,

    #[command(flatten)]
    map: MapOpts,

    /// Where to write the learned policy (TOML, the format --policy reads).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: PathBuf,

    /// A service talking to more than N distinct internet addresses on one port gets
    /// 0.0.0.0/0 (::/0) with that port instead of the hosts, said in a comment.
    #[arg(long = "max-hosts", value_name = "N", default_value_t = 16)]
    max_hosts: usize,

    /// Write the policy even when part of the input was lost (a truncated or corrupt
    /// .gz, an unreadable file): without it, such a run exits 2 and writes nothing, since
    /// a policy learned from part of the traffic would block the rest.
    #[arg(long = "allow-damaged")]
    allow_damaged: bool,

    /// `aws ec2 describe-security-groups` (or `describe-security-group-rules`) output:
    /// report, per task security group on stdout, the rules no accepted connection used,
    /// the rules wider than the learned policy, and the proposed change.
    #[arg(long = "security-groups", value_name = "FILE")]
    security_groups: Option<PathBuf>,

    /// `aws ec2 get-managed-prefix-list-entries` output, in a file whose name holds the
    /// list's id (pl-0abc.json), or a JSON object of such outputs by id (repeatable):
    /// prefix-list rules are judged with it, else reported as not judged.
    #[arg(
        long = "prefix-lists",
        value_name = "FILE",
        requires = "security_groups"
    )]
    prefix_lists: Vec<PathBuf>,

    /// With --security-groups: write the proposed change per security group into DIR
    /// (EC2 CLI --cli-input-json documents to authorize and revoke, and Terraform).
    #[arg(long, value_name = "DIR", requires = "security_groups")]
    emit: Option<PathBuf>,
}

pub fn learn(args: LearnArgs) -> Result<ExitCode, Error> {
    if args.map.maps.is_empty() {
        return Err(Error::Usage(
            "learn needs --map FILE: the ENI map names the peers (load balancers, services, \
             security groups) that the policy admits"
                .into(),
        ));
    }
    // A file that cannot be read is said before the inputs are.
    let groups = args
        .security_groups
        .as_deref()
        .map(|p| security_groups(p, &args.prefix_lists))
        .transpose()?;
    let mut config = args.read.config(true)?;
    leave_out(&mut config, Some(&args.output));
    let cidrs = args.map.cidrs()?;
    let policy = learn::learning_policy(&cidrs);
    let map = Arc::new(args.map.load(args.read.quiet)?);
    let auditor = Auditor {
        checks: LEARNING_CHECKS,
        ..Auditor::new(&policy, &map)
    };
    let ((state, ()), totals, unreadable) = fold(&mut config, &map, &auditor, Nothing, &[])?;
    let ran = Ran {
        value: (),
        totals,
        unreadable,
    };
    summarize(&mut config, &ran, true)?;
    config.reporter.coverage(&ran.totals.enrich, map.is_empty());
    if let Some(lost) = lost(&config) {
        if !args.allow_damaged {
            return Err(Error::Input(format!(
                "part of the input was lost ({lost}): a policy learned from the rest would \
                 block what was lost; nothing written (--allow-damaged writes it anyway)"
            )));
        }
        config
            .reporter
            .warn(&format!("--allow-damaged: accepted the loss of {lost}"));
    }
    let options = LearnOptions {
        max_hosts: args.max_hosts,
        vpc_cidrs: cidrs,
    };
    let (learned, policy) =
        learn::learn(&state, &map, &options).map_err(|e| Error::Input(e.to_string()))?;
    policy
        .check_against(&args.output.display().to_string(), &map)
        .map_err(|e| Error::Input(format!("the learned policy does not fit the map: {e}")))?;
    std::fs::write(&args.output, learned.toml())
        .map_err(|e| Error::Usage(format!("-o: cannot write {}: {e}", args.output.display())))?;
    config
        .reporter
        .say(&summary_words(&learned, &args.output.display().to_string()));
    if let Some(groups) = &groups {
        review(&args, groups, &learned, &map)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The task security groups judged against the learned traffic: the report on stdout,
/// the proposed change under `--emit`.
fn review(
    args: &LearnArgs,
    groups: &SecurityGroups,
    learned: &Learned,
    map: &EniMap,
) -> Result<(), Error> {
    let observed: Vec<Observed> = learned
        .observations
        .iter()
        .map(|o| observed(o, learned, map))
        .collect();
    let review = secgroups::review(groups, &observed);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    review.write_text(&mut out)?;
    out.flush()?;
    if let Some(dir) = &args.emit {
        let written = review.emit(dir).map_err(|e| {
            Error::Usage(format!("--emit: cannot write into {}: {e}", dir.display()))
        })?;
        eprintln!(
            "vpcflow: learn: {} file{} of proposed changes written under {}",
            written.len(),
            if written.len() == 1 { "" } else { "s" },
            dir.display()
        );
    }
    Ok(())
}

/// The security groups of `--security-groups`, with the entries of `--prefix-lists`.
pub fn security_groups(path: &Path, prefix_lists: &[PathBuf]) -> Result<SecurityGroups, Error> {
    let read = |p: &Path, flag: &str| {
        std::fs::read(p)
            .map_err(|e| Error::Usage(format!("{flag}: cannot read {}: {e}", p.display())))
    };
    let mut groups = SecurityGroups::parse(
        &path.display().to_string(),
        &read(path, "--security-groups")?,
    )
    .map_err(|e| Error::Usage(format!("--security-groups: {e}")))?;
    for p in prefix_lists {
        groups
            .add_prefix_lists(&p.display().to_string(), &read(p, "--prefix-lists")?)
            .map_err(|e| Error::Usage(format!("--prefix-lists: {e}")))?;
    }
    Ok(groups)
}

/// A learned connection as the review of security groups takes it: the groups of both
/// sides as of its first record, and the learned name as a rule's source (a named peer's
/// most specific group, else its address; the whole internet where the policy says so).
fn observed(o: &Observation, learned: &Learned, map: &EniMap) -> Observed {
    let at = Some(o.evidence.first);
    let own = map.eni_at(&o.eni, at);
    let peer = o.peer_eni.as_deref().and_then(|e| map.eni_at(e, at));
    let peer_groups = peer.map(|h| h.security_groups.clone()).unwrap_or_default();
    let host = || Source::Cidr(vpcflow::net::Cidr::host(&o.peer_addr));
    let learned_source = match &o.name {
        Name::SecurityGroup(g, _) => Source::Group(g.clone()),
        Name::Addr(a) => {
            let v4 = vpcflow::net::is_v4(a);
            let rule = &learned.rules[&o.whose];
            let side = if o.opened_by_task {
                &rule.egress
            } else {
                &rule.ingress
            };
            if side
                .whole_internet(learned.options.max_hosts)
                .contains_key(&v4)
            {
                Source::Cidr(
                    if v4 { "0.0.0.0/0" } else { "::/0" }
                        .parse()
                        .expect("a block"),
                )
            } else {
                host()
            }
        }
        _ => peer_groups
            .first()
            .cloned()
            .map_or_else(host, Source::Group),
    };
    let owner = match (&o.whose.of, &o.whose.cluster) {
        (Of::Service, Some(c)) => format!("service {} (cluster {c})", o.whose.name),
        (Of::Service, None) => format!("service {}", o.whose.name),
        (Of::Family, _) => format!("family {}", o.whose.name),
    };
    Observed {
        eni_id: o.eni.clone(),
        owner,
        own_groups: own.map(|h| h.security_groups.clone()).unwrap_or_default(),
        opened_by_task: o.opened_by_task,
        protocol: o.protocol.map_or(-1, i32::from),
        server_port: o.server_port,
        peer_addr: o.peer_addr,
        peer_groups,
        connections: o.evidence.connections,
        bytes: o.evidence.bytes,
        first_seen: o.evidence.first,
        last_seen: o.evidence.last,
        learned: learned_source,
    }
}

/// "vpcflow: learn: 4 rules (3 services, 1 task family) ...".
fn summary_words(l: &Learned, file: &str) -> String {
    let families = l
        .rules
        .keys()
        .filter(|w| w.of == vpcflow::policy::Of::Family)
        .count();
    let services = l.rules.len() - families;
    let (mut inbound, mut outbound, mut rejected, mut undecided, mut brief) = (0, 0, 0, 0, 0);
    for r in l.rules.values() {
        inbound += r.ingress.peers.len();
        outbound += r.egress.peers.len();
        rejected += r.ingress.rejected.len() + r.egress.rejected.len();
        undecided += r.undecided.len();
        brief += usize::from(l.brief(r));
    }
    let mut words = format!(
        "vpcflow: learn: {} rule{} ({services} service{}, {families} task famil{}) admitting \
         {inbound} inbound and {outbound} outbound peer name{} written to {file}",
        l.rules.len(),
        if l.rules.len() == 1 { "" } else { "s" },
        if services == 1 { "" } else { "s" },
        if families == 1 { "y" } else { "ies" },
        if inbound + outbound == 1 { "" } else { "s" },
    );
    if rejected + undecided > 0 {
        words += &format!(
            "; listed in comments, not admitted: {rejected} REJECTed attempt{} (the audit of \
             this window reports those of peers not admitted) and {undecided} peer{} of \
             undecided opener",
            if rejected == 1 { "" } else { "s" },
            if undecided == 1 { "" } else { "s" }
        );
    }
    if brief > 0 {
        words += &format!("; {brief} seen too briefly (marked in the file)");
    }
    if l.unnamed > 0 {
        words += &format!(
            "; {} connections of task ENIs whose task no source names were not learned",
            l.unnamed
        );
    }
    words
}
