// How the dashboard writes numbers, durations and times: one place, unit-tested.

/** 1234 → "1,234". */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** Milliseconds as a person reads them: "850 ms", "12.3 s", "4 m 05 s", "2 h 03 m". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h} h ${pad(m)} m` : `${m} m ${pad(sec)} s`;
}

/** A rate in [0, 1] as a percentage with one decimal ("97.5 %"); "—" when there is none. */
export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return "—";
  return `${(rate * 100).toFixed(1)} %`;
}

/** An RFC 3339 time relative to `now`: "just now", "5 min ago", "3 h ago", "2 d ago", else the date. */
export function ago(iso: string, now: Date = new Date()): string {
  const then = new Date(iso);
  const s = Math.round((now.getTime() - then.getTime()) / 1000);
  if (Number.isNaN(s)) return iso;
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 86400 * 14) return `${Math.round(s / 86400)} d ago`;
  return then.toISOString().slice(0, 10);
}

/** An RFC 3339 time as "2026-12-01 14:05 UTC" (the title of a relative time). */
export function when(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 16)} UTC`;
}

/** The first line of a message, cut to `max` characters with an ellipsis. */
export function firstLine(text: string | null | undefined, max = 160): string {
  if (!text) return "";
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** A commit sha as its first 8 characters. */
export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 8) : "";
}

function pad(n: number): string {
  return n.toString().padStart(2, "0");
}
