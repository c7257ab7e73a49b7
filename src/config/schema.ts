import { Type, type Static } from '@sinclair/typebox';
import { Keyed } from './keyed-record.js';

/** The default health.stateFile; its folder is also where the audit file goes by default. */
export const DEFAULT_HEALTH_STATE_FILE = '.meridian-state/health.json';

/**
 * Internet-facing protection (README "Internet-facing protection"): NSID, DNS cookies,
 * response rate limiting and the query log. Kept in one block, spread into `dns` below.
 */
const InternetFacing = {
  nsid: Type.Union([Type.String({ minLength: 1, maxLength: 258, pattern: '^(0[xX]([0-9a-fA-F]{2}){1,128}|(?!0[xX]).{1,128})$' }), Type.Null()], {
    default: null,
    description: 'NSID (RFC 5001) sent to queries that ask: text (up to 128 characters) or 0x and hex; null: none',
  }),
  cookies: Type.Object(
    {
      enabled: Type.Boolean({ default: false, description: 'answer DNS cookies (RFC 7873) with RFC 9018 server cookies' }),
      secret: Type.Union([Type.String({ pattern: '^[0-9a-fA-F]{32}$' }), Type.Null()], {
        default: null,
        description: '16 octets as 32 hex digits, the same on every server of an anycast set; null: random at start (shared by the workers)',
      }),
      previousSecret: Type.Union([Type.String({ pattern: '^[0-9a-fA-F]{32}$' }), Type.Null()], {
        default: null,
        description: 'the secret before the last rollover: its cookies stay valid (for an hour) but are replaced',
      }),
    },
    { default: {}, additionalProperties: false },
  ),
  rrl: Type.Object(
    {
      enabled: Type.Boolean({ default: false, description: 'response rate limiting over UDP (Knot/BIND RRL)' }),
      responsesPerSecond: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 20, description: 'answers per second to one client network, per name and kind of answer (per DNS worker)' }),
      slip: Type.Integer({ minimum: 0, maximum: 100, default: 2, description: 'every slip-th limited answer goes out truncated (TC=1) or as BADCOOKIE; 0 drops them all' }),
      windowSec: Type.Integer({ minimum: 1, maximum: 3600, default: 15, description: 'a client that went over stays limited up to this long after it stops' }),
      ipv4PrefixLength: Type.Integer({ minimum: 0, maximum: 32, default: 24 }),
      ipv6PrefixLength: Type.Integer({ minimum: 0, maximum: 128, default: 56 }),
      tableSize: Type.Integer({ minimum: 4, maximum: 16_777_216, default: 65_536, description: 'buckets kept (fixed memory, about 24 bytes each)' }),
    },
    { default: {}, additionalProperties: false },
  ),
  queryLog: Type.Object(
    {
      path: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'file to append JSON lines to ("-": standard output), relative to the working folder; null: off' }),
      sample: Type.Number({ minimum: 0, maximum: 1, default: 1, description: 'share of queries logged' }),
      maxPending: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000, description: 'lines queued while the sink is busy; more are dropped and counted' }),
      flushMs: Type.Integer({ minimum: 1, maximum: 10_000, default: 200, description: 'how often queued lines are written' }),
    },
    { default: {}, additionalProperties: false },
  ),
};

/**
 * Online DNSSEC signing (README "DNSSEC"), per zone: the zone's name as key (no leading "_",
 * which also keeps out `__proto__`).
 */
export const ZONE_KEY_PATTERN = '^(?!_)([A-Za-z0-9_-]{1,63}\\.)*[A-Za-z0-9_-]{1,63}\\.?$';
const Dnssec = Type.Object(
  {
    zones: Keyed(
      Type.String({ pattern: ZONE_KEY_PATTERN, description: 'zone name, e.g. example.com' }),
      Type.Object(
        {
          enabled: Type.Boolean({ default: true, description: "sign the zone's answers to DO=1 queries" }),
          algorithm: Type.Union([Type.Literal('ECDSAP256SHA256'), Type.Literal('ED25519')], { default: 'ECDSAP256SHA256', description: 'the algorithm of the keys used (13 or 15)' }),
          keyDir: Type.String({ minLength: 1, default: 'keys', description: 'folder of the BIND K<zone>.+<alg>+<tag>.key/.private files, relative to the config file' }),
          split: Type.Boolean({
            default: false,
            description: 'KSK/ZSK split: keys with the SEP flag (257) sign only the DNSKEY, CDS and CDNSKEY RRsets, the others (256) the rest; false: every active key signs everything',
          }),
          // An enum, not a union of literals: a wrong value reads "must be one of compact, nsec".
          denial: Type.Unsafe<'compact' | 'nsec'>({
            type: 'string',
            enum: ['compact', 'nsec'],
            default: 'compact',
            description:
              'denial of existence: compact (RFC 9824 black lies: NOERROR with an NSEC at the name, NXNAME for a name that does not exist) or nsec (RFC 4470 white lies: NXDOMAIN with NSECs covering only the name and the wildcard); neither lets the zone be walked',
          }),
        },
        { additionalProperties: false },
      ),
      { default: {} },
    ),
    validityDays: Type.Integer({ minimum: 2, maximum: 365, default: 14, description: 'signatures expire this long after they are made (less up to a day of jitter)' }),
    refreshDays: Type.Integer({ minimum: 1, maximum: 364, default: 7, description: 'a signature with less than this left is made afresh; below validityDays' }),
  },
  { default: {}, additionalProperties: false },
);

/** Every knob with its type, default and bounds (as gdnsd documents them); README lists the same. */
export const ConfigSchema = Type.Object(
  {
    dns: Type.Object(
      {
        listen: Type.Array(Type.String({ description: 'ADDR:PORT; IPv6 as [::1]:5300; UDP and TCP on each; 0.0.0.0 or [::] serve each interface address' }), {
          default: ['127.0.0.1:5300', '[::1]:5300'],
          minItems: 1,
        }),
        interfaceScanMs: Type.Integer({
          minimum: 0,
          maximum: 86_400_000,
          default: 60_000,
          description: 'how often a wildcard listen address (0.0.0.0, [::]) re-reads the interface addresses; 0: only at start and on SIGHUP',
        }),
        udpPayloadSize: Type.Integer({ minimum: 512, maximum: 4096, default: 1232, description: 'EDNS UDP payload size we advertise and send up to' }),
        cacheMaxEntries: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 100_000, description: 'encoded answers (and steering decisions) kept per snapshot; 0 disables the caches' }),
        workers: Type.Integer({ minimum: 1, maximum: 256, default: 1, description: 'DNS worker processes sharing the sockets (node:cluster); 1 answers in the main process' }),
        reusePort: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')], {
          default: 'auto',
          description:
            'with workers > 1: each worker binds its own UDP and TCP sockets (SO_REUSEPORT) and the kernel spreads queries; off: one socket shared through node:cluster; auto: on where supported (Linux)',
        }),
        udpSocket: Type.Union([Type.Literal('auto'), Type.Literal('native'), Type.Literal('dgram')], {
          default: 'auto',
          description:
            'UDP socket layer: native (recvmmsg/sendmmsg batches, each answer from the address its query was sent to; Linux, built at install), dgram (node:dgram), auto: native where it loads, else dgram (logged once)',
        }),
        tcp: Type.Object(
          {
            idleTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
            messageTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5_000 }),
            maxConnections: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1_000, description: 'open at once in a process, over every listen address' }),
            maxConnectionsPerClient: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 16, description: 'open at once from one IPv4 address or IPv6 /64' }),
          },
          { default: {}, additionalProperties: false },
        ),
        chaos: Type.Object(
          {
            version: Type.Union([Type.String({ maxLength: 255 }), Type.Null()], { default: null, description: 'answer to version.bind / version.server CH TXT; null refuses' }),
            identity: Type.Union([Type.String({ maxLength: 255 }), Type.Null()], { default: null, description: 'answer to id.server / hostname.bind CH TXT; null refuses' }),
          },
          { default: {}, additionalProperties: false },
        ),
        transfer: Type.Object(
          {
            allow: Type.Array(Type.String({ minLength: 1, maxLength: 64, description: 'an address (192.0.2.1, 2001:db8::1) or a prefix (192.0.2.0/24)' }), {
              default: [],
              maxItems: 10_000,
              description: 'clients allowed AXFR and IXFR of every zone over TCP; everyone else is refused as knotd refuses them (empty: nobody)',
            }),
            keys: Type.Array(
              Type.Object(
                {
                  name: Type.String({ minLength: 1, maxLength: 253, description: 'the key name both sides use, e.g. xfr.example.' }),
                  algorithm: Type.Union([Type.Literal('hmac-sha256'), Type.Literal('hmac-sha512')], { default: 'hmac-sha256' }),
                  secret: Type.Optional(Type.String({ minLength: 4, maxLength: 1024, pattern: '^[A-Za-z0-9+/]+={0,2}$', description: 'the shared secret in base64' })),
                  secretFile: Type.Optional(Type.String({ minLength: 1, description: 'a file holding the base64 secret (relative to the config file); instead of secret' })),
                },
                { additionalProperties: false },
              ),
              { default: [], maxItems: 1000, description: 'TSIG keys (RFC 8945); when any is listed, a transfer also needs a valid signature with one of them' },
            ),
            notify: Type.Array(Type.String({ minLength: 1, maxLength: 64, description: 'ADDR:PORT of a secondary; IPv6 as [2001:db8::53]:53' }), {
              default: [],
              maxItems: 1000,
              description: 'secondaries sent a NOTIFY (RFC 1996) for every zone at start and on each serial change',
            }),
            catalog: Type.Union([Type.String({ minLength: 1, maxLength: 253, description: 'e.g. catalog.invalid.' }), Type.Null()], {
              default: null,
              description: 'the name of a catalog zone (RFC 9432, version 2) listing every zone served, transferred like them; null: none',
            }),
          },
          { default: {}, additionalProperties: false },
        ),
        ...InternetFacing,
        dnssec: Dnssec,
      },
      { default: {}, additionalProperties: false },
    ),
    zones: Type.Object(
      {
        directory: Type.String({ default: 'zones', description: 'folder of <zone>.zone files; relative to the config file' }),
        watch: Type.Boolean({ default: true, description: 'reload changed zone files by themselves' }),
        debounceMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 300 }),
        journal: Type.Object(
          {
            compactDelayMs: Type.Integer({ minimum: 0, maximum: 86_400_000, default: 5_000, description: 'rewrite a zone file with its journal applied this long after the last admin write' }),
            compactBytes: Type.Integer({ minimum: 0, maximum: 1 << 30, default: 64 << 20, description: 'or as soon as the journal holds this many bytes' }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    geoip: Type.Object(
      {
        location: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
          default: 'geoip/geo-whois-asn-country.mmdb',
          description: 'MMDB with locations: GeoIP2/GeoLite2 City or Country, DB-IP, or a flat country_code DB; null: no geolocation',
        }),
        asn: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'MMDB with ASNs (GeoLite2-ASN); null: none' }),
        watch: Type.Boolean({ default: true, description: 'reload a database file when it changes (SIGHUP always reloads)' }),
        debounceMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 1_000, description: 'wait this long after the last change to a database file before reloading it' }),
      },
      { default: {}, additionalProperties: false },
    ),
    health: Type.Object(
      {
        stateFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
          default: DEFAULT_HEALTH_STATE_FILE,
          description: 'where health state is kept across restarts (relative to the working folder); null: not kept',
        }),
        startupWaitMs: Type.Integer({ minimum: 0, maximum: 120_000, default: 5_000, description: 'how long start-up waits for the first probe round before serving' }),
        concurrency: Type.Integer({ minimum: 1, maximum: 10_000, default: 64, description: 'probes in flight at once, over all targets' }),
        failoverBudgetSec: Type.Integer({ minimum: 1, maximum: 86_400, default: 45, description: '`check` warns when a name may take longer to fail over' }),
        quorum: Type.Union([Type.Integer({ minimum: 1, maximum: 64 }), Type.Null()], {
          default: null,
          description: 'cluster mode: a target is down everywhere when this many nodes (of those that reported within 2 × cluster.healthReportMs) see it down; null: a majority of them',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    admin: Type.Object(
      {
        listen: Type.Union([Type.String({ minLength: 3 }), Type.Null()], {
          default: '127.0.0.1:5380',
          description: 'ADDR:PORT of the admin HTTP API; null: no API. Off loopback it needs a token.',
        }),
        tokens: Type.Array(
          Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 64 }),
              token: Type.String({ minLength: 16, description: 'at least 16 characters' }),
              access: Type.Union([Type.Literal('read'), Type.Literal('write')]),
            },
            { additionalProperties: false },
          ),
          { default: [] },
        ),
        allowedHosts: Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:_\\[\\]-]+$' }), {
          default: [],
          description: 'without a token: Host names besides the listen address (and localhost on loopback) a browser may use',
        }),
        audit: Type.Object(
          {
            file: Type.Optional(
              Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
                description: 'JSON lines, one per change, fsynced before the 2xx (relative to the working folder); absent: audit.log beside health.stateFile; null: the log only',
              }),
            ),
            maxBytes: Type.Integer({ minimum: 4096, maximum: 2 ** 40, default: 10 * 1024 * 1024, description: 'rotate when the file would grow past this' }),
            keep: Type.Integer({ minimum: 0, maximum: 1000, default: 10, description: 'rotated files kept (audit.log.1 …)' }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    cluster: Type.Object(
      {
        servers: Type.Array(Type.String({ minLength: 1, pattern: '^(nats|tls)://[^\\s,/]+$', description: 'nats://HOST:PORT or tls://HOST:PORT' }), {
          default: [],
          maxItems: 64,
          description: 'NATS servers of the cluster store (any of them; the client learns the rest); empty: one node, files only',
        }),
        bucket: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'meridian', description: 'the JetStream KV bucket the nodes share' }),
        replicas: Type.Integer({ minimum: 1, maximum: 5, default: 1, description: 'copies of the bucket when this node creates it; 3 on a 3-server NATS cluster, so one server can be lost' }),
        node: Type.Union([Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), Type.Null()], { default: null, description: "this node's name in the cluster; null: the host name" }),
        credentials: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'a NATS .creds file (user JWT and NKey seed), read at each connect' }),
        token: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'a NATS token' }),
        user: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
        password: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
        tls: Type.Object(
          {
            caFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'CA bundle to verify the servers by; null: the system roots' }),
            certFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'client certificate (mutual TLS)' }),
            keyFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: "the client certificate's key" }),
          },
          { default: {}, additionalProperties: false, description: 'TLS to the NATS servers: any file set (or a tls:// URL) asks for it' },
        ),
        healthReportMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 2_000, description: "how often this node reports its targets' health to the others (and at once on a change)" }),
        writeTimeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 5_000, description: 'a write the store has not acknowledged by then is answered 503' }),
        pingIntervalMs: Type.Integer({ minimum: 500, maximum: 600_000, default: 5_000, description: 'a silent server is given up after two missed pings' }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')], {
          default: 'info',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
