//! The limits mode of the fault proxy: what AWS enforces per partition key and DynamoDB Local
//! does not. Each partition key value of the table and of each index has a token bucket
//! (1,000 WCU/s and 3,000 RCU/s on AWS; lower here, so a benchmark meets them at a smaller
//! scale), holding at most `burst_s` seconds of capacity. A request that touches a partition
//! whose bucket is empty is answered `ProvisionedThroughputExceededException`, or, inside a
//! `BatchWriteItem`, handed back as `UnprocessedItems`; a request let through is charged what
//! it consumed, so a bucket may go below zero and the partition waits until it refills.
//!
//! What a write consumes is counted as AWS bills it: 1 WCU per KB of the item, rounded up (2
//! in a transaction), on the table's partition, and 1 WCU per KB of its projection on each index
//! whose key it carries. The proxy reads the item from a put; for an update it asks DynamoDB
//! Local for the new image and the consumed capacity (`ReturnValues`,
//! `ReturnConsumedCapacity`, taken out of the answer again when the caller did not ask for
//! them). An update, delete or condition check inside a transaction is charged at least 2, as
//! AWS bills each item of up to 1 KB there: DynamoDB Local reports 2 for a whole transaction,
//! whatever it holds (10 updates: 2), so its report would undercount (larger items updated in
//! a transaction, such as a run item of several KB, are still undercounted). Reads are charged
//! what DynamoDB Local says they consumed, on the partition the key (or the Query's key
//! condition) names.

use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The limits of one partition key value.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Write capacity units per second.
    pub wcu_per_s: f64,
    /// Read capacity units per second.
    pub rcu_per_s: f64,
    /// Seconds of unused capacity a partition may bank.
    pub burst_s: f64,
}

impl Limits {
    /// AWS's, per partition key value.
    pub const AWS: Limits = Limits {
        wcu_per_s: 1_000.0,
        rcu_per_s: 3_000.0,
        burst_s: 1.0,
    };
}

/// An index of the table as the limits see it: its keys and what it copies of an item
/// (`verdict_store::index_keys()` gives the table's).
pub use verdict_store::IndexKeys as IndexKey;

/// What the limits did so far.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LimitsReport {
    /// Requests answered `ProvisionedThroughputExceededException`.
    pub throttled_requests: u64,
    /// Writes of a `BatchWriteItem` handed back as unprocessed.
    pub unprocessed_writes: u64,
    /// Write and read units charged, over all partitions.
    pub wcu: f64,
    pub rcu: f64,
    /// The most write units charged to one partition, and which.
    pub hottest_wcu: f64,
    pub hottest: String,
}

#[derive(Debug)]
struct Bucket {
    write: f64,
    read: f64,
    at: Instant,
    written: f64,
}

/// The token buckets of every partition seen.
pub(crate) struct Limiter {
    limits: Limits,
    indexes: Vec<IndexKey>,
    buckets: Mutex<HashMap<String, Bucket>>,
    report: Mutex<LimitsReport>,
}

/// A request's fate: answered at once, or forwarded (its body as changed) and charged after.
pub(crate) enum Admission {
    Throttled,
    Forward { body: Value, charge: Charge },
}

/// What to charge once DynamoDB Local answered, and what to take out of its answer.
#[derive(Debug, Default)]
pub(crate) struct Charge {
    /// Write units already taken at admission (the items of puts, known before the call).
    taken: f64,
    /// Partitions charged what the answer says was consumed, split evenly (reads, updates).
    consumed_write: Vec<String>,
    /// The least each of `consumed_write` is charged: 1 WCU, or 2 in a transaction, as AWS
    /// bills an item of up to 1 KB (DynamoDB Local reports 2 for a whole transaction of any size).
    least_write: f64,
    consumed_read: Vec<String>,
    /// Index partitions come from the new image the answer carries.
    from_new_image: bool,
    strip_attributes: bool,
    strip_consumed: bool,
    /// Writes of a batch handed back before forwarding.
    unprocessed: Option<Map<String, Value>>,
}

impl Limiter {
    pub(crate) fn new(limits: Limits, indexes: Vec<IndexKey>) -> Limiter {
        Limiter {
            limits,
            indexes,
            buckets: Mutex::default(),
            report: Mutex::default(),
        }
    }

    pub(crate) fn report(&self) -> LimitsReport {
        self.report.lock().unwrap().clone()
    }

    /// Takes `writes` (partition, units) if every partition has write capacity left; false,
    /// taking nothing, if one has none.
    fn take(&self, writes: &[(String, f64)]) -> bool {
        let keys: Vec<String> = writes.iter().map(|(k, _)| k.clone()).collect();
        if !self.open(&keys, true) {
            return false;
        }
        for (key, units) in writes {
            self.charge_write(key, *units);
        }
        true
    }

    /// Whether every partition in `keys` has capacity left (after refilling).
    fn open(&self, keys: &[String], write: bool) -> bool {
        let mut buckets = self.buckets.lock().unwrap();
        let now = Instant::now();
        keys.iter().all(|key| {
            let bucket = self.bucket(&mut buckets, key, now);
            // The least a request consumes: a write unit, or half a read unit.
            if write {
                bucket.write >= 1.0
            } else {
                bucket.read >= 0.5
            }
        })
    }

    fn bucket<'b>(
        &self,
        buckets: &'b mut HashMap<String, Bucket>,
        key: &str,
        now: Instant,
    ) -> &'b mut Bucket {
        let limits = self.limits;
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            write: limits.wcu_per_s * limits.burst_s,
            read: limits.rcu_per_s * limits.burst_s,
            at: now,
            written: 0.0,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.write =
            (bucket.write + elapsed * limits.wcu_per_s).min(limits.wcu_per_s * limits.burst_s);
        bucket.read =
            (bucket.read + elapsed * limits.rcu_per_s).min(limits.rcu_per_s * limits.burst_s);
        bucket.at = now;
        bucket
    }

    fn charge_write(&self, key: &str, units: f64) {
        let mut buckets = self.buckets.lock().unwrap();
        let bucket = self.bucket(&mut buckets, key, Instant::now());
        bucket.write -= units;
        bucket.written += units;
        let written = bucket.written;
        let mut report = self.report.lock().unwrap();
        report.wcu += units;
        if written > report.hottest_wcu {
            report.hottest_wcu = written;
            report.hottest = key.to_string();
        }
    }

    fn charge_read(&self, key: &str, units: f64) {
        let mut buckets = self.buckets.lock().unwrap();
        self.bucket(&mut buckets, key, Instant::now()).read -= units;
        self.report.lock().unwrap().rcu += units;
    }

    /// The partitions an item is written to, with the write units each costs.
    fn item_writes(&self, item: &Value, factor: f64) -> Vec<(String, f64)> {
        let mut writes = Vec::new();
        if let Some(pk) = item["pk"]["S"].as_str() {
            writes.push((format!("table#{pk}"), factor * wcu(item_size(item))));
        }
        for index in &self.indexes {
            let (Some(pk), true) = (item[index.pk]["S"].as_str(), item.get(index.sk).is_some())
            else {
                continue;
            };
            let projected = item.as_object().map_or(0, |m| {
                m.iter()
                    .filter(|(k, _)| (index.projects)(k))
                    .map(|(k, v)| k.len() + value_size(v))
                    .sum()
            });
            writes.push((format!("{}#{pk}", index.name), wcu(projected)));
        }
        writes
    }

    /// Decides on a DynamoDB request (`operation`, its JSON body) before it is forwarded.
    pub(crate) fn admit(&self, operation: &str, mut body: Value) -> Admission {
        let table_key = |key: &Value| {
            key["pk"]["S"]
                .as_str()
                .map(|pk| format!("table#{pk}"))
                .unwrap_or_default()
        };
        let mut charge = Charge::default();
        match operation {
            "PutItem" if !self.take(&self.item_writes(&body["Item"], 1.0)) => {
                return self.throttled();
            }
            "UpdateItem" | "DeleteItem" => {
                let key = table_key(&body["Key"]);
                if !self.open(std::slice::from_ref(&key), true) {
                    return self.throttled();
                }
                charge.consumed_write = vec![key];
                if operation == "UpdateItem" && body.get("ReturnValues").is_none() {
                    body["ReturnValues"] = json!("ALL_NEW");
                    charge.strip_attributes = true;
                    charge.from_new_image = true;
                }
                charge.strip_consumed = ask_consumed(&mut body);
            }
            "BatchWriteItem" => {
                let mut unprocessed = Map::new();
                if let Some(tables) = body["RequestItems"].as_object_mut() {
                    for (table, requests) in tables.iter_mut() {
                        let Some(list) = requests.as_array_mut() else {
                            continue;
                        };
                        let mut kept = Vec::new();
                        for request in list.drain(..) {
                            let writes = match request.get("PutRequest") {
                                Some(put) => self.item_writes(&put["Item"], 1.0),
                                None => vec![(table_key(&request["DeleteRequest"]["Key"]), 1.0)],
                            };
                            if self.take(&writes) {
                                kept.push(request);
                            } else {
                                unprocessed
                                    .entry(table.clone())
                                    .or_insert_with(|| json!([]))
                                    .as_array_mut()
                                    .unwrap()
                                    .push(request);
                            }
                        }
                        *list = kept;
                    }
                    tables.retain(|_, w| w.as_array().is_some_and(|l| !l.is_empty()));
                    if tables.is_empty() {
                        return self.throttled();
                    }
                }
                if !unprocessed.is_empty() {
                    let count: usize = unprocessed
                        .values()
                        .filter_map(Value::as_array)
                        .map(Vec::len)
                        .sum();
                    self.report.lock().unwrap().unprocessed_writes += count as u64;
                    charge.unprocessed = Some(unprocessed);
                }
            }
            "TransactWriteItems" => {
                let mut puts = Vec::new();
                for action in body["TransactItems"].as_array().into_iter().flatten() {
                    if let Some(put) = action.get("Put") {
                        puts.extend(self.item_writes(&put["Item"], 2.0));
                    }
                    for kind in ["Update", "Delete", "ConditionCheck"] {
                        if let Some(op) = action.get(kind) {
                            charge.consumed_write.push(table_key(&op["Key"]));
                        }
                    }
                }
                charge.least_write = 2.0;
                if !self.open(&charge.consumed_write, true) || !self.take(&puts) {
                    return self.throttled();
                }
                charge.taken = puts.iter().map(|(_, u)| u).sum();
                charge.strip_consumed = ask_consumed(&mut body);
            }
            "GetItem" => {
                let key = table_key(&body["Key"]);
                if !self.open(std::slice::from_ref(&key), false) {
                    return self.throttled();
                }
                charge.consumed_read = vec![key];
                charge.strip_consumed = ask_consumed(&mut body);
            }
            "Query" => {
                let key = query_partition(&body);
                if !self.open(std::slice::from_ref(&key), false) {
                    return self.throttled();
                }
                charge.consumed_read = vec![key];
                charge.strip_consumed = ask_consumed(&mut body);
            }
            "BatchGetItem" => {
                let keys: Vec<String> = body["RequestItems"]
                    .as_object()
                    .into_iter()
                    .flat_map(|tables| tables.values())
                    .flat_map(|t| t["Keys"].as_array().cloned().unwrap_or_default())
                    .map(|k| table_key(&k))
                    .collect();
                if !self.open(&keys, false) {
                    return self.throttled();
                }
                charge.consumed_read = keys;
                charge.strip_consumed = ask_consumed(&mut body);
            }
            _ => {}
        }
        Admission::Forward { body, charge }
    }

    fn throttled(&self) -> Admission {
        self.report.lock().unwrap().throttled_requests += 1;
        Admission::Throttled
    }

    /// Charges a forwarded request from DynamoDB Local's answer (status 200), and gives the
    /// caller the answer it asked for.
    pub(crate) fn settle(&self, charge: Charge, answer: &mut Value) {
        let consumed = consumed_units(answer);
        if !charge.consumed_write.is_empty() {
            let rest = (consumed.table - charge.taken).max(0.0);
            let share =
                (rest / charge.consumed_write.len() as f64).max(charge.least_write.max(1.0));
            for key in &charge.consumed_write {
                self.charge_write(key, share);
            }
        }
        if charge.from_new_image {
            for index in &self.indexes {
                let image = &answer["Attributes"];
                if let (Some(pk), true) =
                    (image[index.pk]["S"].as_str(), image.get(index.sk).is_some())
                {
                    let units = consumed.indexes.get(index.name).copied().unwrap_or(1.0);
                    self.charge_write(&format!("{}#{pk}", index.name), units);
                }
            }
        }
        if !charge.consumed_read.is_empty() {
            let share = consumed.table.max(0.5) / charge.consumed_read.len() as f64;
            for key in &charge.consumed_read {
                self.charge_read(key, share);
            }
        }
        if let Some(object) = answer.as_object_mut() {
            if charge.strip_attributes {
                object.remove("Attributes");
            }
            if charge.strip_consumed {
                object.remove("ConsumedCapacity");
            }
        }
        if let Some(unprocessed) = charge.unprocessed {
            let into = answer["UnprocessedItems"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let mut merged = into;
            for (table, writes) in unprocessed {
                let list = merged.entry(table).or_insert_with(|| json!([]));
                if let (Some(list), Some(writes)) = (list.as_array_mut(), writes.as_array()) {
                    list.extend(writes.iter().cloned());
                }
            }
            answer["UnprocessedItems"] = Value::Object(merged);
        }
    }
}

/// Asks for the consumed capacity per index; true when the caller had not (take it out).
fn ask_consumed(body: &mut Value) -> bool {
    if body.get("ReturnConsumedCapacity").is_some() {
        return false;
    }
    body["ReturnConsumedCapacity"] = json!("INDEXES");
    true
}

/// What an answer says was consumed: on the table (its local indexes included) and per global
/// index, summed over its entries.
struct Consumed {
    table: f64,
    indexes: HashMap<String, f64>,
}

fn consumed_units(answer: &Value) -> Consumed {
    let entries: Vec<&Value> = match &answer["ConsumedCapacity"] {
        Value::Array(list) => list.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    };
    let mut consumed = Consumed {
        table: 0.0,
        indexes: HashMap::new(),
    };
    for entry in entries {
        let table = entry["Table"]["CapacityUnits"]
            .as_f64()
            .or_else(|| entry["CapacityUnits"].as_f64())
            .unwrap_or(0.0);
        consumed.table += table;
        if let Some(indexes) = entry["GlobalSecondaryIndexes"].as_object() {
            for (name, units) in indexes {
                *consumed.indexes.entry(name.clone()).or_default() +=
                    units["CapacityUnits"].as_f64().unwrap_or(0.0);
            }
        }
    }
    consumed
}

/// The partition a Query reads: its index (or the table) and the value its key condition
/// gives the partition key (the first `name = :value` of the condition).
fn query_partition(body: &Value) -> String {
    let condition = body["KeyConditionExpression"].as_str().unwrap_or_default();
    let value = condition
        .split(" AND ")
        .next()
        .and_then(|first| first.split_once('='))
        .map(|(_, v)| v.trim())
        .and_then(|placeholder| body["ExpressionAttributeValues"][placeholder]["S"].as_str())
        .unwrap_or_default();
    let space = body["IndexName"].as_str().unwrap_or("table");
    format!("{space}#{value}")
}

/// Write units for an item of `bytes`: 1 per KB, rounded up.
fn wcu(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// An item's size as DynamoDB counts it: each attribute's name and value.
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .map_or(0, |m| m.iter().map(|(k, v)| k.len() + value_size(v)).sum())
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|m| m.iter().next()) else {
        return 0;
    };
    let text = |v: &Value| v.as_str().map_or(0, str::len);
    match kind.as_str() {
        "S" => text(inner),
        // Numbers take about a byte per two digits, plus one.
        "N" => text(inner).div_ceil(2) + 1,
        "B" => text(inner) * 3 / 4,
        "BOOL" | "NULL" => 1,
        "SS" | "NS" | "BS" => inner.as_array().map_or(0, |l| l.iter().map(text).sum()),
        "L" => {
            3 + inner
                .as_array()
                .map_or(0, |l| l.iter().map(|v| 1 + value_size(v)).sum())
        }
        "M" => {
            3 + inner.as_object().map_or(0, |m| {
                m.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum()
            })
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(wcu: f64) -> Limiter {
        Limiter::new(
            Limits {
                wcu_per_s: wcu,
                rcu_per_s: wcu,
                burst_s: 1.0,
            },
            vec![IndexKey {
                name: "fingerprint",
                pk: "fp_pk",
                sk: "fp_sk",
                projects: Box::new(|n| ["pk", "sk", "fp_pk", "fp_sk", "message"].contains(&n)),
            }],
        )
    }

    fn put(pk: &str, text_bytes: usize) -> Value {
        json!({"Item": {
            "pk": {"S": pk}, "sk": {"S": "T#1"}, "fp_pk": {"S": "acme#f"}, "fp_sk": {"S": "1"},
            "parts": {"S": "x".repeat(text_bytes)}, "message": {"S": "boom"},
        }})
    }

    #[test]
    fn an_item_costs_a_write_unit_per_kb_on_the_table_and_its_projection_on_each_index() {
        let limiter = limiter(1_000.0);
        assert_eq!(
            limiter.item_writes(&put("R#a", 2_500)["Item"], 1.0),
            [
                ("table#R#a".into(), 3.0),
                ("fingerprint#acme#f".into(), 1.0)
            ]
        );
        assert!(matches!(
            limiter.admit("PutItem", put("R#a", 2_500)),
            Admission::Forward { .. }
        ));
        assert_eq!(limiter.report().wcu, 4.0);
    }

    #[test]
    fn each_update_of_a_transaction_costs_two_units_whatever_dynamodb_local_reports() {
        let limiter = limiter(1_000.0);
        let update = |pk: &str| json!({"Update": {"TableName": "t", "Key": {"pk": {"S": pk}, "sk": {"S": "x"}}}});
        let body = json!({"TransactItems": [update("G#a"), update("G#b"), update("R#r")]});
        let Admission::Forward { charge, .. } = limiter.admit("TransactWriteItems", body) else {
            panic!("throttled")
        };
        // What DynamoDB Local answers for a transaction of any size.
        limiter.settle(
            charge,
            &mut json!({"ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 2.0}]}),
        );
        assert_eq!(limiter.report().wcu, 6.0);
    }

    #[test]
    fn a_partition_over_its_capacity_is_refused_and_others_are_not() {
        let limiter = limiter(10.0);
        // 10 units banked: ten 1-KB puts, then the eleventh is refused.
        for _ in 0..10 {
            let Admission::Forward { charge, .. } = limiter.admit("PutItem", put("R#a", 10)) else {
                panic!("throttled early")
            };
            limiter.settle(charge, &mut json!({}));
        }
        assert!(matches!(
            limiter.admit("PutItem", put("R#a", 10)),
            Admission::Throttled
        ));
        // The index partition is as spent: another table partition on the same fingerprint waits.
        assert!(matches!(
            limiter.admit("PutItem", put("R#b", 10)),
            Admission::Throttled
        ));
        let mut other = put("R#c", 10);
        other["Item"]["fp_pk"] = json!({"S": "acme#g"});
        assert!(matches!(
            limiter.admit("PutItem", other),
            Admission::Forward { .. }
        ));
        assert_eq!(limiter.report().throttled_requests, 2);
        assert_eq!(limiter.report().hottest, "table#R#a");
    }

    #[test]
    fn a_batch_forwards_what_has_capacity_and_hands_back_the_rest() {
        let limiter = limiter(2.0);
        let requests: Vec<Value> = ["R#a", "R#a", "R#a", "R#b"]
            .iter()
            .enumerate()
            .map(|(i, pk)| {
                let mut item = put(pk, 10)["Item"].clone();
                item["fp_pk"] = json!({"S": format!("acme#{i}")});
                json!({"PutRequest": {"Item": item}})
            })
            .collect();
        let body = json!({"RequestItems": {"t": requests}});
        let Admission::Forward { body, charge } = limiter.admit("BatchWriteItem", body) else {
            panic!("throttled")
        };
        // R#a has 2 units: its third put waits; R#b's goes.
        assert_eq!(body["RequestItems"]["t"].as_array().unwrap().len(), 3);
        let mut answer = json!({"UnprocessedItems": {}});
        limiter.settle(charge, &mut answer);
        assert_eq!(answer["UnprocessedItems"]["t"].as_array().unwrap().len(), 1);
        assert_eq!(limiter.report().unprocessed_writes, 1);
    }
}
