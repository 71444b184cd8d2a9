import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readYaml } from '../helpers/prometheus.js';
import { describeWithTools, tools } from '../helpers/tools.js';

const root = resolve(import.meta.dirname, '../..');

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | null>;
  secrets?: ({ source: string; target?: string } | string)[];
  volumes?: (string | { source: string; target: string; read_only?: boolean })[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  profiles?: string[];
}
interface Compose {
  services: Record<string, Service>;
  secrets: Record<string, { file?: string; external?: boolean }>;
}

const secretFiles = [
  'data_key',
  'redis-users.acl',
  'redis_worker_password',
  'redis_enqueue_password',
  'redis_ops_password',
  'redis_audit_retention_password',
  'inbox_tls_cert.pem',
  'inbox_tls_key.pem',
  'inbox_tls_ca.pem',
];

function secretNames(s: Service): string[] {
  return (s.secrets ?? []).map((x) => (typeof x === 'string' ? x : x.source));
}

/** Environment variables that would put a secret value into the environment. */
function literalSecrets(compose: Compose): string[] {
  const found: string[] = [];
  for (const [name, s] of Object.entries(compose.services)) {
    for (const [key, raw] of Object.entries(s.environment ?? {})) {
      const value = raw ?? '';
      const where = `${name}.${key}`;
      if (/(PASSWORD|PASSPHRASE|SECRET|TOKEN|_KEY|CERT)$/i.test(key))
        found.push(`${where}: secret-named variable`);
      if (/^rediss?:\/\/[^/@]*:[^/@]+@/.test(value)) found.push(`${where}: password in URL`);
      if (/BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)/.test(value)) found.push(`${where}: PEM in value`);
      if (/^[A-Za-z0-9+/]{40,}={0,2}$/.test(value)) found.push(`${where}: key-like value`);
      // AUDIT_LOG_FILE is where audit lines go (an output), not a secret read in.
      if (key.endsWith('_FILE') && key !== 'AUDIT_LOG_FILE') {
        const m = /^\/run\/secrets\/([\w.-]+)$/.exec(value);
        if (!m) found.push(`${where}: not a /run/secrets path`);
        else if (!secretNames(s).includes(m[1]!)) found.push(`${where}: secret ${m[1]} not mounted`);
      }
    }
  }
  return found;
}

describeWithTools('docker-compose.yml', [tools.dockerCompose], () => {
  let dir: string;
  let compose: Compose;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'utskick-compose-'));
    // Placeholder secret files (docker-compose may check they exist); never real values.
    for (const f of secretFiles) writeFileSync(join(dir, f), 'placeholder\n');
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, UTSKICK_SECRETS_DIR: dir },
      timeout: 15_000,
    });
    expect(r.error, 'docker-compose could not run: apt-get install docker-compose').toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    writeFileSync(join(dir, 'resolved.yml'), r.stdout);
    compose = readYaml(join(dir, 'resolved.yml')) as Compose;
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('docker-compose config accepts it, and refuses a broken copy', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['audit-retention', 'cli', 'ops', 'prometheus', 'redis', 'simulator', 'worker-1', 'worker-2'].sort(),
    );
    const broken = readFileSync(join(root, 'docker-compose.yml'), 'utf8').replace(
      'condition: service_healthy',
      'condition: when_it_feels_like_it',
    );
    writeFileSync(join(dir, 'broken.yml'), broken);
    const r = spawnSync('docker-compose', ['-f', join(dir, 'broken.yml'), 'config', '-q'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, UTSKICK_SECRETS_DIR: dir },
    });
    expect(r.status).not.toBe(0);
  });

  it('redis is pinned, runs config/redis.conf with AOF, noeviction and the ACL file as a secret', () => {
    const redis = compose.services.redis!;
    expect(redis.image).toMatch(/^redis:7\.\d+\.\d+(-[a-z0-9.-]+)?$/);
    expect(redis.command).toBe('redis-server /usr/local/etc/redis/redis.conf');
    expect(redis.volumes).toContainEqual(
      expect.stringMatching(/\/config\/redis\.conf:\/usr\/local\/etc\/redis\/redis\.conf:ro$/),
    );
    expect(secretNames(redis)).toEqual(['redis_users_acl']);
    expect(redis.healthcheck?.test).toBeDefined();

    const conf = readFileSync(join(root, 'config/redis.conf'), 'utf8');
    const directive = (name: string) =>
      conf
        .split('\n')
        .find((l) => l.trim().startsWith(`${name} `))
        ?.trim()
        .slice(name.length + 1);
    expect(directive('appendonly')).toBe('yes');
    expect(directive('maxmemory-policy')).toBe('noeviction');
    expect(directive('aclfile')).toBe('/run/secrets/redis_users_acl');
  });

  it('runs two workers from the Dockerfile with file secrets and the worker Redis user', () => {
    const workers = Object.keys(compose.services).filter((n) => /^worker-\d+$/.test(n));
    expect(workers).toEqual(['worker-1', 'worker-2']);
    for (const name of workers) {
      const w = compose.services[name]!;
      expect(w.build?.dockerfile).toBe('Dockerfile');
      expect(w.command).toBeUndefined();
      const env = w.environment ?? {};
      expect(env.REDIS_URL).toBe('redis://utskick-worker@redis:6379');
      expect(env.REDIS_PASSWORD_FILE).toBe('/run/secrets/redis_worker_password');
      expect(env.UTSKICK_DATA_KEY_FILE).toBe('/run/secrets/utskick_data_key');
      expect(env.INBOX_URL).toBe('http://simulator:8080/inbox');
      expect(env.INBOX_ALLOW_INSECURE).toBe('true');
      for (const k of ['INBOX_TLS_CERT_FILE', 'INBOX_TLS_KEY_FILE', 'INBOX_TLS_CA_FILE'])
        expect(env[k]).toMatch(/^\/run\/secrets\//);
      expect(secretNames(w).sort()).toEqual(
        [
          'inbox_tls_ca',
          'inbox_tls_cert',
          'inbox_tls_key',
          'redis_worker_password',
          'utskick_data_key',
        ].sort(),
      );
      expect(w.depends_on).toMatchObject({
        redis: { condition: 'service_healthy' },
        simulator: { condition: 'service_healthy' },
      });
    }
    expect(compose.services.simulator?.command).toEqual([
      'node',
      'dist/scripts/simulator.js',
      '--port',
      '8080',
    ]);
    expect(compose.services.simulator?.healthcheck?.test).toBeDefined();
  });

  it('every secret is a file outside the repository, and no environment holds a secret value', () => {
    for (const [name, s] of Object.entries(compose.secrets)) {
      expect(s.file, name).toBeDefined();
      expect(s.file?.startsWith(dir), `${name}: ${s.file}`).toBe(true);
    }
    const raw = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    expect(raw).toMatch(/file: \$\{UTSKICK_SECRETS_DIR:-\.\/secrets\}\//);
    expect(literalSecrets(compose)).toEqual([]);
    for (const [name, s] of Object.entries(compose.services)) {
      for (const secret of secretNames(s))
        expect(compose.secrets[secret], `${name}: ${secret}`).toBeDefined();
    }
  });

  it('the secret check catches literal secrets', () => {
    const leaky: Compose = {
      secrets: {},
      services: {
        w: {
          environment: {
            REDIS_URL: 'redis://utskick-worker:hunter2@redis:6379',
            UTSKICK_DATA_KEY: 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=',
            INBOX_TLS_KEY_FILE: '/run/secrets/inbox_tls_key',
          },
        },
      },
    };
    expect(literalSecrets(leaky)).toEqual([
      'w.REDIS_URL: password in URL',
      'w.UTSKICK_DATA_KEY: secret-named variable',
      'w.UTSKICK_DATA_KEY: key-like value',
      'w.INBOX_TLS_KEY_FILE: secret inbox_tls_key not mounted',
    ]);
  });

  it('prometheus is pinned and mounts the config and rules read-only', () => {
    const prom = compose.services.prometheus!;
    expect(prom.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(prom.volumes).toContainEqual(
      expect.stringMatching(/\/config\/prometheus\.yml:\/etc\/prometheus\/prometheus\.yml:ro$/),
    );
    expect(prom.volumes).toContainEqual(
      expect.stringMatching(/\/config\/alerts\.yml:\/etc\/prometheus\/alerts\.yml:ro$/),
    );
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.image && !s.build) expect(s.image, name).not.toMatch(/:latest$|^[^:]+$/);
    }
  });

  it('the tool services use their own Redis users and only run when asked for', () => {
    expect(compose.services.cli?.environment?.REDIS_URL).toBe('redis://utskick-enqueue@redis:6379');
    expect(compose.services.ops?.environment?.REDIS_URL).toBe('redis://utskick-ops@redis:6379');
    expect(compose.services.cli?.profiles).toEqual(['tools']);
    expect(compose.services.ops?.profiles).toEqual(['tools']);
  });

  it('config/compose.dev.yml (the Redis the no-Redis message names) passes docker-compose config', () => {
    const r = spawnSync('docker-compose', ['-f', 'config/compose.dev.yml', 'config', '-q'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const dev = readYaml(join(root, 'config/compose.dev.yml')) as Compose;
    expect(Object.keys(dev.services)).toEqual(['redis']);
  });
});
