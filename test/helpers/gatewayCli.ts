/** The gateway's command line (local/cli.ts) as a child process: started until it is ready, or run to its exit. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../local/cli.ts', import.meta.url));
/** The package's command: the same gateway behind a check of the optional peers. */
const BIN = fileURLToPath(new URL('../../local/bin.ts', import.meta.url));

/** The environment without $PORT (so the default ports apply unless a test passes options), plus `extra`. */
function cliEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.PORT;
  return env;
}

export interface RunningCli {
  /** Everything written to stdout until the gateway was ready. */
  readonly output: string;
  /** Everything written to stderr so far (warnings come before the ready banner). */
  stderr(): string;
  /** stdout since the start, including what came after the banner. */
  stdout(): string;
  /** The `export NAME=value` lines of the banner. */
  readonly exports: Readonly<Record<string, string>>;
  readonly wsUrl: string;
  readonly callbackUrl: string;
  stop(): Promise<number | null>;
}

export async function startGatewayCli(args: readonly string[], env: Record<string, string> = {}, entry: 'cli' | 'bin' = 'cli'): Promise<RunningCli> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry === 'bin' ? BIN : CLI, ...args], {
    env: cliEnvironment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const output = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('Ctrl-C stops the gateway')) resolve(stdout);
    });
    child.once('exit', (code) => reject(new Error(`the CLI exited with ${code}: ${stdout}${stderr}`)));
  });
  const exports = Object.fromEntries([...output.matchAll(/^ {2}export (\w+)=(\S*)$/gm)].map((m) => [m[1]!, m[2]!]));
  return {
    output,
    exports,
    stderr: () => stderr,
    stdout: () => stdout,
    wsUrl: /WebSocket URL\s+(ws:\/\/\S+)/.exec(output)![1]!,
    callbackUrl: /Callback URL\s+(http:\/\/\S+)/.exec(output)![1]!,
    async stop() {
      child.kill('SIGINT');
      return new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** Runs the CLI to its exit: the exit code and what it wrote to each stream. */
export async function runGatewayCliToExit(args: readonly string[], script = CLI): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: cliEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
