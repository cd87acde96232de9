//! The `mlfusion` binary as a user runs it.

use std::process::{Command, Output};

mod common;

fn mlfusion(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlfusion"))
        .args(args)
        .current_dir(common::repo_root())
        .output()
        .expect("run mlfusion")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn version_names_mlfusion_and_datafusion() {
    let out = mlfusion(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).trim(),
        format!(
            "mlfusion {} (DataFusion {})",
            env!("CARGO_PKG_VERSION"),
            datafusion::DATAFUSION_VERSION
        )
    );
}

#[test]
fn commands_run_with_every_function_registered() {
    let out = mlfusion(&[
        "-q",
        "--format",
        "csv",
        "-c",
        "SELECT farm_fingerprint('alphabet') AS f, abs_mod(farm_fingerprint('alphabet'), 10) AS b, row_fingerprint(5) AS r",
        "SELECT dataset_fingerprint(v) IS NOT NULL AS d FROM generate_series(1, 10) AS t(v)",
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(
        stdout(&out),
        "f,b,r\n-2427165924636348523,3,2174305313529178439\nd\ntrue\n"
    );
}

#[test]
fn files_and_parquet_paths() {
    let dir = std::env::temp_dir().join(format!("mlfusion-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("words.parquet");
    let script = dir.join("script.sql");
    std::fs::write(
        &script,
        format!(
            "COPY (SELECT * FROM (VALUES ('alphabet'), ('3true')) AS t(w)) TO '{}';\n\
             SELECT w, farm_fingerprint(w) AS f FROM '{}' ORDER BY w;\n",
            data.display(),
            data.display()
        ),
    )
    .unwrap();
    let out = mlfusion(&["-q", "--format", "csv", "-f", script.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).ends_with("w,f\n3true,-4880158226897771312\nalphabet,-2427165924636348523\n"),
        "{}",
        stdout(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_argument_fails_with_a_clear_error() {
    let out = mlfusion(&["-q", "-c", "SELECT abs_mod(5, 0)"]);
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("abs_mod: argument n must be a positive integer, got 0"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn quickstart_runs_as_the_readme_says() {
    let out = mlfusion(&["-q", "--format", "csv", "-f", "sql/examples/quickstart.sql"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    // BigQuery's value, the CONCAT pitfalls, and one checksum for the original
    // rows, the union of the splits and the split files.
    assert!(
        text.contains("fingerprint\n-2427165924636348523\n"),
        "{text}"
    );
    assert!(
        text.contains("concat_collides,concat_loses_null,row_collides,row_loses_null\ntrue,true,false,false\n"),
        "{text}"
    );
    assert!(
        text.contains("original,all_splits\n237623441332479945,237623441332479945\n"),
        "{text}"
    );
    assert!(
        text.ends_with("penguins,from_files\n344,237623441332479945\n"),
        "{text}"
    );
}

#[test]
fn split_example_runs_as_the_readme_says() {
    let out = mlfusion(&["-q", "--format", "csv", "-f", "sql/examples/split.sql"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    // Stratified: 152 Adelie penguins, 20% test is 30.4: 30 or 31 (here 31,
    // by the stratum's phase), never further off.
    assert!(text.contains("test,,Adelie,31\n"), "{text}");
    assert!(text.contains("same_assignments\ntrue\n"), "{text}");
    assert!(
        text.ends_with("original,written\n237623441332479945,237623441332479945\n"),
        "{text}"
    );
}

#[test]
fn train_example_runs_as_the_readme_says() {
    let registry = common::repo_root().join("target/examples/registry");
    let _ = std::fs::remove_dir_all(&registry);
    let out = mlfusion(&["-q", "--format", "csv", "-f", "sql/examples/train.sql"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    // 275 training rows: 344 penguins less the stratified 20% test split.
    assert!(
        text.contains("penguin_species,1,logistic_reg,275,0.9964\n"),
        "{text}"
    );
    assert!(
        text.contains("accuracy,f1_score,log_loss,roc_auc\n0.9855,0.9814,0.0276,1.0\n"),
        "{text}"
    );
    assert!(
        text.contains("penguin_species,champion,1,most_recent\n"),
        "{text}"
    );
    assert!(text.contains("Chinstrap,Chinstrap,12\n"), "{text}");
    assert!(
        text.ends_with("penguin_species,1,champion,logistic_reg,275,2508055982189359577\n"),
        "{text}"
    );
}

#[test]
fn tune_example_runs_and_reports_each_trial() {
    let registry = common::repo_root().join("target/examples/registry/penguin_sex");
    let _ = std::fs::remove_dir_all(&registry);
    let out = mlfusion(&["-q", "--format", "csv", "-f", "sql/examples/tune.sql"]);
    let text = stdout(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}{err}");
    // Twelve trials, one optimal, found again by ml_trials; deterministic for the seed.
    assert_eq!(text.matches(",false\n").count(), 11, "{text}");
    assert!(text.contains("6,2,0.4832,0.9638,true\n"), "{text}");
    assert!(
        text.contains("trial_id,max_depth,learning_rate,cv_roc_auc\n6,2,0.4832,0.9638\n"),
        "{text}"
    );
    assert!(
        text.ends_with("test_roc_auc,test_accuracy\n0.9804,0.9552\n"),
        "{text}"
    );
    // Progress: a line per trial with the best so far, then the stored version.
    for i in 1..=12 {
        assert!(
            err.contains(&format!("ml_tune penguin_sex: trial {i} of 12 (")),
            "{err}"
        );
    }
    assert!(err.contains("best 0.963765 (trial 6)"), "{err}");
    assert!(
        err.contains("ml_tune penguin_sex: version 1 trained on 266 rows (0 held out for evaluation) with the \
             hyperparameters of trial 6"),
        "{err}"
    );
}

/// Issue 8's pipeline on two generated generations, the second drifted;
/// first on a second generation that lost a feature, where its schema gate
/// stops it before it trains a challenger.
#[test]
fn continuous_training_example_deploys_the_better_model() {
    let registry = common::repo_root().join("target/examples/registry/churn_ct");
    let _ = std::fs::remove_dir_all(&registry);
    let out = mlfusion(&[
        "-q",
        "--format",
        "csv",
        "-f",
        "sql/examples/generation_missing_feature.sql",
        "sql/examples/continuous_training.sql",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("input,anomaly,severity\ntenure_months,missing_feature,error\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "\nError: sql/examples/continuous_training.sql:43: Assertion failed: generation_2 \
             does not fit the champion's schema (ml_validate_schema lists the errors): not retraining \
             (ASSERT NOT EXISTS (SELECT 1 FROM ml_validate_schema("
        ),
        "{text}"
    );
    // Nothing after the gate ran: the champion is the only version.
    assert!(!text.contains("jensen_shannon_divergence"), "{text}");
    assert!(registry.join("1").is_dir() && !registry.join("2").exists());

    let _ = std::fs::remove_dir_all(&registry);
    let out = mlfusion(&[
        "-q",
        "--format",
        "csv",
        "-f",
        "sql/examples/continuous_training.sql",
    ]);
    let text = stdout(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}{err}");
    // The shifted and re-mixed features are flagged, the stable ones are not.
    for expected in [
        "age,jensen_shannon_divergence,0.5715,true\n",
        "tenure_months,jensen_shannon_divergence,0.0,false\n",
        "monthly_charges,jensen_shannon_divergence,0.0,false\n",
        "plan,l_infinity,0.3667,true\n",
        "input,value,is_anomaly\nage,0.5117,true\n",
        // Each version reports its metrics on the rows it held out.
        "version,training_rows,eval_rows,eval_roc_auc\n1,3787,947,0.8714\n",
        "version,training_rows,eval_rows,eval_roc_auc\n2,3850,963,0.8122\n",
        "input,anomaly,severity\nage,out_of_range,warning\nplan,unseen_values,warning\n",
        // The champion no longer fits; the challenger takes its place.
        "candidate,roc_auc\nchampion,0.4218\nchallenger,0.8403\n",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    assert!(
        text.ends_with("champion,2,1,\"best_score, evaluate_on=holdout\"\n"),
        "{text}"
    );
    assert!(
        err.contains("version 1 (current) scores 0.421828, version 2 (newest) 0.840348"),
        "{err}"
    );
}

/// `mlfusion -c '…' | head -1`: the reader goes away after one line, and
/// mlfusion ends quietly (no panic, no "Broken pipe" message).
#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let mut child = Command::new(env!("CARGO_BIN_EXE_mlfusion"))
        .args([
            "-q",
            "--format",
            "csv",
            "-c",
            "SELECT v, farm_fingerprint(CAST(v AS VARCHAR)) FROM generate_series(1, 2000000) AS t(v)",
        ])
        .current_dir(common::repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mlfusion");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a line");
    assert!(first.starts_with('v'), "{first}");
    // The pipe closes here, as when `head` exits.
    let out = child.wait_with_output().expect("mlfusion ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}

/// CSV and TSV print nested values (ml_train's metrics map, lists, structs)
/// as text, as the table format shows them.
#[test]
fn csv_prints_nested_values_as_text() {
    let out = mlfusion(&[
        "-q",
        "--format",
        "csv",
        "-c",
        "SELECT 1 AS n, make_array(1, 2) AS l, named_struct('a', 'x') AS s, map(['k'], [0.5]) AS m",
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(stdout(&out), "n,l,s,m\n1,\"[1, 2]\",{a: x},{k: 0.5}\n");

    // Two nested columns of one name, from two tables, keep their qualifiers.
    let out = mlfusion(&[
        "-q",
        "--format",
        "csv",
        "-c",
        "SELECT a.l, b.l FROM (SELECT make_array(1) AS l) AS a, (SELECT make_array(2) AS l) AS b",
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(stdout(&out), "l,l\n[1],[2]\n");

    let dir = std::env::temp_dir().join(format!("mlfusion-cli-csv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = mlfusion(&[
        "-q",
        "--format",
        "tsv",
        "-c",
        &format!("SET mlfusion.registry = '{}'", dir.display()),
        "SELECT model, version, metrics FROM ml_train('penguins', 'data/penguins.parquet', 'species', 'model_type=logistic_reg, max_iterations=5')",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.starts_with("model\tversion\tmetrics\npenguins\t1\t{accuracy: "),
        "{text}"
    );
}

/// A script with `COPY` after a failing statement, and where it writes.
fn script_failing_in_the_middle(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("mlfusion-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let written = dir.join("after.csv");
    let script = dir.join("pipeline.sql");
    std::fs::write(
        &script,
        format!(
            "SELECT 1 AS before;\n\
             -- the failing step\n\
             SELECT no_such_column\n  FROM (VALUES (1)) AS t(a);\n\
             COPY (SELECT 2 AS after) TO '{}';\n",
            written.display()
        ),
    )
    .unwrap();
    (script, written)
}

#[test]
fn a_script_stops_at_its_first_failing_statement() {
    let (script, written) = script_failing_in_the_middle("stop");
    let out = mlfusion(&["-q", "--format", "csv", "-f", script.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "before\n1\nError: {}:3: Schema error: No field named no_such_column.\n\
             Valid fields are t.a.\n",
            script.display()
        )
    );
    assert!(!written.exists(), "the COPY after the failure ran");

    // Several statements in one -c stop the same way.
    let command = format!(
        "SELECT no_such_column FROM (VALUES (1)) AS t(a); COPY (SELECT 2) TO '{}'",
        written.display()
    );
    let out = mlfusion(&["-q", "-c", "SELECT 1", "-c", &command]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).ends_with(
            "Error: command 2:1: Schema error: No field named no_such_column.\nValid fields are t.a.\n"
        ),
        "{}",
        stdout(&out)
    );
    assert!(!written.exists(), "the COPY after the failure ran");

    // --continue-on-error runs on, and still exits with the failure's status.
    let out = mlfusion(&["-q", "--continue-on-error", "-f", script.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("Error: "), "{}", stdout(&out));
    assert!(written.exists(), "--continue-on-error did not run the COPY");
    std::fs::remove_dir_all(script.parent().unwrap()).unwrap();
}

#[test]
fn a_failed_assertion_stops_the_script_with_status_3() {
    let (script, written) = script_failing_in_the_middle("assert");
    let text = std::fs::read_to_string(&script).unwrap().replace(
        "SELECT no_such_column\n  FROM (VALUES (1)) AS t(a);",
        "ASSERT (SELECT count(*) FROM (VALUES (1), (2)) AS t(a))\n  = 3 AS 'expected three rows';",
    );
    std::fs::write(&script, text).unwrap();
    let out = mlfusion(&["-q", "--format", "csv", "-f", script.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "before\n1\nError: {}:3: Assertion failed: expected three rows \
             (ASSERT (SELECT count(*) FROM (VALUES (1), (2)) AS t (a)) = 3: not TRUE)\n",
            script.display()
        )
    );
    assert!(!written.exists(), "the COPY after the failed assertion ran");

    // A passing assertion prints nothing; a condition that is not boolean
    // is an error (status 1), not a failed assertion.
    let out = mlfusion(&["-q", "-c", "ASSERT 1 < 2 AS 'fine'"]);
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), String::new()));
    let out = mlfusion(&["-q", "-c", "ASSERT 1 + 1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("ASSERT: the condition must be BOOLEAN, got Int64: 1 + 1"),
        "{}",
        stdout(&out)
    );
    std::fs::remove_dir_all(script.parent().unwrap()).unwrap();
}

#[test]
fn bad_command_line_arguments_exit_with_status_2() {
    let out = mlfusion(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
}

/// The REPL (here reading piped statements) reports a failure and keeps
/// going, ASSERT included, and exits 0 at the end of its input.
#[test]
fn the_repl_keeps_going_after_errors() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mlfusion"))
        .args(["-q", "--format", "csv"])
        .current_dir(common::repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mlfusion");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"SELECT nope;\nASSERT 1 = 2 AS 'not equal';\nASSERT 1 = 1;\nSELECT 7 AS seven;\n",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains("seven\n7\n"), "{}", stdout(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No field named nope"), "{err}");
    assert!(
        err.contains("Assertion failed: not equal (ASSERT 1 = 2: not TRUE)"),
        "{err}"
    );
}
