//! A generated, realistic JUnit report, produced lazily as a `Read` so a file of any size can be
//! parsed without being held in memory: ~10% failures with multi-line messages and Java/Python
//! stack traces, captured output, parametrized names, pytest-style reruns and Surefire
//! `<flakyFailure>`s. Shared by the memory test and the benchmark.

use std::io::Read;

pub(crate) struct JunitGenerator {
    cases: usize,
    next: usize,
    buf: Vec<u8>,
    pos: usize,
    finished: bool,
}

impl JunitGenerator {
    pub(crate) fn new(cases: usize) -> Self {
        let mut g = JunitGenerator {
            cases,
            next: 0,
            buf: Vec::new(),
            pos: 0,
            finished: false,
        };
        g.buf.extend_from_slice(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"generated\">\n<testsuite name=\"suite\" tests=\"0\" time=\"0\">\n",
        );
        g
    }

    /// The whole report in memory, for the benchmark's fixed inputs.
    #[allow(dead_code)] // only the benchmark holds whole reports
    pub(crate) fn bytes(cases: usize) -> Vec<u8> {
        let mut out = Vec::new();
        JunitGenerator::new(cases)
            .read_to_end(&mut out)
            .expect("generation does not fail");
        out
    }

    fn refill(&mut self) {
        self.buf.clear();
        self.pos = 0;
        if self.next >= self.cases {
            if !self.finished {
                self.buf.extend_from_slice(b"</testsuite>\n</testsuites>\n");
                self.finished = true;
            }
            return;
        }
        let i = self.next;
        self.next += 1;
        let class = format!("com.example.module{}.Service{}Test", i % 37, i % 101);
        let name = if i.is_multiple_of(5) {
            format!("test_case_{i}[param-{}-{}]", i % 7, i % 3)
        } else {
            format!("testMethod{i}")
        };
        let time = (i % 997) as f64 / 1000.0;
        let b = &mut self.buf;
        let failure = |b: &mut Vec<u8>, tag: &str, attempt: usize| {
            b.extend_from_slice(format!(
                "    <{tag} message=\"expected:&lt;{i}&gt; but was:&lt;{}&gt; (attempt {attempt})\" type=\"java.lang.AssertionError\">java.lang.AssertionError: expected:&lt;{i}&gt; but was:&lt;{}&gt;\n\tat org.junit.Assert.fail(Assert.java:89)\n\tat org.junit.Assert.failNotEquals(Assert.java:835)\n\tat org.junit.Assert.assertEquals(Assert.java:120)\n\tat {class}.{name}({}.java:{})\n\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)\n\tat java.base/java.lang.reflect.Method.invoke(Method.java:568)\n\tat org.junit.runners.model.FrameworkMethod$1.runReflectiveCall(FrameworkMethod.java:59)\n\tat 0x7ffe{i:08x} in /tmp/run-{i}/worker\n</{tag}>\n",
                i + 1, i + 1, class.rsplit('.').next().unwrap_or(""), 40 + i % 300
            ).as_bytes());
        };
        b.extend_from_slice(
            format!("  <testcase classname=\"{class}\" name=\"{name}\" time=\"{time:.3}\">\n")
                .as_bytes(),
        );
        match i % 10 {
            0 => failure(b, "failure", 1),
            1 if i % 20 == 1 => failure(b, "flakyFailure", 1),
            2 if i % 40 == 2 => {
                b.extend_from_slice(b"    <skipped message=\"disabled on this platform\"/>\n");
            }
            _ => {}
        }
        if i.is_multiple_of(4) {
            b.extend_from_slice(format!("    <system-out>INFO starting {name}\nDEBUG connecting to db-{}:5432\nINFO done in {time:.3}s\n</system-out>\n", i % 9).as_bytes());
        }
        b.extend_from_slice(b"  </testcase>\n");
        // A pytest-rerunfailures style rerun of every 50th test, after its failure.
        if i.is_multiple_of(50) {
            b.extend_from_slice(
                format!("  <testcase classname=\"{class}\" name=\"{name}\" time=\"{time:.3}\"/>\n")
                    .as_bytes(),
            );
        }
    }
}

impl Read for JunitGenerator {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            self.refill();
            if self.buf.is_empty() {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
