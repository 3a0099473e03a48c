/** `ln-mailbox relay`: settings precedence and validation, and the real command with SIGTERM. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from '../../base/errors.js';
import { relayOrigin } from '../../protocol/relay.js';
import { DEFAULT_CONFIG, SETTINGS, resolveConfig } from '../../server/config.js';
import { loadRelayConfig, relayUsage } from '../../server/cli.js';
import { throwsCode } from '../helpers.js';
import { TestSocket, newMailbox, request } from './relay-harness.js';

const t = suite('relay cli and config');

t('defaults are the documented ones', () => {
  const c = resolveConfig();
  assert.equal(c, { ...DEFAULT_CONFIG });
  assert.is(c.port, 8080);
  assert.is(c.host, '127.0.0.1');
  assert.is(c.dataDir, './data');
  assert.is(c.maxEnvelopeBytes, 65536);
  assert.is(c.maxTtlSeconds, 30 * 86400);
});

t('flags > environment > config file > defaults', () => {
  const dir = fs.mkdtempSync(os.tmpdir() + '/lnmb-');
  const file = `${dir}/relay.json`;
  fs.writeFileSync(file, JSON.stringify({ port: 1111, powBits: 3, maxTtlSeconds: 1000, logLevel: 'warn' }));
  const c = loadRelayConfig(['--config', file, '--port', '3333', '--data-dir', '/tmp/x'], {
    LNMB_PORT: '2222',
    LNMB_POW_BITS: '4',
    LNMB_LOG_LEVEL: 'error',
  });
  assert.is(c.port, 3333, 'flag wins');
  assert.is(c.powBits, 4, 'env beats file');
  assert.is(c.logLevel, 'error');
  assert.is(c.maxTtlSeconds, 1000, 'file beats default');
  assert.is(c.dataDir, '/tmp/x');
  assert.is(c.defaultTtlSeconds, 1000, 'the default TTL follows a lowered maximum');
  const viaEnvFile = loadRelayConfig([], { LNMB_CONFIG: file });
  assert.is(viaEnvFile.port, 1111);
  fs.rmSync(dir, { recursive: true, force: true });
});

t('every setting has a flag and an env var, and bad values are refused by name', () => {
  for (const s of SETTINGS) {
    assert.ok(relayUsage().includes(s.flag), s.flag);
    assert.match(s.env, /^LNMB_[A-Z_]+$/);
  }
  for (const f of ['--host', '--port', '--data-dir', '--public-url', '--log-level'])
    assert.ok(
      SETTINGS.some((s) => s.flag === f),
      f,
    );
  throwsCode(() => loadRelayConfig(['--port', 'eighty']), ErrorCode.INVALID_TYPE);
  throwsCode(() => loadRelayConfig(['--port', '70000']), ErrorCode.INVALID_RANGE);
  throwsCode(() => loadRelayConfig(['--log-level', 'loud']), ErrorCode.INVALID_TYPE);
  throwsCode(() => loadRelayConfig(['--public-url', 'ftp://x']), ErrorCode.INVALID_RANGE);
  throwsCode(() => loadRelayConfig([], { LNMB_MAX_TTL_SECONDS: '10', LNMB_DEFAULT_TTL_SECONDS: '20' }), ErrorCode.INVALID_RANGE);
  throwsCode(() => resolveConfig({ portt: 1 } as never), ErrorCode.INVALID_TYPE);
  assert.throws(() => loadRelayConfig(['--no-such-flag', '1']));
});

t('docs/operators.md documents every setting with its flag, env var and default', () => {
  const doc = fs.readFileSync(new URL('../../docs/operators.md', import.meta.url), 'utf8');
  for (const s of SETTINGS) {
    const d = DEFAULT_CONFIG[s.key];
    const row = `| \`${s.key}\` | \`${s.flag}\` | \`${s.env}\` | ${d === undefined ? '(unset)' : `\`${d}\``} |`;
    assert.ok(doc.includes(row), `missing or stale row: ${row}`);
  }
});

t('the real command: starts, serves /v1/info, SIGTERM closes sockets with 1001 and exits 0', async () => {
  const dir = fs.mkdtempSync(os.tmpdir() + '/lnmb-');
  const bin = fileURLToPath(new URL('../../bin/ln-mailbox.ts', import.meta.url));
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', bin, 'relay', '--port', '0', '--data-dir', `${dir}/nested/data`, '--log-level', 'silent'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      proc.once('exit', () => reject(new Error(`exited early: ${out}`)));
    });
    assert.is((await request(`${url}/v1/info`)).body.protocol, 1);
    const s = new TestSocket(url);
    await s.auth(newMailbox(), relayOrigin(url));
    proc.kill('SIGTERM');
    assert.is((await s.closed).code, 1001);
    assert.is(await exited, 0);
    assert.ok(fs.existsSync(`${dir}/nested/data/CURRENT`), 'LevelDB created in the data dir');
  } finally {
    proc.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
