/**
 * CloudWatch Embedded Metric Format, as tests see it: a check of one line against the EMF
 * specification (the `_aws` envelope, every dimension and metric it names present at the root, at
 * most 30 dimensions and 100 values), and a capture of the EMF lines written to this process's
 * stdout (which also carries the stdout of the local gateway's function workers).
 */
import assert from 'node:assert/strict';

export interface EmfLine {
  readonly namespace: string;
  readonly dimensions: Record<string, string>;
  /** Metric name -> the sum of its values in this line. */
  readonly counts: Record<string, number>;
  /** Metric name -> unit. */
  readonly units: Record<string, string>;
  readonly timestamp: number;
}

/** Parses one line and asserts it is well-formed EMF with a single metric directive. */
export function parseEmf(line: string): EmfLine {
  const root = JSON.parse(line) as Record<string, unknown> & { _aws?: { Timestamp?: unknown; CloudWatchMetrics?: unknown } };
  assert.equal(typeof root._aws, 'object', 'an _aws envelope');
  assert.ok(Number.isInteger(root._aws!.Timestamp) && Math.abs((root._aws!.Timestamp as number) - Date.now()) < 3_600_000, 'Timestamp: epoch ms, recent');
  const directives = root._aws!.CloudWatchMetrics as Array<{ Namespace: unknown; Dimensions: unknown; Metrics: unknown }>;
  assert.ok(Array.isArray(directives) && directives.length === 1, 'one metric directive');
  const [directive] = directives;
  assert.equal(typeof directive!.Namespace, 'string');
  const dimensionSets = directive!.Dimensions as unknown[][];
  assert.ok(Array.isArray(dimensionSets) && dimensionSets.length === 1 && Array.isArray(dimensionSets[0]), 'one dimension set');
  assert.ok(dimensionSets[0]!.length <= 30);
  const dimensions: Record<string, string> = {};
  for (const name of dimensionSets[0]!) {
    assert.equal(typeof name, 'string');
    assert.equal(typeof root[name as string], 'string', `dimension ${String(name)} is a string at the root`);
    dimensions[name as string] = root[name as string] as string;
  }
  const counts: Record<string, number> = {};
  const units: Record<string, string> = {};
  const metrics = directive!.Metrics as Array<{ Name: unknown; Unit?: unknown }>;
  assert.ok(Array.isArray(metrics) && metrics.length > 0 && metrics.length <= 100);
  for (const metric of metrics) {
    assert.equal(typeof metric.Name, 'string');
    const name = metric.Name as string;
    const value = root[name];
    const values = Array.isArray(value) ? value : [value];
    assert.ok(
      values.length >= 1 && values.length <= 100 && values.every((v) => typeof v === 'number' && Number.isFinite(v)),
      `metric ${name} has 1-100 numbers at the root`,
    );
    counts[name] = (values as number[]).reduce((a, b) => a + b, 0);
    units[name] = String(metric.Unit);
  }
  return { namespace: directive!.Namespace as string, dimensions, counts, units, timestamp: root._aws!.Timestamp as number };
}

/**
 * Records every EMF line written to process.stdout (by this thread or a worker thread) until
 * `stop()`. Everything else passes through byte for byte: under `node --test` this stdout also
 * carries the runner's own (binary) messages. A write made only of EMF lines (how a function's
 * output arrives from its worker) is kept out of the test output.
 */
export function captureEmf(): { lines: EmfLine[]; raw: string[]; stop(): void } {
  const lines: EmfLine[] = [];
  const raw: string[] = [];
  const original = process.stdout.write;
  process.stdout.write = function (this: typeof process.stdout, chunk: unknown, ...rest: unknown[]): boolean {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('latin1');
    let onlyEmf = text.length > 0;
    for (const part of text.split('\n')) {
      if (part === '') continue;
      const at = part.indexOf('{"_aws":');
      if (at === -1) {
        onlyEmf = false;
        continue;
      }
      if (at > 0) onlyEmf = false;
      const line = Buffer.from(part.slice(at), 'latin1').toString('utf8');
      raw.push(line);
      lines.push(parseEmf(line));
    }
    if (!onlyEmf) return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (callback) process.nextTick(callback);
    return true;
  } as typeof process.stdout.write;
  return {
    lines,
    raw,
    stop() {
      process.stdout.write = original;
    },
  };
}

/** The sum of each metric over some lines (absent metrics are absent). */
export function totals(lines: readonly EmfLine[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const line of lines) for (const [name, value] of Object.entries(line.counts)) sum[name] = (sum[name] ?? 0) + value;
  return sum;
}
