//! What the reference team of issue 16 pays AWS a month, from what `make bench-scale` measured
//! per result: 100,000 tests a run, 1,000 runs a day, kept 90 days, on DynamoDB on-demand and
//! S3 Standard. Reads are left out: a dashboard's reads are a small share of the writes.

/// Prices in US dollars, us-east-1, as AWS lists them since 2024-11-01 (DynamoDB on-demand
/// after that day's price cut; S3 Standard's first 50 TB).
pub mod prices {
    /// Per million write request units.
    pub const WRITE_PER_MILLION: f64 = 0.625;
    /// Per GB-month of table storage (Standard table class), indexes included.
    pub const STORAGE_PER_GB_MONTH: f64 = 0.25;
    /// Per GB-month of point-in-time recovery (on the table's size).
    pub const PITR_PER_GB_MONTH: f64 = 0.20;
    /// Per GB-month of S3 Standard (the raw uploads, kept as long as their run).
    pub const S3_PER_GB_MONTH: f64 = 0.023;
}

/// What one result costs, as measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerResult {
    /// Write units to ingest it (its items, index entries and rollups, and its share of the
    /// run's and file's bookkeeping).
    pub write_units: f64,
    /// Write units to delete what it left in the table.
    pub delete_units: f64,
    /// Bytes stored on the table, and in its indexes.
    pub table_bytes: f64,
    pub index_bytes: f64,
    /// Bytes of the raw report it came in.
    pub raw_bytes: f64,
}

/// A team's volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Team {
    pub tests_per_run: f64,
    pub runs_per_day: f64,
    pub retention_days: f64,
    /// The share of results that fail.
    pub failing: f64,
}

/// Issue 16's reference team, with 1% of results failing.
pub const REFERENCE_TEAM: Team = Team {
    tests_per_run: 100_000.0,
    runs_per_day: 1_000.0,
    retention_days: 90.0,
    failing: 0.01,
};

/// A month's bill, in dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bill {
    pub writes: f64,
    /// Retention's deletes, item by item.
    pub deletes: f64,
    pub storage: f64,
    pub pitr: f64,
    pub raw: f64,
}

impl Bill {
    pub fn total(&self) -> f64 {
        self.writes + self.deletes + self.storage + self.pitr + self.raw
    }
}

const DAYS_PER_MONTH: f64 = 30.0;
const GB: f64 = 1e9;

impl Team {
    /// Results ingested (and, at steady state, deleted) a month.
    pub fn results_per_month(&self) -> f64 {
        self.tests_per_run * self.runs_per_day * DAYS_PER_MONTH
    }

    /// The month's bill at steady state (as much deleted as ingested), with PITR or without.
    pub fn monthly_bill(&self, passing: &PerResult, failing: &PerResult, pitr: bool) -> Bill {
        let mix = |f: fn(&PerResult) -> f64| {
            (1.0 - self.failing) * f(passing) + self.failing * f(failing)
        };
        let monthly = self.results_per_month();
        let kept = self.tests_per_run * self.runs_per_day * self.retention_days;
        let table_gb = kept * mix(|r| r.table_bytes) / GB;
        let index_gb = kept * mix(|r| r.index_bytes) / GB;
        Bill {
            writes: monthly * mix(|r| r.write_units) / 1e6 * prices::WRITE_PER_MILLION,
            deletes: monthly * mix(|r| r.delete_units) / 1e6 * prices::WRITE_PER_MILLION,
            storage: (table_gb + index_gb) * prices::STORAGE_PER_GB_MONTH,
            pitr: if pitr {
                table_gb * prices::PITR_PER_GB_MONTH
            } else {
                0.0
            },
            raw: kept * mix(|r| r.raw_bytes) / GB * prices::S3_PER_GB_MONTH,
        }
    }

    /// The bill per million results kept for the retention.
    pub fn per_million_results(&self, bill: &Bill) -> f64 {
        bill.total() / (self.results_per_month() / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_of_a_write_unit_and_a_kilobyte_costs_what_the_prices_say() {
        let one = PerResult {
            write_units: 1.0,
            delete_units: 1.0,
            table_bytes: 1_000.0,
            index_bytes: 0.0,
            raw_bytes: 1_000.0,
        };
        let bill = REFERENCE_TEAM.monthly_bill(&one, &one, true);
        // 3 billion results a month, 9 billion kept.
        assert_eq!(REFERENCE_TEAM.results_per_month(), 3e9);
        assert!((bill.writes - 3_000.0 * 0.625).abs() < 1e-6);
        assert!((bill.deletes - bill.writes).abs() < 1e-6);
        assert!((bill.storage - 9_000.0 * 0.25).abs() < 1e-6);
        assert!((bill.pitr - 9_000.0 * 0.20).abs() < 1e-6);
        assert!((bill.raw - 9_000.0 * 0.023).abs() < 1e-6);
        let per_million = REFERENCE_TEAM.per_million_results(&bill);
        assert!((per_million - bill.total() / 3_000.0).abs() < 1e-9);
    }

    #[test]
    fn failing_results_weigh_by_their_share() {
        let cheap = PerResult {
            write_units: 2.0,
            delete_units: 0.0,
            table_bytes: 0.0,
            index_bytes: 0.0,
            raw_bytes: 0.0,
        };
        let dear = PerResult {
            write_units: 102.0,
            ..cheap
        };
        let bill = REFERENCE_TEAM.monthly_bill(&cheap, &dear, false);
        // 0.99 × 2 + 0.01 × 102 = 3 write units a result.
        assert!((bill.writes - 3e9 * 3.0 / 1e6 * 0.625).abs() < 1e-6);
        assert_eq!(bill.pitr, 0.0);
    }
}
