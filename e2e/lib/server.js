// Starts a real `joinery --dev` server for one test file: a free loopback port, a temporary
// data directory, accounts seeded with the CLI before the server starts. Nothing listens
// anywhere but 127.0.0.1.
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const run = promisify(execFile);

/** The repository root (e2e/ is one level down). */
export const ROOT = path.resolve(import.meta.dirname, '..', '..');
/** The binary under test; `run.sh` builds it with `cargo build --locked`. */
export const BINARY = process.env.JOINERY_BIN ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(ROOT, 'target'), 'debug', 'joinery');

/** A port that was free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilHealthy(base, child, log, deadline) {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`joinery exited with ${child.exitCode}:\n${log()}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`joinery did not become healthy at ${base}:\n${log()}`);
}

/**
 * Seeds `orgs` (each `{ name, plan, ownerEmail, ownerName, password }`, and optionally
 * `seats`, the seat limit the test needs) with
 * `joinery create-org` and `staff` (each `{ email, name, password }`) with
 * `joinery create-staff`, then serves the same data directory in development mode.
 * `env` adds environment variables for the server (e.g. a flag the test needs).
 * Returns `{ base, dataDir, orgIds, stop() }`.
 */
export async function startServer({ orgs = [], staff = [], env = {} } = {}) {
  await fs.access(BINARY).catch(() => {
    throw new Error(`${BINARY} is missing: run \`cargo build --locked\` first (e2e/run.sh does)`);
  });
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'joinery-e2e-'));
  const baseEnv = {
    ...process.env,
    JOINERY_DATA_DIR: dataDir,
    JOINERY_LOG: 'warn',
    // Every test logs in several times a minute from 127.0.0.1.
    JOINERY_LOGIN_ATTEMPTS_PER_MINUTE: '10000',
  };
  delete baseEnv.DATABASE_URL;
  delete baseEnv.JOINERY_SMTP_URL;
  const orgIds = {};
  for (const org of orgs) {
    const { stdout } = await run(
      BINARY,
      ['create-org', '--dev', '--name', org.name, '--plan', org.plan,
        '--owner-email', org.ownerEmail, '--owner-name', org.ownerName,
        ...(org.seats === undefined ? [] : ['--seats', String(org.seats)])],
      { env: { ...baseEnv, JOINERY_PASSWORD: org.password } },
    );
    const id = /\(([0-9a-f-]{36})\)/.exec(stdout);
    if (!id) throw new Error(`create-org printed no id: ${stdout}`);
    orgIds[org.name] = id[1];
  }
  for (const person of staff) {
    await run(
      BINARY,
      ['create-staff', '--dev', '--email', person.email, '--name', person.name],
      { env: { ...baseEnv, JOINERY_PASSWORD: person.password } },
    );
  }

  // A port can be taken between asking and binding; try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let output = '';
    const child = spawn(BINARY, ['--dev'], {
      env: { ...baseEnv, ...env, JOINERY_BIND: `127.0.0.1:${port}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk) => {
      output = (output + chunk).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    try {
      await waitUntilHealthy(base, child, () => output, Date.now() + 15_000);
    } catch (e) {
      child.kill('SIGKILL');
      if (attempt < 3) continue;
      throw e;
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    return {
      base,
      dataDir,
      orgIds,
      log: () => output,
      async stop() {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        await fs.rm(dataDir, { recursive: true, force: true });
      },
    };
  }
}
