//! `scripts/check-sql-sqlglot`: the query and the DDL that `vpcflow sql` prints for
//! policies, table names and locations full of hostile names parse with sqlglot for
//! each dialect, as exactly the statements printed (a Security Lake source's too, its
//! lake table's name read back), and the names that must be refused are. Needs python3 and sqlglot: skipped with a message when they are missing,
//! unless `VPCFLOW_SQL_ENGINES=require` (CI), which makes that a failure.

mod common;

use std::process::Command;

use common::skip;

#[test]
fn sql_of_hostile_names_parses_with_sqlglot_for_every_dialect() {
    let test = "sql_of_hostile_names_parses_with_sqlglot_for_every_dialect";
    let mode = std::env::var("VPCFLOW_SQL_ENGINES").unwrap_or_default();
    if mode == "skip" {
        skip(test, "VPCFLOW_SQL_ENGINES=skip");
        return;
    }
    if !common::python_imports("sqlglot") {
        assert!(
            mode != "require",
            "VPCFLOW_SQL_ENGINES=require, but python3 cannot import sqlglot"
        );
        skip(test, "python3 cannot import sqlglot (pip install sqlglot)");
        return;
    }
    let o = Command::new("python3")
        .arg(common::root("scripts/check-sql-sqlglot"))
        .args(["--vpcflow", common::BIN])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    eprint!("{out}");
}
