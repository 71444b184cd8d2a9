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
  user?: string;
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
  'redis_replication_password',
  'redis_sentinel_password',
  'redis_sentinel_client_password',
  'sentinel-users.acl',
  'inbox_tls_cert.pem',
  'inbox_tls_key.pem',
  'inbox_tls_ca.pem',
];

const allProfiles = ['--profile', 'tools', '--profile', 'ha', '--profile', 'ha-tools'];
const haServices = [
  'redis-primary',
  'redis-replica',
  'redis-sentinel-1',
  'redis-sentinel-2',
  'redis-sentinel-3',
  'worker-ha-1',
  'worker-ha-2',
];
const haTools = ['cli-ha', 'ops-ha', 'audit-retention-ha'];

function secretNames(s: Service): string[] {
  return (s.secrets ?? []).map((x) => (typeof x === 'string' ? x : x.source));
}

const asText = (x: string | string[] | undefined) => (Array.isArray(x) ? x.join(' ') : (x ?? ''));

/**
 * A password on a command line (the service's command or its healthcheck):
 * redis-cli -a/--pass, a server's --requirepass/--masterauth, or REDISCLI_AUTH
 * set to anything but the contents of a mounted secret file.
 */
function commandSecrets(name: string, s: Service): string[] {
  const found: string[] = [];
  for (const [what, text] of [
    ['command', asText(s.command)],
    ['healthcheck', asText(s.healthcheck?.test)],
  ] as const) {
    const where = `${name}.${what}`;
    if (/(^|\s)(-a|--pass|--requirepass|--masterauth|--sentinel-pass)(\s|=|$)/.test(text))
      found.push(`${where}: password option`);
    for (const m of text.matchAll(/REDISCLI_AUTH=("[^"]*"|\S*)/g)) {
      const file = /^"?\$\$?\(cat \/run\/secrets\/([\w.-]+)\)"?$/.exec(m[1]!);
      if (!file) found.push(`${where}: REDISCLI_AUTH not read from a secret file`);
      else if (!secretNames(s).includes(file[1]!)) found.push(`${where}: secret ${file[1]} not mounted`);
    }
  }
  return found;
}

/** Environment variables (or commands) that would put a secret value into the environment or argv. */
function literalSecrets(compose: Compose): string[] {
  const found: string[] = [];
  for (const [name, s] of Object.entries(compose.services)) {
    found.push(...commandSecrets(name, s));
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
    // Every profile, so the resolved file holds every service whichever docker compose runs it.
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...allProfiles, 'config'], {
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
      [
        'audit-retention',
        'cli',
        'ops',
        'prometheus',
        'redis',
        'simulator',
        'worker-1',
        'worker-2',
        ...haServices,
        ...haTools,
      ].sort(),
    );
    // The plain `docker compose up` is unchanged: only the ha set and the tools have profiles.
    const profiled = Object.entries(compose.services).filter(([, s]) => s.profiles);
    expect(profiled.map(([n]) => n).sort()).toEqual(
      ['audit-retention', 'cli', 'ops', ...haServices, ...haTools].sort(),
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
        r: {
          command: ['redis-server', '/etc/redis.conf', '--masterauth', 'hunter2'],
          healthcheck: { test: ['CMD-SHELL', 'REDISCLI_AUTH=hunter2 redis-cli ping'] },
        },
        s: {
          command: 'redis-cli -a hunter2 ping',
          secrets: ['redis_sentinel_password'],
          healthcheck: {
            test: [
              'CMD-SHELL',
              'REDISCLI_AUTH="$$(cat /run/secrets/redis_replication_password)" redis-cli ping',
            ],
          },
        },
      },
    };
    expect(literalSecrets(leaky)).toEqual([
      'w.REDIS_URL: password in URL',
      'w.UTSKICK_DATA_KEY: secret-named variable',
      'w.UTSKICK_DATA_KEY: key-like value',
      'w.INBOX_TLS_KEY_FILE: secret inbox_tls_key not mounted',
      'r.command: password option',
      'r.healthcheck: REDISCLI_AUTH not read from a secret file',
      's.command: password option',
      's.healthcheck: secret redis_replication_password not mounted',
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

  it('docker-compose --profile ha config accepts it', () => {
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', '--profile', 'ha', 'config', '-q'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, UTSKICK_SECRETS_DIR: dir },
      timeout: 15_000,
    });
    expect(r.status, r.stderr).toBe(0);
  });

  it('the ha profile runs a primary, a replica, three Sentinels and two workers', () => {
    const inHa = Object.entries(compose.services)
      .filter(([, s]) => s.profiles?.includes('ha'))
      .map(([n]) => n);
    expect(inHa.sort()).toEqual([...haServices].sort());
    for (const name of haTools) expect(compose.services[name]?.profiles, name).toEqual(['ha-tools']);

    const redisImage = compose.services.redis!.image;
    const script = (s: Service) => asText(s.command);
    for (const name of ['redis-primary', 'redis-replica']) {
      const node = compose.services[name]!;
      expect(node.image, name).toBe(redisImage);
      expect(node.user, name).toBe('redis');
      expect(script(node), name).toMatch(
        new RegExp(`^sh /usr/local/etc/redis/redis-ha-node\\.sh ${name}\\b`),
      );
      // The same hardening as redis: config/redis.conf, the same ACL file, plus the replication password.
      expect(node.volumes, name).toContainEqual(
        expect.stringMatching(/\/config\/redis\.conf:\/usr\/local\/etc\/redis\/redis\.conf:ro$/),
      );
      expect(node.volumes, name).toContainEqual(expect.stringMatching(new RegExp(`^${name}-data:/data`)));
      expect(secretNames(node).sort(), name).toEqual(['redis_replication_password', 'redis_users_acl']);
      expect(node.healthcheck?.test, name).toBeDefined();
    }
    expect(script(compose.services['redis-replica']!)).toMatch(/ redis-replica redis-primary$/);

    const sentinelConf = readFileSync(join(root, 'config/sentinel.conf'), 'utf8');
    expect(sentinelConf).toMatch(/^sentinel resolve-hostnames yes$/m);
    expect(sentinelConf).toMatch(/^sentinel announce-hostnames yes$/m);
    expect(sentinelConf).toMatch(/^sentinel monitor utskick redis-primary 6379 2$/m);
    expect(sentinelConf).toMatch(/^aclfile \/run\/secrets\/sentinel_users_acl$/m);
    for (const name of ['redis-sentinel-1', 'redis-sentinel-2', 'redis-sentinel-3']) {
      const s = compose.services[name]!;
      expect(s.image, name).toBe(redisImage);
      expect(script(s), name).toBe(`sh /usr/local/etc/redis/redis-sentinel.sh ${name}`);
      // Sentinel rewrites its config: a copy in a volume of its own, the template read-only.
      expect(s.volumes, name).toContainEqual(expect.stringMatching(new RegExp(`^${name}-data:/data`)));
      expect(s.volumes, name).toContainEqual(
        expect.stringMatching(/\/config\/sentinel\.conf:\/usr\/local\/etc\/redis\/sentinel\.conf:ro$/),
      );
      expect(secretNames(s).sort(), name).toEqual(['redis_sentinel_password', 'sentinel_users_acl']);
      expect(s.healthcheck?.test, name).toBeDefined();
    }
  });

  it('the ha Redis containers get passwords from files only, written into their configs at start', () => {
    for (const file of ['config/redis-ha-node.sh', 'config/redis-sentinel.sh']) {
      const text = readFileSync(join(root, file), 'utf8');
      const starts = text.split('\n').filter((l) => /\bredis-server\b/.test(l) && !l.trim().startsWith('#'));
      expect(starts, file).toEqual([expect.stringMatching(/^exec redis-server "\$conf"( --sentinel)?$/)]);
      expect(text, file).toMatch(/\$\(cat \/run\/secrets\/redis_(replication|sentinel)_password\)/);
    }
    const node = readFileSync(join(root, 'config/redis-ha-node.conf'), 'utf8');
    expect(node).toMatch(/^masteruser utskick-replication$/m);
    expect(node).not.toMatch(/^masterauth /m);
  });

  it('the ACL files give replication and the Sentinels their users, with placeholder hashes only', () => {
    const acl = readFileSync(join(root, 'config/redis-users.acl'), 'utf8');
    const line = (text: string, user: string) => text.split('\n').find((l) => l.startsWith(`user ${user} `));
    expect(line(acl, 'utskick-replication')).toBe(
      `user utskick-replication on #${'0'.repeat(64)} resetkeys resetchannels -@all +psync +replconf +ping`,
    );
    const sentinel = line(acl, 'utskick-sentinel')?.split(' ') ?? [];
    for (const grant of ['+multi', '+slaveof', '+ping', '+exec', '+subscribe', '+config|rewrite', '+role'])
      expect(sentinel, grant).toContain(grant);
    for (const grant of ['+publish', '+info', '+client|setname', '+client|kill', '+script|kill'])
      expect(sentinel, grant).toContain(grant);
    expect(sentinel).toContain('&__sentinel__:hello');
    expect(sentinel.filter((w) => w.startsWith('~') || w === 'allkeys' || w === 'allchannels')).toEqual([]);

    const sentinelAcl = readFileSync(join(root, 'config/sentinel-users.acl'), 'utf8');
    const users = sentinelAcl.split('\n').filter((l) => l.trim());
    expect(users.map((l) => l.split(' ')[1])).toEqual([
      'default',
      'utskick-sentinel',
      'utskick-sentinel-client',
    ]);
    expect(sentinelAcl).toMatch(/^user default off resetpass /m);
    for (const u of ['utskick-sentinel', 'utskick-sentinel-client'])
      expect(sentinelAcl).toMatch(new RegExp(`^user ${u} on #0{64} `, 'm'));
    const client = line(sentinelAcl, 'utskick-sentinel-client')!;
    expect(client).not.toMatch(
      /\+@all|\+sentinel(\s|$)|\+sentinel\|(set|failover|remove|monitor|reset|config)\b/,
    );
    expect(client).toContain('+sentinel|get-master-addr-by-name');
  });

  it('the ha workers and tools find the primary through the Sentinels of this file, never REDIS_URL', () => {
    const sentinels = Object.entries(compose.services)
      .filter(([, s]) => asText(s.command).includes('redis-sentinel.sh'))
      .map(([n]) => n);
    expect(sentinels.sort()).toEqual(['redis-sentinel-1', 'redis-sentinel-2', 'redis-sentinel-3']);
    const viaSentinels = Object.entries(compose.services).filter(([, s]) => s.environment?.REDIS_SENTINELS);
    expect(viaSentinels.map(([n]) => n).sort()).toEqual(['worker-ha-1', 'worker-ha-2', ...haTools].sort());
    const users: Record<string, string> = {
      'worker-ha-1': 'utskick-worker',
      'worker-ha-2': 'utskick-worker',
      'cli-ha': 'utskick-enqueue',
      'ops-ha': 'utskick-ops',
      'audit-retention-ha': 'utskick-audit-retention',
    };
    for (const [name, s] of viaSentinels) {
      const env = s.environment!;
      expect(env, name).not.toHaveProperty('REDIS_URL');
      expect(env.REDIS_SENTINEL_MASTER, name).toBe('utskick');
      expect(env.REDIS_USERNAME, name).toBe(users[name]);
      expect(env.REDIS_PASSWORD_FILE, name).toMatch(/^\/run\/secrets\/redis_\w+_password$/);
      expect(env.REDIS_SENTINEL_USERNAME, name).toBe('utskick-sentinel-client');
      expect(env.REDIS_SENTINEL_PASSWORD_FILE, name).toBe('/run/secrets/redis_sentinel_client_password');
      for (const entry of env.REDIS_SENTINELS!.split(',')) {
        const [host, port] = entry.split(':');
        expect(sentinels, `${name}: ${entry}`).toContain(host);
        expect(port, `${name}: ${entry}`).toBe('26379');
      }
      expect(env.REDIS_SENTINELS!.split(',').length, name).toBe(sentinels.length);
      expect(Object.keys(s.depends_on ?? {}), name).toEqual(expect.arrayContaining(sentinels));
    }
    // The ha workers are worker-1 and worker-2 with the Sentinels instead of REDIS_URL.
    const { REDIS_URL: _url, ...single } = compose.services['worker-1']!.environment!;
    for (const name of ['worker-ha-1', 'worker-ha-2']) {
      const w = compose.services[name]!;
      const { REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_USERNAME, ...rest } = w.environment!;
      const { REDIS_SENTINEL_USERNAME, REDIS_SENTINEL_PASSWORD_FILE, ...same } = rest;
      expect(same, name).toEqual(single);
      expect(w.build?.dockerfile, name).toBe('Dockerfile');
      expect(w.command, name).toBeUndefined();
      expect(secretNames(w).sort(), name).toEqual(
        [...secretNames(compose.services['worker-1']!), 'redis_sentinel_client_password'].sort(),
      );
      expect(w.depends_on, name).toEqual({
        'redis-sentinel-1': { condition: 'service_healthy' },
        'redis-sentinel-2': { condition: 'service_healthy' },
        'redis-sentinel-3': { condition: 'service_healthy' },
        simulator: { condition: 'service_healthy' },
      });
    }
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
