#!/usr/bin/env -S node --max-semi-space-size=2 --v8-pool-size=1
/** The `meridian` command: serve, check, explain, simulate, balance, dnssec keygen. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseWorkers } from '../config/load-config.js';
import { runCheck } from './check.js';
import { runServe } from './serve.js';
import { runExplain } from './explain.js';
import type { SimulateFlags } from './simulate.js';
import type { KeygenFlags, TimingFlags } from './dnssec.js';
import { VERSION } from '../version.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** --workers: a whole number 1..256, checked before anything starts. */
function workersArg(value: string): number {
  try {
    return parseWorkers(value, '--workers');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^--workers: /, ''));
  }
}

/** `--config` wins; else MERIDIAN_CONFIG (a container or unit sets one file for every command); else none. */
function withEnvConfig<T extends { config?: string }>(opts: T): T {
  const env = process.env.MERIDIAN_CONFIG;
  return opts.config !== undefined || !env ? opts : { ...opts, config: env };
}

const program = new Command().name('meridian').description('meridian: a global server load balancer (authoritative DNS with steering)').version(VERSION).showHelpAfterError();

program
  .command('serve', { isDefault: true })
  .description('serve the zones over UDP and TCP (the default command)')
  .option('-c, --config <file>', 'config file (YAML or JSON); see README "Configuration"; env MERIDIAN_CONFIG')
  .option('-z, --zones <dir>', 'zones folder (default: zones/ beside the config, or ./zones); env MERIDIAN_ZONES')
  .option(
    '-l, --listen <addr:port>',
    'address to serve UDP and TCP on, repeatable (default 127.0.0.1:5300 and [::1]:5300; 0.0.0.0 or [::] serve each interface address); env MERIDIAN_LISTEN=a,b',
    collect,
  )
  .option('-a, --admin <addr:port>', 'admin HTTP API address (default 127.0.0.1:5380; "off" for none); env MERIDIAN_ADMIN; tokens from config or MERIDIAN_ADMIN_TOKEN')
  .addOption(new Option('--log-level <level>', 'log level; env MERIDIAN_LOG_LEVEL').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
  .option('-w, --workers <n>', 'DNS worker processes sharing the sockets, 1..256 (default 1: no workers, one process); env MERIDIAN_WORKERS', workersArg)
  .option('--cluster <urls>', 'share zones, policies and drains with other nodes through NATS JetStream KV: nats://HOST:PORT[,…] (README "Cluster mode"); env MERIDIAN_CLUSTER')
  .action(async (opts: { config?: string; zones?: string; listen?: string[]; admin?: string; logLevel?: string; workers?: number; cluster?: string }) => {
    process.exitCode = await runServe(withEnvConfig(opts));
  });

program
  .command('check')
  .description('validate the config and every zone file without serving; prints file:line: message, exits 1 on any error')
  .option('-c, --config <file>', 'config file to validate; env MERIDIAN_CONFIG')
  .option('-z, --zones <dir>', 'zones folder to validate')
  .option('--parent-ds <file>', "the parent's DS records for the signed zones (one a line, as dig prints them): each must match a key, one a key that signs the DNSKEY RRset")
  .action((opts: { config?: string; zones?: string; parentDs?: string }) => {
    process.exitCode = runCheck(withEnvConfig(opts));
  });

program
  .command('explain')
  .description('show how a steered name is answered for a client: location found, what each filter kept and why, the addresses, TTL and ECS scope')
  .argument('<name>', 'the name, e.g. www.example.com')
  .argument('[type]', 'A or AAAA', 'A')
  .requiredOption('--client <ip[/prefix]>', 'client address; with /prefix, as if sent in EDNS Client Subnet')
  .option('-c, --config <file>', 'config file; env MERIDIAN_CONFIG')
  .option('-z, --zones <dir>', 'zones folder')
  .option('--json', 'print the trace as JSON')
  .action((name: string, type: string, opts: { client: string; config?: string; zones?: string; json?: boolean }) => {
    process.exitCode = runExplain(name, type, withEnvConfig(opts));
  });

program
  .command('simulate')
  .description(
    'what a change would do to answers: each target\'s share of every steered name now and after, per target, region and client continent, and the clients that would lose answers (see README "Simulate a change before making it")',
  )
  .option('--clients <file>', '"network weight" lines or a query log (JSON lines); default: the built-in sample, one /24 per country weighted by IPv4 space')
  .option('--drain <id>', 'drain a target (id, zone/id or id@zone), repeatable', collect)
  .option('--undrain <id>', 'undrain a target, repeatable', collect)
  .option('--down <id>', "a target's probe fails, repeatable", collect)
  .option('--up <id>', "a target's probe recovers, repeatable", collect)
  .option('--policy <file>', 'a changed policy file (<zone>.policy.yaml), validated as the server loads it')
  .option('--zone <zone>', 'the zone of --policy when its file name does not say')
  .option('--type <type>', 'A or AAAA', 'A')
  .option('-c, --config <file>', 'config file (zones, GeoIP databases, health state file); env MERIDIAN_CONFIG')
  .option('-z, --zones <dir>', 'zones folder')
  .option('--json', 'print JSON')
  .action(async (opts: SimulateFlags) => {
    // Loaded on use: the other commands do not pay for the simulation and its sample at start.
    const { runSimulate } = await import('./simulate.js');
    process.exitCode = await runSimulate(withEnvConfig(opts));
  });

const dnssec = program.command('dnssec').description('DNSSEC keys (see README "DNSSEC")');
/** The timing options of keygen and settime, as dnssec-keygen's -P -A -I -D and -P sync / -D sync. */
function timingOptions(c: Command): Command {
  const time = 'YYYYMMDDHHMMSS (UTC), now, +N or -N with a unit s, mi, h, d, w, mo, y (from now), or none';
  return c
    .option('-P, --publish <time>', `when the key enters the DNSKEY RRset: ${time}`)
    .option('-A, --activate <time>', `when it starts signing: ${time}`)
    .option('-I, --inactive <time>', `when it stops signing: ${time}`)
    .option('-D, --delete <time>', `when it leaves the DNSKEY RRset: ${time}`)
    .option('--sync-publish <time>', `when it is offered as CDS/CDNSKEY (a SEP key): ${time}`)
    .option('--sync-delete <time>', `when it stops being offered as CDS/CDNSKEY: ${time}`);
}
timingOptions(
  dnssec
    .command('keygen')
    .description(
      'make a signing key for ZONE: K<zone>.+<alg>+<tag>.key and .private (mode 0600), as BIND names them; prints the DS record for the parent. Published and active at once unless the timing options say otherwise',
    )
    .argument('<zone>', 'the zone, e.g. example.com')
    .option('--algorithm <alg>', 'ECDSAP256SHA256 (13) or ED25519 (15)', 'ECDSAP256SHA256')
    .option('--key-dir <dir>', 'folder to write the files into (made if missing)', 'keys')
    .option('--zsk', 'a zone-signing key (flags 256) for a KSK/ZSK split; default a combined or key-signing key (257)'),
).action(async (zone: string, opts: KeygenFlags) => {
  const { runKeygen } = await import('./dnssec.js');
  process.exitCode = runKeygen(zone, opts);
});
timingOptions(
  dnssec
    .command('settime')
    .description("change a key's timing fields (as dnssec-settime): KEY is its .key or .private file, or the name without either; serve picks the change up by itself")
    .argument('<key>', 'e.g. keys/Kexample.com.+013+43996'),
).action(async (key: string, opts: TimingFlags) => {
  const { runSettime } = await import('./dnssec.js');
  process.exitCode = runSettime(key, opts);
});

program
  .command('balance')
  .description('run the regional L7 balancer: an HTTP reverse proxy over a region\'s backends (see README "Regional balancer"); SIGHUP reloads the config')
  .requiredOption('-c, --config <file>', 'balancer config file (YAML or JSON)')
  .option('-w, --workers <n>', 'worker processes sharing the proxy port (node:cluster); the admin listener stays in the primary', '1')
  .addOption(new Option('--log-level <level>', 'log level; env MERIDIAN_LOG_LEVEL').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
  .action(async (opts: { config: string; workers?: string; logLevel?: string }) => {
    // Loaded on use: only the balancer needs undici, which does not load on Node before 22.15
    // (zstd), so `serve` still starts on an older Node (tools/bench-workers.ts --compare-node).
    const { runBalance } = await import('./balance.js');
    process.exitCode = await runBalance(opts);
  });

const cluster = program.command('cluster').description('cluster mode\'s store (NATS JetStream KV; README "Cluster mode"): its zones and policies as files, and back');
cluster
  .command('export <dir>')
  .description('write every zone of the store (and its policy) into <dir> as <zone>.zone and <zone>.policy.yaml')
  .option('-c, --config <file>', 'config file (cluster:); env MERIDIAN_CONFIG')
  .option('--cluster <urls>', 'NATS servers, nats://HOST:PORT[,…]; env MERIDIAN_CLUSTER')
  .action(async (dir: string, opts: { config?: string; cluster?: string }) => {
    const { runClusterExport } = await import('./cluster.js');
    process.exitCode = await runClusterExport(dir, withEnvConfig(opts));
  });
cluster
  .command('import <dir>')
  .description('load <dir> as the server would (any error refuses it all), then write each zone and its policy to the store; every node applies them')
  .option('-c, --config <file>', 'config file (cluster:); env MERIDIAN_CONFIG')
  .option('--cluster <urls>', 'NATS servers, nats://HOST:PORT[,…]; env MERIDIAN_CLUSTER')
  .action(async (dir: string, opts: { config?: string; cluster?: string }) => {
    const { runClusterImport } = await import('./cluster.js');
    process.exitCode = await runClusterImport(dir, withEnvConfig(opts));
  });

await program.parseAsync(process.argv);
