// Grouping a run's failing results by their failure fingerprint.

export type Failing = {
  test_id: string;
  name: string;
  classname: string;
  message: string | null;
  fingerprint: string | null;
};

export type Group<T extends Failing> = { key: string; fingerprint: string | null; tests: T[] };

/** Groups by fingerprint (a result without one is a group of its own), largest group first,
 * ties in the order the results came. */
export function groupFailures<T extends Failing>(rows: T[]): Group<T>[] {
  const groups = new Map<string, Group<T>>();
  for (const row of rows) {
    const key = row.fingerprint ?? `test:${row.test_id}`;
    let group = groups.get(key);
    if (!group) {
      group = { key, fingerprint: row.fingerprint, tests: [] };
      groups.set(key, group);
    }
    group.tests.push(row);
  }
  return [...groups.values()].sort((a, b) => b.tests.length - a.tests.length);
}
