//! `verdict parse` as a user runs it: the JSON-lines contract, exit codes, errors on stderr
//! naming the file, and sidecars.

use std::path::PathBuf;
use std::process::Command;

fn verdict() -> Command {
    Command::new(env!("CARGO_BIN_EXE_verdict"))
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("verdict-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const JUNIT: &str = r#"<testsuite name="s"><testcase classname="C" name="ok" time="0.5"/><testcase classname="C" name="bad"><failure message="boom">at C.bad(C.java:3)</failure></testcase></testsuite>"#;

#[test]
fn parse_should_print_one_json_object_per_file_with_the_contract_keys() {
    let dir = tempdir("contract");
    let a = write(&dir, "a.xml", JUNIT);
    let b = write(&dir, "b.tap", "1..1\nok 1 - fine\n");
    let out = verdict().arg("parse").arg(&a).arg(&b).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["file"], a.display().to_string());
    assert_eq!(first["format"], "junit");
    let summary = first["summary"].as_object().unwrap();
    let keys: Vec<&str> = summary.keys().map(String::as_str).collect();
    for k in [
        "tests",
        "passed",
        "failed",
        "errors",
        "skipped",
        "xfailed",
        "xpassed",
        "flaky",
        "duration_ms",
    ] {
        assert!(keys.contains(&k), "summary lacks {k}: {keys:?}");
    }
    assert_eq!(
        (summary["tests"].as_u64(), summary["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(first["warnings"].as_array().unwrap().is_empty());
    let test = &first["tests"][1];
    for k in [
        "test_id",
        "suite",
        "classname",
        "name",
        "params",
        "file",
        "line",
        "status",
        "duration_ms",
        "flaky",
        "attempts",
        "message",
        "fingerprint",
    ] {
        assert!(test.get(k).is_some(), "test lacks {k}: {test}");
    }
    assert_eq!(test["status"], "failed");
    assert_eq!(test["message"], "boom");
    assert_eq!(lines[1]["format"], "tap");
}

#[test]
fn summary_flag_should_leave_tests_out() {
    let dir = tempdir("summary");
    let a = write(&dir, "a.xml", JUNIT);
    let out = verdict()
        .args(["parse", "--summary"])
        .arg(&a)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("tests").is_none());
    assert_eq!(v["summary"]["tests"], 2);
}

#[test]
fn a_bad_file_should_exit_2_name_the_file_and_still_print_the_good_ones() {
    let dir = tempdir("bad");
    let good = write(&dir, "good.xml", JUNIT);
    let bad = write(&dir, "bad.xml", "<testsuite><testcase name=\"x\">");
    let out = verdict()
        .arg("parse")
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("bad.xml") && err.contains("line 1"), "{err}");
}

#[test]
fn format_override_should_be_obeyed_and_validated() {
    let dir = tempdir("format");
    let a = write(&dir, "a.xml", JUNIT);
    let out = verdict()
        .args(["parse", "--format", "trx"])
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = verdict()
        .args(["parse", "--format", "nope"])
        .arg(&a)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format"));
}

#[test]
fn sidecar_should_add_tags_and_owner() {
    let dir = tempdir("sidecar");
    let a = write(&dir, "a.xml", JUNIT);
    let out = verdict().arg("parse").arg(&a).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["tests"][0]["test_id"].as_str().unwrap().to_string();
    write(
        &dir,
        "a.xml.meta.json",
        &format!(
            r#"{{"run": {{"branch": "main"}}, "test_overrides": {{"{id}": {{"tags": ["slow"], "owner": "team-a"}}}}}}"#
        ),
    );
    let out = verdict().arg("parse").arg(&a).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tests"][0]["owner"], "team-a");
    assert_eq!(v["tests"][0]["tags"][0], "slow");

    // An unknown key is a warning naming it; a value of the wrong type is an error.
    write(&dir, "a.xml.meta.json", r#"{"runn": {}}"#);
    let out = verdict().arg("parse").arg(&a).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("unknown key \"runn\""),
        "{v}"
    );
    write(&dir, "a.xml.meta.json", r#"{"run": 5}"#);
    let out = verdict().arg("parse").arg(&a).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sidecar"));

    // The plan's overrides keyed by the test's name.
    let name = v["tests"][0]["name"].as_str().unwrap().to_string();
    write(
        &dir,
        "a.xml.meta.json",
        &format!(r#"{{"branch": "b", "test_overrides": {{"{name}": {{"owner": "by-name"}}}}}}"#),
    );
    let out = verdict().arg("parse").arg(&a).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tests"][0]["owner"], "by-name", "{v}");
}
