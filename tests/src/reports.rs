//! Reports the ingestion tests upload: JUnit made from `(classname.name, status)` pairs, and
//! the shards of one run that overlap the way sharded CI jobs do.

/// A JUnit report of `(classname.name, status)` cases; status is passed, failed, error or skipped.
pub fn junit(cases: &[(&str, &str)]) -> Vec<u8> {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"s\">\n");
    for (id, status) in cases {
        let (class, name) = id.rsplit_once('.').unwrap();
        let body = match *status {
            "failed" => {
                "<failure message=\"expected 1 got 2\" type=\"AssertionError\">at x.py:10</failure>"
            }
            "error" => "<error message=\"boom\" type=\"RuntimeError\"/>",
            "skipped" => "<skipped/>",
            _ => "",
        };
        xml.push_str(&format!(
            "<testcase classname=\"{class}\" name=\"{name}\" time=\"0.25\">{body}</testcase>\n"
        ));
    }
    xml.push_str("</testsuite></testsuites>\n");
    xml.into_bytes()
}

/// `n` tests over seven classes, every status in turn.
/// The test id of `class.name` in the reports [`junit`] writes (suite `s`).
pub fn junit_test_id(test: &str) -> String {
    let (classname, name) = test.rsplit_once('.').unwrap();
    verdict_model::test_id(&verdict_model::TestIdentity {
        suite: "s",
        classname,
        file: None,
        name,
    })
}

pub fn many_tests(n: usize) -> Vec<u8> {
    let names: Vec<String> = (0..n)
        .map(|i| format!("pkg.Mod{}.test_{i}", i % 7))
        .collect();
    let cases: Vec<(&str, &str)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                n.as_str(),
                ["passed", "failed", "skipped", "passed", "error"][i % 5],
            )
        })
        .collect();
    junit(&cases)
}

/// Five files of one run: three shards with overlapping tests, a rerun of a flaky test, and
/// one more shard.
pub fn shards() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "shard-1.xml",
            junit(&[
                ("a.A.t1", "passed"),
                ("a.A.t2", "passed"),
                ("a.A.flaky", "failed"),
            ]),
        ),
        (
            "shard-2.xml",
            junit(&[
                ("b.B.t1", "passed"),
                ("s.S.shared1", "passed"),
                ("s.S.shared2", "failed"),
            ]),
        ),
        (
            "shard-3.xml",
            junit(&[
                ("c.C.t1", "skipped"),
                ("s.S.shared1", "passed"),
                ("s.S.shared2", "passed"),
            ]),
        ),
        ("shard-1-rerun.xml", junit(&[("a.A.flaky", "passed")])),
        (
            "shard-4.xml",
            junit(&[
                ("d.D.t1", "error"),
                ("d.D.t2", "skipped"),
                ("d.D.t3", "passed"),
            ]),
        ),
    ]
}

/// Every order of `0..n`.
pub fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for rest in permutations(n - 1) {
        for at in 0..=rest.len() {
            let mut p = rest.clone();
            p.insert(at, n - 1);
            all.push(p);
        }
    }
    all
}
