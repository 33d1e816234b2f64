//! `vpcflow learn`: the tightest policy that admits every accepted connection of the
//! window, written as a policy file the audit reads; with `--security-groups`, the task
//! security groups as they are, judged against the same traffic.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use vpcflow::fold::Nothing;
use vpcflow::policy::audit::Auditor;
use vpcflow::policy::learn::{self, LearnOptions, Learned, LEARNING_CHECKS};
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
}

pub fn learn(args: LearnArgs) -> Result<ExitCode, Error> {
    if args.map.maps.is_empty() {
        return Err(Error::Usage(
            "learn needs --map FILE: the ENI map names the peers (load balancers, services, \
             security groups) that the policy admits"
                .into(),
        ));
    }
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
    Ok(ExitCode::SUCCESS)
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
