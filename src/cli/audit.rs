//! `vpcflow audit`: the policy, the map and the inputs in; findings out, and an exit
//! code that never claims a clean result the audit did not earn.

use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use vpcflow::aws_ranges::AwsRanges;
use vpcflow::enrich::place::{self, Places, PlacesSeen};
use vpcflow::enrich::{EniMap, Enricher};
use vpcflow::fold::{Both, Fold};
use vpcflow::net::Cidr;
use vpcflow::output::exchange::{self, Outgoing, Unplaced};
use vpcflow::output::{asff, findings, ocsf};
use vpcflow::pipeline::{self, Totals};
use vpcflow::policy::audit::{self, AuditSummary, Auditor, Check, Checks, Finding};
use vpcflow::policy::{CommandLineRules, Policy};
use vpcflow::secgroups::{self, SecurityGroups};
use vpcflow::source::Source;
use vpcflow::Error;

use super::args::{FindingsFormat, MapOpts, PlaceOpts, ReadArgs, ReadConfig};
use super::{default_format, execute, summarize, terminal_width, Ran};

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    scan: AuditScan,

    /// Output format. Default: table on a terminal, json (JSON Lines) otherwise. asff
    /// and ocsf are for Security Hub and Security Lake: each finding is filed under the
    /// account and region its records name (account-id, region fields), else its task
    /// ARN's, else --aws-account and --region; CreatedAt/UpdatedAt (ASFF) and time (OCSF)
    /// are the run's time, SOURCE_DATE_EPOCH when set.
    #[arg(long, value_enum)]
    format: Option<FindingsFormat>,

    #[command(flatten)]
    place: PlaceOpts,

    /// `aws ec2 describe-security-groups` (or `describe-security-group-rules`) output:
    /// each finding gains `sg_rule`, the task security group rule that admitted it (null
    /// when none did, as for REJECTed traffic or a connection of undecided opener).
    #[arg(long = "security-groups", value_name = "FILE")]
    security_groups: Option<std::path::PathBuf>,

    /// `aws ec2 get-managed-prefix-list-entries` output for --security-groups, in a file
    /// whose name holds the list's id, or a JSON object of such outputs by id (repeatable).
    #[arg(
        long = "prefix-lists",
        value_name = "FILE",
        requires = "security_groups"
    )]
    prefix_lists: Vec<std::path::PathBuf>,
}

/// What an audit reads and checks: the inputs, the map and the rules (shared by
/// `audit` and `report`).
#[derive(Args, Debug)]
pub struct AuditScan {
    #[command(flatten)]
    pub read: ReadArgs,

    #[command(flatten)]
    pub map: MapOpts,

    #[command(flatten)]
    pub rules: RuleOpts,

    /// Accept a run that lost part of its input (a truncated or corrupt .gz, an
    /// unreadable Parquet unit, a file that could not be read): without it, an audit
    /// that found nothing in what it could read exits 2, since it has not earned a clean
    /// result. The summary names what was lost either way.
    #[arg(long = "allow-damaged")]
    pub allow_damaged: bool,
}

/// What the audit checks: the policy, the command-line rules, `--rule` and AWS's
/// address ranges (shared by `audit` and `sql`).
#[derive(Args, Debug)]
pub struct RuleOpts {
    /// The policy file (TOML): who may connect to the tasks of each service.
    #[arg(long, value_name = "FILE")]
    policy: Option<String>,

    /// Allow connections from ENIs in this security group into every audited task
    /// (repeatable; added to every service's rule and to [defaults]; without --policy,
    /// every task is audited with the --allow-* rules).
    #[arg(long = "allow-sg", value_name = "SG")]
    allow_sg: Vec<String>,

    /// Allow connections from this CIDR block ("vpc" for the VPC's) into every audited
    /// task (repeatable; added like --allow-sg).
    #[arg(long = "allow-cidr", value_name = "CIDR")]
    allow_cidr: Vec<String>,

    /// Allow connections from tasks of this service into every audited task
    /// (repeatable; added like --allow-sg).
    #[arg(long = "allow-service", value_name = "SERVICE")]
    allow_service: Vec<String>,

    /// AWS's published address ranges (ip-ranges.json, from
    /// https://ip-ranges.amazonaws.com/ip-ranges.json): which internet addresses are AWS
    /// services', for privatelink-bypass where the flow log has no pkt-*-aws-service
    /// field (before v5).
    #[arg(long = "aws-ip-ranges", value_name = "FILE")]
    aws_ip_ranges: Option<String>,

    /// Run only this rule (repeatable): unexpected-ingress, unexpected-egress, cleartext,
    /// isolation, privatelink-bypass, new-peer. Default: every rule the policy asks for.
    #[arg(long = "rule", value_name = "NAME")]
    rules: Vec<String>,

    /// A baseline policy (as `vpcflow learn` writes from a quiet window): adds the rule
    /// new-peer, a peer that no list of the task's rule in the baseline admits, either
    /// direction, in accepted traffic (internet peers high, others medium). Without
    /// --policy, new-peer is the only rule run.
    #[arg(long, value_name = "POLICY")]
    baseline: Option<String>,
}

impl RuleOpts {
    /// The policy: the file's, with the command-line rules added, or the command-line
    /// rules alone; `cidrs` are the `--vpc-cidr` blocks.
    pub fn policy(&self, cidrs: &[Cidr]) -> Result<Policy, Error> {
        let extra = CommandLineRules {
            security_groups: self.allow_sg.clone(),
            cidrs: self.allow_cidr.clone(),
            services: self.allow_service.clone(),
        };
        let baseline = self.baseline_policy(cidrs)?;
        let mut policy = match (&self.policy, &baseline) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::Usage(format!("--policy: cannot read {path}: {e}")))?;
                Policy::parse(path, &text, cidrs, &extra)
            }
            (None, _) if !extra.is_empty() => Policy::from_command_line(cidrs, &extra),
            (None, Some(b)) => return Ok(Policy::of_baseline(b)),
            (None, None) => {
                return Err(Error::Usage(
                    "the audit needs --policy FILE, --baseline FILE, or rules for every task \
                     with --allow-sg, --allow-cidr or --allow-service"
                        .into(),
                ))
            }
        }
        .map_err(|e| Error::Usage(format!("--policy: {e}")))?;
        if let Some(b) = &baseline {
            policy.add_baseline(b);
        }
        Ok(policy)
    }

    /// The baseline policy, when `--baseline` gives one.
    pub fn baseline_policy(&self, cidrs: &[Cidr]) -> Result<Option<Policy>, Error> {
        let Some(path) = &self.baseline else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("--baseline: cannot read {path}: {e}")))?;
        Policy::parse(path, &text, cidrs, &CommandLineRules::default())
            .map(Some)
            .map_err(|e| Error::Usage(format!("--baseline: {e}")))
    }

    /// The baseline file's name, when `--baseline` gives one.
    pub fn baseline_name(&self) -> Option<&str> {
        self.baseline.as_deref()
    }

    /// The checks `--rule` asks for (every one by default); a rule that no service of
    /// the policy asks for has nothing to check and is an error.
    pub fn checks(&self, policy: &Policy) -> Result<Checks, Error> {
        if self.rules.is_empty() {
            // A baseline alone runs new-peer alone.
            let alone = self.baseline.is_some()
                && self.policy.is_none()
                && self.allow_sg.is_empty()
                && self.allow_cidr.is_empty()
                && self.allow_service.is_empty();
            return Ok(if alone {
                Checks::of(&[Check::NewPeer])
            } else if self.baseline.is_some() {
                Checks::ALL
            } else {
                // new-peer runs against a baseline only.
                Checks::ALL.without(Check::NewPeer)
            });
        }
        let mut checks = Vec::new();
        for name in &self.rules {
            let c = Check::parse(name).map_err(|e| Error::Usage(format!("--rule: {e}")))?;
            if c == Check::NewPeer && self.baseline.is_none() {
                return Err(Error::Usage(format!(
                    "--rule {name}: new peers are told against a baseline: give --baseline \
                     POLICY (a policy vpcflow learn wrote from a quiet window)"
                )));
            }
            if let Some(key) = c.unconfigured(policy) {
                return Err(Error::Usage(format!(
                    "--rule {name}: no rule of the policy asks for it ({key} in a \
                     [[service]] or [defaults]), so it has nothing to check"
                )));
            }
            checks.push(c);
        }
        Ok(Checks::of(&checks))
    }

    /// AWS's address ranges, when `--aws-ip-ranges` gives them.
    pub fn ranges(&self) -> Result<Option<AwsRanges>, Error> {
        self.aws_ip_ranges
            .as_deref()
            .map(|path| {
                AwsRanges::load(path).map_err(|e| Error::Usage(format!("--aws-ip-ranges: {e}")))
            })
            .transpose()
    }

    /// The policy file's name, for messages.
    pub fn policy_name(&self) -> &str {
        self.policy.as_deref().unwrap_or("command line")
    }
}

pub fn audit(args: AuditArgs) -> Result<ExitCode, Error> {
    let format = args
        .format
        .unwrap_or_else(|| FindingsFormat::from(default_format()));
    let exchanged = matches!(format, FindingsFormat::Asff | FindingsFormat::Ocsf);
    // What the exchange formats need is checked before the inputs are read.
    let (fallback, now) = if exchanged {
        let epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
        let now = exchange::run_time(epoch.as_deref()).map_err(Error::Usage)?;
        (args.place.place()?, now)
    } else {
        (place::Place::default(), 0)
    };
    let columns: &[&str] = if exchanged { &place::COLUMNS } else { &[] };
    let groups = args
        .security_groups
        .as_deref()
        .map(|p| super::learn::security_groups(p, &args.prefix_lists))
        .transpose()?;
    let mut run = Audited::run(&args.scan, |_| Places, columns, None)?;
    if let Some(groups) = &groups {
        for f in &mut run.findings {
            f.sg_rule = Some(admitted_by(f, groups, &run.map));
        }
    }
    if run.nothing.is_none() {
        let (findings, summary) = (&run.findings, &run.summary);
        let stdout = io::stdout();
        let out = io::BufWriter::new(stdout.lock());
        match format {
            FindingsFormat::Json => findings::write_json(findings, out)?,
            FindingsFormat::Csv => findings::write_csv(findings, out)?,
            FindingsFormat::Table => {
                findings::write_table(findings, summary, terminal_width(), out)?
            }
            FindingsFormat::Asff => {
                asff::write_asff(&outgoing(&run, &fallback, "asff")?, now, out)?
            }
            FindingsFormat::Ocsf => {
                ocsf::write_ocsf(&outgoing(&run, &fallback, "ocsf")?, now, out)?
            }
        }
    }
    run.finish()
}

/// The task security group rule that admitted a finding's traffic, in its one-line
/// form: by the direction of its connections, its protocol, its first server port and
/// both sides' groups as of its first record; `None` for REJECTed traffic and for
/// connections of undecided or mixed opener.
fn admitted_by(f: &Finding, groups: &SecurityGroups, map: &EniMap) -> Option<String> {
    if f.action == "REJECT" {
        return None;
    }
    let opened_by_task = match f.direction? {
        audit::Direction::Out => true,
        audit::Direction::In => false,
    };
    let at = Some(f.first_seen);
    let own = map.eni_at(&f.eni_id, at)?;
    let peer_groups = f
        .peer_eni_id
        .as_deref()
        .and_then(|e| map.eni_at(e, at))
        .map(|h| h.security_groups.as_slice())
        .unwrap_or(&[]);
    let peer = vpcflow::net::addr(&f.peer_addr)?;
    secgroups::admitting_rule(
        groups,
        &own.security_groups,
        opened_by_task,
        f.protocol,
        f.ports.first().copied().unwrap_or(0),
        &peer,
        peer_groups,
    )
    .map(|r| r.to_string())
}

/// The findings as the exchange formats take them, each filed under its account and
/// region; an error naming the ENIs that nothing places, and the option that would.
fn outgoing(
    run: &Audited<PlacesSeen>,
    fallback: &place::Place,
    format: &str,
) -> Result<Vec<Outgoing>, Error> {
    let mut out = Vec::with_capacity(run.findings.len());
    let mut unplaced: Vec<Unplaced> = Vec::new();
    for f in &run.findings {
        match exchange::place_of(&f.eni_id, f.task_arn.as_deref(), &run.extra, fallback) {
            Ok(p) => out.push(Outgoing::of_finding(f, p, &run.map)),
            Err(e) if unplaced.iter().any(|u| u.eni_id == e.eni_id) => {}
            Err(e) => unplaced.push(e),
        }
    }
    if unplaced.is_empty() {
        return Ok(out);
    }
    let (account, region) = (
        unplaced.iter().any(|u| u.account),
        unplaced.iter().any(|u| u.region),
    );
    let what = exchange::missing_words(account, region);
    let mut enis: Vec<String> = unplaced
        .iter()
        .take(5)
        .map(|u| vpcflow::text::printable(&u.eni_id, false).into_owned())
        .collect();
    if unplaced.len() > 5 {
        enis.push(format!("and {} more", unplaced.len() - 5));
    }
    let options = match (account, region) {
        (true, true) => "--aws-account ACCOUNT and --region REGION",
        (true, false) => "--aws-account ACCOUNT",
        _ => "--region REGION",
    };
    Err(Error::Usage(format!(
        "--format {format}: nothing names the AWS {what} of the findings of {} ({}): their \
         records have no {} field and no map source names their task's ARN; give {options}",
        if unplaced.len() == 1 { "ENI" } else { "ENIs" },
        enis.join(", "),
        match (account, region) {
            (true, true) => "account-id or region",
            (true, false) => "account-id",
            _ => "region",
        },
    )))
}

/// An audit that ran over the inputs, with another fold (`X`) in the same pass: what
/// `audit` prints and `report` draws.
pub struct Audited<X> {
    pub config: ReadConfig,
    pub findings: Vec<Finding>,
    pub summary: AuditSummary,
    /// The other fold's state.
    pub extra: X,
    pub totals: Totals,
    pub unreadable: bool,
    pub policy: Policy,
    pub map: Arc<EniMap>,
    /// Why no task could be audited (exit 2), in words.
    pub nothing: Option<String>,
    /// `--allow-damaged`: a run that lost part of its input may still be clean.
    pub allow_damaged: bool,
}

impl<X> Audited<X> {
    /// Loads the policy and the map, and audits the inputs; `extra` makes the fold that
    /// runs beside the audit and `columns` are the flow-log columns it reads besides the
    /// audit's, and `output` (the file the command writes) is left out of the inputs.
    pub fn run<F: Fold<State = X>>(
        scan: &AuditScan,
        extra: impl FnOnce(&Arc<EniMap>) -> F,
        columns: &[&str],
        output: Option<&Path>,
    ) -> Result<Audited<X>, Error> {
        let AuditScan {
            read,
            map,
            rules,
            allow_damaged,
        } = scan;
        let mut config = read.config(true)?;
        leave_out(&mut config, output);
        let map_cidrs = map.cidrs()?;
        let policy = rules.policy(&map_cidrs)?;
        let checks = rules.checks(&policy)?;
        let ranges = rules.ranges()?;
        let map = Arc::new(map.load(read.quiet)?);
        policy
            .check_against(rules.policy_name(), &map)
            .map_err(|e| Error::Usage(format!("--policy: {e}")))?;
        if let (Some(b), Some(name)) = (rules.baseline_policy(&map_cidrs)?, rules.baseline_name()) {
            b.check_against(name, &map)
                .map_err(|e| Error::Usage(format!("--baseline: {e}")))?;
        }
        let auditor = Auditor {
            checks,
            aws_ranges: ranges.as_ref(),
            ..Auditor::new(&policy, &map)
        };
        let extra = extra(&map);
        let ((state, extra), totals, unreadable) =
            fold(&mut config, &map, &auditor, extra, columns)?;
        let (findings, summary) = state.finish(&auditor);
        let nothing = nothing_audited(&summary, &totals.enrich, !map.is_empty());
        Ok(Audited {
            config,
            findings,
            summary,
            extra,
            totals,
            unreadable,
            policy,
            map,
            nothing,
            allow_damaged: *allow_damaged,
        })
    }

    /// What part of the input was lost (inputs that could not be read, files read only
    /// in part), in words; `None` when every input was read whole.
    pub fn lost(&self) -> Option<String> {
        lost(&self.config)
    }

    /// Why a run that found nothing is not clean because it lost part of its input, in
    /// words; `None` when nothing was lost or `--allow-damaged` accepts the loss.
    pub fn unearned(&self) -> Option<String> {
        if self.allow_damaged || self.summary.findings() > 0 {
            return None;
        }
        self.lost().map(|lost| {
            format!(
                "the audit found nothing in what it read, but part of its input was lost \
                 ({lost}): not a clean result (--allow-damaged accepts it)"
            )
        })
    }

    /// Why a run that found nothing has not earned a clean result, in words: a rule it
    /// could not judge, or records it could not judge at all.
    pub fn unjudged(&self) -> Option<String> {
        let c = &self.summary.counts;
        if self.summary.findings() > 0 {
            return None;
        }
        if c.without_addresses > 0 {
            return Some(without_addresses_words(c.without_addresses));
        }
        (c.aws_unknown > 0).then(|| {
            format!(
                "privatelink-bypass could not be judged: {}",
                audit::aws_unknown_words(c.aws_unknown)
            )
        })
    }

    /// Prints the closing summaries and returns the exit code: 2 when no task could
    /// be audited, a rule could not judge, or an input could not be read; else 1 with
    /// findings, 0 without.
    pub fn finish(mut self) -> Result<ExitCode, Error> {
        let ran = Ran {
            value: (),
            totals: self.totals.clone(),
            unreadable: self.unreadable,
        };
        summarize(&mut self.config, &ran, true)?;
        self.config.reporter.audit(&self.summary);
        self.config
            .reporter
            .coverage(&self.totals.enrich, self.map.is_empty());
        if let Some(why) = &self.nothing {
            return Err(Error::Input(format!("no task could be audited: {why}")));
        }
        // No finding is a clean result only if every rule could judge what it had to,
        // over the whole input.
        if let Some(why) = self.unjudged() {
            return Err(Error::Input(why));
        }
        if let Some(why) = self.unearned() {
            return Err(Error::Input(why));
        }
        if self.allow_damaged {
            if let Some(lost) = self.lost() {
                self.config
                    .reporter
                    .warn(&format!("--allow-damaged: accepted the loss of {lost}"));
            }
        }
        Ok(if self.unreadable && !self.allow_damaged {
            ExitCode::from(2)
        } else if self.summary.findings() > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// What part of the input a run lost (inputs that could not be read, files read only in
/// part), in words; `None` when every input was read whole.
pub fn lost(config: &ReadConfig) -> Option<String> {
    let reporter = &config.reporter;
    let mut lost: Vec<String> = config.missing.clone();
    let unreadable = reporter.unreadable_files();
    if unreadable > 0 {
        lost.push(format!(
            "{unreadable} file{} that could not be read",
            if unreadable == 1 { "" } else { "s" }
        ));
    }
    lost.extend(reporter.damaged().iter().cloned());
    (!lost.is_empty()).then(|| lost.join("; "))
}

/// Leaves the file the command writes out of its inputs (a report written into the
/// folder of logs it reads, run again).
pub fn leave_out(config: &mut ReadConfig, output: Option<&Path>) {
    if let Some(out) = output.and_then(|p| std::fs::canonicalize(p).ok()) {
        config.input.sources.retain(|s| match s {
            Source::File(p) => {
                p.file_name() != out.file_name()
                    || std::fs::canonicalize(p).map_or(true, |c| c != out)
            }
            Source::S3(_) | Source::Stdin => true,
        });
    }
}

/// What [`fold`] hands back: the audit's state and the other fold's, the totals, and
/// whether an input could not be read.
pub type Folded<X> = ((audit::AuditState, X), Totals, bool);

/// The audit's fold over the inputs, with another fold (`extra`, reading `columns`
/// besides the audit's) in the same pass: the states, the totals, and whether an input
/// could not be read.
pub fn fold<F: Fold>(
    config: &mut ReadConfig,
    map: &Arc<EniMap>,
    auditor: &Auditor,
    extra: F,
    columns: &[&str],
) -> Result<Folded<F::State>, Error> {
    let enricher = Enricher::new(map.clone(), &auditor.policy.vpc_cidrs);
    let mut projection = auditor.projection();
    projection.extend(columns.iter().map(|c| c.to_string()));
    config.input.options.projection = Some(Arc::new(projection));
    let ran = execute(config, Some(&enricher), |run, reporter| {
        pipeline::fold(run, &Both(auditor, extra), reporter)
    })?;
    Ok((ran.value, ran.totals, ran.unreadable))
}

/// Records in layouts without the addresses the audit judges, in words.
pub fn without_addresses_words(records: u64) -> String {
    format!(
        "{records} record{} in layouts without srcaddr or dstaddr could not be audited \
         (nothing says who talked; the audit needs both columns)",
        if records == 1 { "" } else { "s" }
    )
}

/// Records on task ENIs whose task nothing names, that rules by service could not
/// judge, in words.
pub fn unnamed_words(records: u64) -> String {
    format!(
        "{records} record{} on task ENIs whose task no map source names (an ENI known from \
         CloudTrail, Config or describe-network-interfaces alone) could not be judged: the \
         policy's rules are by service and it has no [defaults]; name the tasks with ECS task \
         state change events or describe-tasks output (--map), or log the v7 ECS fields",
        if records == 1 { "" } else { "s" }
    )
}

/// Why no task could be audited, in words; `None` when some task was.
fn nothing_audited(
    s: &AuditSummary,
    enriched: &vpcflow::enrich::EnrichStats,
    have_map: bool,
) -> Option<String> {
    if s.tasks_audited > 0 {
        return None;
    }
    let c = &s.counts;
    let mut why = Vec::new();
    if c.records == 0 {
        why.push("there are no records to audit".to_string());
    }
    if c.without_interface > 0 {
        why.push(format!(
            "{} records in layouts without interface-id (nothing says which ENI logged them)",
            c.without_interface
        ));
    }
    if c.without_addresses > 0 {
        why.push(without_addresses_words(c.without_addresses));
    }
    if c.records > c.without_interface + c.without_addresses && c.on_tasks == 0 {
        why.push(if !have_map && enriched.own_from_ecs_fields == 0 {
            "no --map was given and no record carries the ECS fields (v7) that would say \
             which task it belongs to"
                .to_string()
        } else {
            let mut w = "no record was logged on a task ENI that the map or the ECS fields know"
                .to_string();
            if enriched.own_unknown > 0 {
                w += &format!(
                    " ({} of {} records are on ENIs that no map source names: {})",
                    enriched.own_unknown,
                    c.records,
                    super::reporter::UNKNOWN_ENI_FIX
                );
            }
            w
        });
    } else if enriched.own_unknown > 0 {
        why.push(format!(
            "{} of {} records are on ENIs that no map source names: {}",
            enriched.own_unknown,
            c.records,
            super::reporter::UNKNOWN_ENI_FIX
        ));
    }
    if c.unnamed_unjudged > 0 {
        why.push(unnamed_words(c.unnamed_unjudged));
    }
    if s.tasks_undirected > 0 {
        why.push(format!(
            "the direction of every record of the {} task{} with a rule is undecided (give \
             --map, or --vpc-cidr with the VPC's blocks)",
            s.tasks_undirected,
            if s.tasks_undirected == 1 { "" } else { "s" }
        ));
    }
    // Task ENIs whose task nothing names are said above, unless their service is known.
    let named_not_audited = if s.services_not_audited.is_empty() {
        s.tasks_not_audited - s.unnamed_not_audited
    } else {
        s.tasks_not_audited
    };
    if named_not_audited > 0 {
        why.push(format!(
            "the policy has no rule for the tasks seen ({} task{}{}) and no [defaults]",
            named_not_audited,
            if named_not_audited == 1 { "" } else { "s" },
            if s.services_not_audited.is_empty() {
                String::new()
            } else {
                format!(" of {}", s.services_not_audited.join(", "))
            }
        ));
    }
    if why.is_empty() {
        why.push("no record of a task ENI had a rule that could judge it".to_string());
    }
    Some(why.join("; "))
}
