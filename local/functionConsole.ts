/**
 * What the commands print of the functions' own output: each line with the function's name, except
 * the CloudWatch embedded metric format (EMF) records, one JSON blob per connect and per send, which
 * are for CloudWatch rather than for people: those are added up and printed as one summary line now
 * and then (and when the gateway stops), or shown as they are with `--verbose`.
 */
import type { FunctionOutput } from './workerFunction.ts';

export interface FunctionConsoleOptions {
  /** Print EMF records as they come instead of summing them. */
  readonly verbose: boolean;
  readonly write: (line: string, stream: 'stdout' | 'stderr') => void;
  /** How often a summary of the EMF records since the last one is printed. @default 30000 */
  readonly summaryEveryMs?: number;
  /** How to see each record, said once with the first summary. @default '--verbose prints each record' */
  readonly verboseHint?: string;
}

export interface FunctionConsole {
  readonly output: FunctionOutput;
  /** Prints the summary of what was not summarized yet; stops the timer. */
  flush(): void;
}

/** The metric values of an EMF record (`{ _aws: { CloudWatchMetrics: [{ Metrics: [{ Name }] }] }, Name: value }`), else undefined. */
export function emfMetrics(line: string): Map<string, number> | undefined {
  const start = line.indexOf('{');
  if (start === -1 || !line.includes('"_aws"')) return undefined;
  let record: { _aws?: { CloudWatchMetrics?: Array<{ Metrics?: Array<{ Name?: string }> }> } } & Record<string, unknown>;
  try {
    record = JSON.parse(line.slice(start));
  } catch {
    return undefined;
  }
  const directives = record._aws?.CloudWatchMetrics;
  if (!Array.isArray(directives)) return undefined;
  const metrics = new Map<string, number>();
  for (const directive of directives) {
    for (const { Name } of directive.Metrics ?? []) {
      if (!Name) continue;
      const value = record[Name];
      const sum = Array.isArray(value) ? value.reduce((a: number, v) => a + Number(v), 0) : Number(value);
      if (Number.isFinite(sum)) metrics.set(Name, (metrics.get(Name) ?? 0) + sum);
    }
  }
  return metrics;
}

export function createFunctionConsole(options: FunctionConsoleOptions): FunctionConsole {
  let records = 0;
  const totals = new Map<string, number>();
  let noticeGiven = false;
  const summarize = () => {
    if (records === 0) return;
    const figures = [...totals].map(([name, value]) => `${name}=${Number.isInteger(value) ? value : value.toFixed(2)}`).join(' ');
    options.write(
      `metrics: ${records} EMF record${records === 1 ? '' : 's'} from the functions: ${figures}${noticeGiven ? '' : ` (${options.verboseHint ?? '--verbose prints each record'})`}`,
      'stdout',
    );
    noticeGiven = true;
    records = 0;
    totals.clear();
  };
  const timer = setInterval(summarize, options.summaryEveryMs ?? 30_000);
  timer.unref();
  return {
    output(functionName, line, stream) {
      const metrics = options.verbose ? undefined : emfMetrics(line);
      if (!metrics) {
        options.write(`${functionName}: ${line}`, stream);
        return;
      }
      records++;
      for (const [name, value] of metrics) totals.set(name, (totals.get(name) ?? 0) + value);
    },
    flush() {
      clearInterval(timer);
      summarize();
    },
  };
}
